// ECR JSON 1.1 request decoding (src/ecr/fields.* and every operation's
// request decoder in src/ecr/*.cc), behind a correctly signed request, against
// real stores in a scratch data directory.
//
// Input: the operation name (the X-Amz-Target suffix), a newline, the JSON
// body. The harness signs the request with a bootstrap admin key, so the
// fuzzer reaches the operations instead of the signature check. Before the
// first input it creates the repositories the corpus names (fuzz/app,
// library/ubuntu) and pushes an image to fuzz/app:latest through the API, so
// the decoders are followed into the operations rather than stopping at
// RepositoryNotFoundException. Upload ids are random, which no fuzzer can
// guess: an input that names the upload 00000000-0000-4000-8000-000000000000
// gets a fresh upload of fuzz/app in its place.
// Properties: EcrApi::handle never throws and always answers; the answer is a
// JSON object, with `__type` and `message` on errors; no input makes berth
// answer 500 (an error berth did not map is a bug in the operation).
#include <unistd.h>

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "app/stores.h"
#include "auth/access_control.h"
#include "auth/sigv4.h"
#include "core/base64.h"
#include "core/clock.h"
#include "ecr/ecr_api.h"
#include "fuzz_check.h"
#include "fuzz_exchange.h"
#include "log/log.h"
#include "registry/registry.h"

namespace {

namespace http = berth::server::http;

constexpr std::string_view kAccessKeyId = "AKIAFUZZFUZZFUZZFUZZ";
constexpr std::string_view kSecret = "fuzz/secret/key/that/is/long/enough0000";
constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerRegistry_V20150921.";
constexpr std::string_view kUploadPlaceholder = "00000000-0000-4000-8000-000000000000";
// The image of the corpus (its digests are the ones the seeds name).
constexpr std::string_view kConfigBlob =
    R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
constexpr std::string_view kLayerBlob = "layer-bytes-0123456789";

struct World {
  std::string dir;
  berth::app::Stores stores;
  std::unique_ptr<berth::Registry> registry;
  std::unique_ptr<berth::auth::AccessControl> access;
  std::unique_ptr<berth::server::Offloader> offload;
  std::unique_ptr<berth::ecr::EcrApi> api;
};

struct Answer {
  unsigned status = 0;
  boost::json::object body;
};

// Signs `body` as a call of ECR `operation`, hands it to the API and checks
// the properties every answer must have.
Answer call(berth::ecr::EcrApi& api, std::string_view operation, std::string body) {
  const std::string target = std::string(kTargetPrefix) + std::string(operation);
  berth::auth::SigV4Request sreq;
  sreq.method = "POST";
  sreq.raw_path = "/";
  sreq.headers = {{"Host", "127.0.0.1:5000"},
                  {"Content-Type", "application/x-amz-json-1.1"},
                  {"X-Amz-Target", target}};
  sreq.payload_sha256 = berth::auth::sha256_hex(body);
  auto signed_ok =
      berth::auth::sign_request(sreq, {std::string(kAccessKeyId), std::string(kSecret)},
                                "us-east-1", "ecr", berth::Clock::system().now_seconds());
  FUZZ_CHECK(signed_ok.is_ok());

  berth::server::RequestHeader header;
  header.method(http::verb::post);
  header.target("/");
  header.version(11);
  for (const auto& h : sreq.headers) header.insert(h.name, h.value);
  header.set(http::field::content_length, std::to_string(body.size()));

  berth::fuzz::FuzzExchange ex(header, std::move(body));
  ex.run([&api](berth::server::Exchange& e) { return api.handle(e); });

  FUZZ_CHECK(ex.sent());
  boost::system::error_code ec;
  auto answer = boost::json::parse(ex.response().body(), ec);
  FUZZ_CHECK(!ec && answer.is_object());
  if (ex.status() != 200) {
    FUZZ_CHECK(answer.as_object().contains("__type") && answer.as_object().contains("message"));
  }
  if (ex.status() >= 500) {
    std::fprintf(stderr, "%.*s answered %u: %s\n", static_cast<int>(operation.size()),
                 operation.data(), ex.status(), ex.response().body().c_str());
  }
  FUZZ_CHECK(ex.status() < 500);
  return Answer{ex.status(), std::move(answer.as_object())};
}

// A call that must succeed (setting the scene, not fuzzing).
boost::json::object must(berth::ecr::EcrApi& api, std::string_view operation,
                         const boost::json::object& body) {
  Answer a = call(api, operation, boost::json::serialize(body));
  if (a.status != 200) {
    std::fprintf(stderr, "setup: %.*s answered %u: %s\n", static_cast<int>(operation.size()),
                 operation.data(), a.status, boost::json::serialize(a.body).c_str());
  }
  FUZZ_CHECK(a.status == 200);
  return std::move(a.body);
}

std::string new_upload(berth::ecr::EcrApi& api) {
  auto answer = must(api, "InitiateLayerUpload", {{"repositoryName", "fuzz/app"}});
  FUZZ_CHECK(answer.contains("uploadId") && answer.at("uploadId").is_string());
  return std::string(answer.at("uploadId").as_string());
}

std::string push_blob(berth::ecr::EcrApi& api, std::string_view data) {
  const std::string id = new_upload(api);
  must(api, "UploadLayerPart",
       {{"repositoryName", "fuzz/app"},
        {"uploadId", id},
        {"partFirstByte", 0},
        {"partLastByte", static_cast<int64_t>(data.size()) - 1},
        {"layerPartBlob", berth::base64_encode(data)}});
  std::string digest = "sha256:" + berth::auth::sha256_hex(data);
  must(api, "CompleteLayerUpload",
       {{"repositoryName", "fuzz/app"},
        {"uploadId", id},
        {"layerDigests", boost::json::array{digest}}});
  return digest;
}

void set_scene(berth::ecr::EcrApi& api) {
  must(api, "CreateRepository", {{"repositoryName", "fuzz/app"}});
  must(api, "CreateRepository", {{"repositoryName", "library/ubuntu"}});
  const std::string config = push_blob(api, kConfigBlob);
  const std::string layer = push_blob(api, kLayerBlob);
  boost::json::object manifest{
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", config},
        {"size", kConfigBlob.size()}}},
      {"layers", boost::json::array{boost::json::object{
                     {"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                     {"digest", layer},
                     {"size", kLayerBlob.size()}}}}};
  must(api, "PutImage",
       {{"repositoryName", "fuzz/app"},
        {"imageManifest", boost::json::serialize(manifest)},
        {"imageManifestMediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"imageTag", "latest"}});
}

World& world() {
  static World* w = [] {
    berth::log::set_level("error");
    auto* w = new World;
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/berth-ecr-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(templ.data()) != nullptr);
    w->dir = templ;
    std::atexit([] { std::filesystem::remove_all(world().dir); });
    berth::app::Config config;
    config.data_dir = w->dir;
    config.sync_full = false;  // durability is not what is fuzzed here
    auto stores = berth::app::open_stores(config);
    FUZZ_CHECK(stores.is_ok());
    w->stores = std::move(*stores);
    auto boot = w->stores.identity->bootstrap(
        berth::identity::NewAccessKey{std::string(kAccessKeyId), std::string(kSecret)});
    FUZZ_CHECK(boot.is_ok());
    w->registry = std::make_unique<berth::Registry>(
        *w->stores.meta, *w->stores.blobs, berth::Clock::system(), berth::RegistryOptions{});
    w->access = std::make_unique<berth::auth::AccessControl>(true);
    berth::ecr::EcrOptions options;
    options.public_url = "http://127.0.0.1:5000";
    options.registry_host = "127.0.0.1:5000";
    options.max_body_bytes = 1 << 20;
    w->offload = std::make_unique<berth::server::Offloader>(
        berth::server::OffloadOptions{1, std::chrono::seconds(60)});
    w->api = std::make_unique<berth::ecr::EcrApi>(*w->registry, *w->stores.identity, *w->access,
                                                  *w->offload, options);
    set_scene(*w->api);
    return w;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  const std::string_view operation = input.substr(0, nl);
  std::string body(input.substr(nl + 1));
  // A header value cannot carry these; the HTTP parser would have refused them.
  if (operation.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return 0;

  // The placeholder upload id stands for a live upload.
  if (body.find(kUploadPlaceholder) != std::string::npos) {
    const std::string id = new_upload(*w.api);
    for (size_t at = body.find(kUploadPlaceholder); at != std::string::npos;
         at = body.find(kUploadPlaceholder, at + id.size())) {
      body.replace(at, kUploadPlaceholder.size(), id);
    }
  }
  (void)call(*w.api, operation, std::move(body));
  return 0;
}
