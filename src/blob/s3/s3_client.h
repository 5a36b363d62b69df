// A small synchronous S3 REST client for the S3 blob store: SigV4-signed
// requests (core/sigv4_signing.h) over HTTP/1.1 with Boost.Beast, plain or
// TLS (OpenSSL; the peer's certificate and host name verified), a bounded pool
// of keep-alive connections, a timeout on every network step and retries with
// exponential backoff of what S3 calls retryable.
//
// Calls block the calling thread; the store's callers run them on the offload
// thread pool. Thread-safe: any number of threads may call at once (each call
// takes its own connection from the pool). The secret key is never logged nor
// put into an error message.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sigv4_signing.h"
#include "core/status.h"

namespace berth::s3 {

struct S3ClientOptions {
  std::string endpoint;  // "http://host[:port]" or "https://host[:port]"
  // https: the CA certificates (PEM) to trust instead of the system's
  // (OpenSSL's default paths); "" trusts the system's.
  std::string ca_file;
  std::string region = "us-east-1";
  std::string bucket;
  bool path_style = true;  // /bucket/key; else bucket.host/key
  sigv4::SigningCredentials credentials;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{60000};  // each write or read of one request
  // Retryable failures (500, 502, 503, 504, connection errors) are retried
  // with exponential backoff from initial_backoff (capped at max_backoff)
  // while the next attempt would start before this deadline.
  std::chrono::milliseconds retry_deadline{30000};
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
  size_t max_idle_connections = 8;
  size_t max_response_body = 64 << 20;
};

struct S3Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  // The header's value or "" when absent; `name` lowercase.
  std::string header(std::string_view name) const;
  // The <Code> of an S3 error body ("" when none).
  std::string error_code() const;
};

struct S3Request {
  std::string method = "GET";
  std::string key;  // object key, "" for the bucket itself; [A-Za-z0-9-_.~/] only
  std::string
      query;  // raw query, already percent-encoded, e.g. "uploads=" or "partNumber=1&uploadId=x"
  std::vector<sigv4::HttpHeader> headers;  // extra headers, all signed
  std::string_view body;                   // must outlive the call
  bool head = false;                       // a HEAD: the response has no body
};

class S3Client {
 public:
  // Validates the options and, for https, loads the CAs to trust
  // (kInvalidArgument naming what is wrong, e.g. an unreadable ca_file); makes
  // no connection.
  static Result<std::unique_ptr<S3Client>> create(S3ClientOptions options);
  ~S3Client();

  // Sends `request`, retrying retryable failures until the retry deadline
  // (or `deadline` when shorter; a `deadline` also bounds each network step,
  // so the call returns about when it expires even if the peer hangs).
  // Returns the response for any status S3 answered with that is not
  // retryable (the caller maps 404 and the like); kUnavailable when every
  // attempt failed retryably, naming the last cause. A TLS handshake the
  // client refuses (the certificate does not verify, its name does not match
  // the endpoint's host, no common protocol) is not retried: kUnavailable
  // naming the endpoint and OpenSSL's reason.
  Result<S3Response> send(const S3Request& request,
                          std::optional<std::chrono::milliseconds> deadline = std::nullopt);

  // A presigned GET URL of `key` valid for `ttl` (query-string SigV4).
  Result<std::string> presign_get(std::string_view key, std::chrono::seconds ttl) const;

  const S3ClientOptions& options() const { return options_; }
  // "/bucket" (path style) or "" (virtual host): what precedes "/key".
  std::string bucket_path() const;
  // The x-amz-copy-source value for `key` of this bucket.
  std::string copy_source(std::string_view key) const;

  struct Connection;
  struct Tls;

 private:
  explicit S3Client(S3ClientOptions options);
  using TimePoint = std::chrono::steady_clock::time_point;
  // One try; a step's timeout is cut to end at `until` when given.
  Result<S3Response> attempt(const S3Request& request, bool& retryable,
                             std::optional<TimePoint> until);
  Status connect(Connection& conn, bool& retryable, std::optional<TimePoint> until);
  std::unique_ptr<Connection> take_connection();
  void give_back(std::unique_ptr<Connection> c);

  S3ClientOptions options_;
  std::string host_;  // the Host header value
  std::string connect_host_;
  std::string connect_port_;
  std::unique_ptr<Tls> tls_;  // set for https endpoints

  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

// S3's object key for text made of [A-Za-z0-9-_.~/]: true when `key` is such
// a key (no empty segment, no "." or "..").
bool is_plain_key(std::string_view key);

// --- Tiny XML reading for S3's responses (no DTDs, no attributes needed) ---

// The unescaped text of every <tag>...</tag> in `xml`, in order (not nested).
std::vector<std::string> xml_all(std::string_view xml, std::string_view tag);
// The first such text, or "".
std::string xml_first(std::string_view xml, std::string_view tag);
// "2026-12-07T08:30:00.000Z" → seconds since the epoch; 0 when malformed.
int64_t parse_iso8601(std::string_view text);
// An RFC 7231 date ("Mon, 07 Dec 2026 08:30:00 GMT") → seconds; 0 when malformed.
int64_t parse_http_date_seconds(std::string_view text);

}  // namespace berth::s3
