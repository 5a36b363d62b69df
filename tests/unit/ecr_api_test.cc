// EcrApi on what a client can put in a request head: the answer is always
// JSON that an AWS SDK can decode (UTF-8), whatever bytes the head carried.
// Real stores in a scratch directory; requests are signed like the SDKs do.
#include "ecr/ecr_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "../fuzz/fuzz_exchange.h"
#include "app/stores.h"
#include "auth/access_control.h"
#include "auth/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "ecr/ecr_error.h"
#include "registry/registry.h"
#include "server/offload.h"

namespace berth::ecr {
namespace {

constexpr const char* kKeyId = "AKIAUNITUNITUNITUNIT";
constexpr const char* kSecret = "unit/secret/key/that/is/long/enough00000";

class EcrApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-ecr-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    app::Config config;
    config.data_dir = dir_.string();
    config.sync_full = false;
    auto stores = app::open_stores(config);
    ASSERT_TRUE(stores.is_ok()) << stores.status().to_string();
    stores_ = std::move(*stores);
    auto boot = stores_.identity->bootstrap(identity::NewAccessKey{kKeyId, kSecret});
    ASSERT_TRUE(boot.is_ok()) << boot.status().to_string();
    registry_ = std::make_unique<Registry>(*stores_.meta, *stores_.blobs, Clock::system(),
                                           RegistryOptions{});
    access_ = std::make_unique<auth::AccessControl>(true);
    EcrOptions options;
    options.public_url = "http://127.0.0.1:5000";
    options.registry_host = "127.0.0.1:5000";
    offload_ =
        std::make_unique<server::Offloader>(server::OffloadOptions{1, std::chrono::seconds(60)});
    api_ = std::make_unique<EcrApi>(*registry_, *stores_.identity, *access_, *offload_, options);
  }

  void TearDown() override {
    api_.reset();
    offload_.reset();
    registry_.reset();
    stores_.identity.reset();  // before the stores it reads
    stores_.identity_store.reset();
    stores_.meta.reset();
    stores_.blobs.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A signed call of X-Amz-Target `target`; the answer's status and body.
  std::pair<unsigned, std::string> call(const std::string& target, std::string body) {
    auth::SigV4Request sreq;
    sreq.method = "POST";
    sreq.raw_path = "/";
    sreq.headers = {{"Host", "127.0.0.1:5000"},
                    {"Content-Type", "application/x-amz-json-1.1"},
                    {"X-Amz-Target", target}};
    sreq.payload_sha256 = auth::sha256_hex(body);
    EXPECT_TRUE(auth::sign_request(sreq, {kKeyId, kSecret}, "us-east-1", "ecr",
                                   Clock::system().now_seconds())
                    .is_ok());
    server::RequestHeader header;
    header.method(server::http::verb::post);
    header.target("/");
    header.version(11);
    for (const auto& h : sreq.headers) header.insert(h.name, h.value);
    header.set(server::http::field::content_length, std::to_string(body.size()));
    fuzz::FuzzExchange ex(header, std::move(body));
    ex.run([this](server::Exchange& e) { return api_->handle(e); });
    EXPECT_TRUE(ex.sent());
    return {ex.status(), ex.response().body()};
  }

  std::filesystem::path dir_;
  app::Stores stores_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<auth::AccessControl> access_;
  std::unique_ptr<server::Offloader> offload_;
  std::unique_ptr<EcrApi> api_;
};

TEST_F(EcrApiTest, KnownOperationAnswersJson) {
  auto [status, body] = call("AmazonEC2ContainerRegistry_V20150921.DescribeRegistry", "{}");
  EXPECT_EQ(status, 200u) << body;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
}

// Found by the ecr_request fuzz target (tests/fuzz/corpus/ecr_request/
// unknown-operation-not-utf8): an unknown operation name was echoed into the
// error message byte for byte, so bytes that are not UTF-8 made the answer
// invalid JSON.
TEST_F(EcrApiTest, UnknownOperationWithBytesThatAreNotUtf8AnswersValidJson) {
  auto [status, body] = call("AmazonEC2ContainerRegistry_V20150921.Describ\xff\xff\x80istry", "{}");
  EXPECT_EQ(status, 400u) << body;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(body, ec);
  ASSERT_FALSE(ec) << "not JSON: " << body;
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed.as_object().at("__type").as_string(), "UnknownOperationException");
  // A printable name is still named, so a typo is easy to spot.
  auto [status2, body2] = call("AmazonEC2ContainerRegistry_V20150921.DescribeRegistri", "{}");
  EXPECT_EQ(status2, 400u);
  EXPECT_NE(body2.find("DescribeRegistri"), std::string::npos) << body2;
}

// partLastByte - partFirstByte + 1 overflowed int64 for a part claiming the
// whole int64 range (signed overflow, reported by UBSan in the sanitizer run);
// the difference is now taken before widening.
TEST_F(EcrApiTest, UploadLayerPartSpanningAllOfInt64IsRefusedWithoutOverflow) {
  const std::string prefix = "AmazonEC2ContainerRegistry_V20150921.";
  auto [cs, cb] = call(prefix + "CreateRepository", R"({"repositoryName":"wide/part"})");
  ASSERT_EQ(cs, 200u) << cb;
  auto [is, ib] = call(prefix + "InitiateLayerUpload", R"({"repositoryName":"wide/part"})");
  ASSERT_EQ(is, 200u) << ib;
  std::string upload_id(boost::json::parse(ib).as_object().at("uploadId").as_string());
  auto [status, body] =
      call(prefix + "UploadLayerPart",
           R"({"repositoryName":"wide/part","uploadId":")" + upload_id +
               R"(","partFirstByte":0,"partLastByte":9223372036854775807,"layerPartBlob":"YQ=="})");
  EXPECT_EQ(status, 400u) << body;
  EXPECT_NE(body.find("InvalidLayerPartException"), std::string::npos) << body;
}

// An upload id the registry does not know answers UploadNotFoundException
// (400) in UploadLayerPart and CompleteLayerUpload, and so does the domain's
// one "no such upload" code (kBlobUploadUnknown) wherever an operation maps it
// generically (an upload that vanishes between the check and the write).
TEST_F(EcrApiTest, UnknownUploadIdIsUploadNotFound) {
  const std::string prefix = "AmazonEC2ContainerRegistry_V20150921.";
  auto [cs, cb] = call(prefix + "CreateRepository", R"({"repositoryName":"no/upload"})");
  ASSERT_EQ(cs, 200u) << cb;
  const std::string unknown = "12345678-1234-1234-1234-123456789abc";
  auto type_of = [](const std::string& body) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("__type")) return std::string();
    return std::string(parsed.as_object().at("__type").as_string());
  };
  auto [ps, pb] = call(prefix + "UploadLayerPart",
                       R"({"repositoryName":"no/upload","uploadId":")" + unknown +
                           R"(","partFirstByte":0,"partLastByte":0,"layerPartBlob":"YQ=="})");
  EXPECT_EQ(ps, 400u) << pb;
  EXPECT_EQ(type_of(pb), "UploadNotFoundException") << pb;
  auto [fs, fb] = call(prefix + "CompleteLayerUpload",
                       R"({"repositoryName":"no/upload","uploadId":")" + unknown +
                           R"(","layerDigests":["sha256:)" + std::string(64, '0') + R"("]})");
  EXPECT_EQ(fs, 400u) << fb;
  EXPECT_EQ(type_of(fb), "UploadNotFoundException") << fb;

  const EcrError mapped = from_status(Status(Code::kBlobUploadUnknown, "upload gone"));
  EXPECT_EQ(mapped.type, "UploadNotFoundException");
  EXPECT_EQ(mapped.http_status, 400u);
}

}  // namespace
}  // namespace berth::ecr
