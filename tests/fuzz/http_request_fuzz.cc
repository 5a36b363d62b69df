// Request heads and bodies as berth reads them off the wire: Beast's parser
// driven by berth's session (src/server/session.cc: header limit, request
// target, Content-Length and chunked bodies, read_body and stream_body), and
// behind it the whole /v2 API with real stores.
//
// A berth App runs in this process on 127.0.0.1 (an ephemeral port, auth off,
// a scratch data directory). Before the first input the repositories the
// corpus names are created and an image is pushed to fuzz/app:latest. Each
// input is written as raw bytes on a fresh connection, the client half-closes,
// and the answer is read to EOF. Upload ids are random, which no fuzzer can
// guess: in an input that names the upload 00000000-0000-4000-8000-000000000000
// a fresh upload of fuzz/app takes its place, so its PATCH and PUT bodies
// (chunked ones too) are read rather than refused with BLOB_UPLOAD_UNKNOWN.
// Properties: berth never crashes, answers with HTTP/1.1 status lines only,
// never answers 500, and closes the connection within the timeouts once the
// client has stopped sending (no hang on a truncated request).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "app/app.h"
#include "auth/sigv4.h"
#include "core/clock.h"
#include "fuzz_check.h"
#include "log/log.h"

namespace {

constexpr std::string_view kAccessKeyId = "AKIAFUZZFUZZFUZZFUZZ";
constexpr std::string_view kSecret = "fuzz/secret/key/that/is/long/enough0000";
// The repositories the corpus pushes to, created through the ECR API first.
constexpr std::string_view kRepositories[] = {"fuzz/app", "library/ubuntu"};
constexpr std::string_view kUploadPlaceholder = "00000000-0000-4000-8000-000000000000";
// fuzz/app:latest, as tests/fuzz/corpus/http_request/push-image pushes it.
constexpr std::string_view kPushImage =
    "POST "
    "/v2/fuzz/app/blobs/uploads/"
    "?digest=sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f"
    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 78\r\n\r\n"
    R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})"
    "POST "
    "/v2/fuzz/app/blobs/uploads/"
    "?digest=sha256:1cd3114cb48dea3315c4151902383b3a67bdc55f103809cc0b4411305702e4bf"
    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 22\r\n\r\nlayer-bytes-0123456789"
    "PUT /v2/fuzz/app/manifests/latest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: "
    "399\r\nConnection: close\r\n\r\n"
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":)"
    R"("application/vnd.oci.image.config.v1+json","digest":"sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594)"
    R"(b314835cf1c034f","size":78},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":)"
    R"("sha256:1cd3114cb48dea3315c4151902383b3a67bdc55f103809cc0b4411305702e4bf","size":22}]})";

struct Server {
  std::string dir;
  std::unique_ptr<berth::app::App> app;
  uint16_t port = 0;
};

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  timeval tv{10, 0};  // well beyond berth's 2 s timeouts below
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Sends `request`, half-closes, reads the answer to EOF. nullopt on a read timeout.
std::optional<std::string> round_trip(uint16_t port, std::string_view request) {
  int fd = connect_to(port);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // berth may close early (a refused header); that is its right
    off += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) break;
      ::close(fd);
      return std::nullopt;
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

void create_repository(uint16_t port, std::string_view name) {
  std::string body = "{\"repositoryName\":\"" + std::string(name) + "\"}";
  berth::auth::SigV4Request r;
  r.method = "POST";
  r.raw_path = "/";
  r.headers = {{"Host", "127.0.0.1:" + std::to_string(port)},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository"}};
  r.payload_sha256 = berth::auth::sha256_hex(body);
  auto signed_ok =
      berth::auth::sign_request(r, {std::string(kAccessKeyId), std::string(kSecret)}, "us-east-1",
                                "ecr", berth::Clock::system().now_seconds());
  FUZZ_CHECK(signed_ok.is_ok());
  std::string wire = "POST / HTTP/1.1\r\n";
  for (const auto& h : r.headers) wire += h.name + ": " + h.value + "\r\n";
  wire += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  auto answer = round_trip(port, wire);
  FUZZ_CHECK(answer && answer->starts_with("HTTP/1.1 200"));
}

// Starts an upload of fuzz/app; its id.
std::string new_upload(uint16_t port) {
  auto answer = round_trip(
      port,
      "POST /v2/fuzz/app/blobs/uploads/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n");
  FUZZ_CHECK(answer && answer->starts_with("HTTP/1.1 202"));
  constexpr std::string_view kField = "\r\nDocker-Upload-UUID: ";
  auto at = answer->find(kField);
  FUZZ_CHECK(at != std::string::npos);
  at += kField.size();
  auto end = answer->find("\r\n", at);
  FUZZ_CHECK(end != std::string::npos);
  return answer->substr(at, end - at);
}

Server& server() {
  static Server* s = [] {
    berth::log::set_level("error");
    ::setenv("BERTH_ADMIN_ACCESS_KEY_ID", std::string(kAccessKeyId).c_str(), 1);
    ::setenv("BERTH_ADMIN_SECRET_ACCESS_KEY", std::string(kSecret).c_str(), 1);
    auto* s = new Server;
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/berth-http-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(templ.data()) != nullptr);
    s->dir = templ;
    berth::app::Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = s->dir;
    config.sync_full = false;
    config.auth = false;  // the fuzzer reaches the handlers, not the token check
    config.threads = 2;
    config.header_limit = 16 * 1024;
    config.idle_timeout_seconds = 2;
    config.io_timeout_seconds = 2;
    auto app = berth::app::App::create(config);
    FUZZ_CHECK(app.is_ok());
    s->app = std::move(*app);
    FUZZ_CHECK(s->app->start().is_ok());
    s->port = s->app->port();
    std::thread([app = s->app.get()] { app->run(); }).detach();
    for (auto name : kRepositories) create_repository(s->port, name);
    auto pushed = round_trip(s->port, kPushImage);
    FUZZ_CHECK(pushed && pushed->starts_with("HTTP/1.1 201") &&
               pushed->find("HTTP/1.1 201 Created\r\n", 20) != std::string::npos);
    FUZZ_CHECK(
        pushed->find("Docker-Content-Digest: "
                     "sha256:9f017ad3abb4657f8c9d60ea529e1af74f2474ff90b5773c3dd36226971dc746") !=
        std::string::npos);
    return s;
  }();
  return *s;
}

// Every status line in `answer` (one per response on the connection).
bool has_server_error(std::string_view answer) {
  for (size_t at = answer.find("HTTP/1.1 "); at != std::string_view::npos;
       at = answer.find("HTTP/1.1 ", at + 1)) {
    if (answer.substr(at + 9, 1) == "5" && answer.substr(at + 9, 3) != "503") return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Server& s = server();
  std::string input(reinterpret_cast<const char*>(data), size);
  // The placeholder upload id stands for a live upload.
  if (input.find(kUploadPlaceholder) != std::string::npos) {
    const std::string id = new_upload(s.port);
    for (size_t at = input.find(kUploadPlaceholder); at != std::string::npos;
         at = input.find(kUploadPlaceholder, at + id.size())) {
      input.replace(at, kUploadPlaceholder.size(), id);
    }
  }
  auto answer = round_trip(s.port, input);
  if (!answer) std::fprintf(stderr, "berth did not close the connection within 10 s\n");
  FUZZ_CHECK(answer.has_value());
  FUZZ_CHECK(answer->empty() || answer->starts_with("HTTP/1.1 ") ||
             answer->starts_with("HTTP/1.0 "));
  if (has_server_error(*answer)) std::fprintf(stderr, "server error:\n%s\n", answer->c_str());
  FUZZ_CHECK(!has_server_error(*answer));
  return 0;
}
