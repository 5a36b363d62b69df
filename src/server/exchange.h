// One HTTP request and its response, as handlers see it. The session reads the
// request header first; the handler then decides how to take the body (into
// memory with a limit, or streamed in chunks) and sends exactly one response.
//
// No method throws: network failures mark the exchange broken (the session
// closes the connection afterwards) and read calls return kUnavailable.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/url_view.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.h"
#include "core/blob_reader.h"
#include "core/status.h"

namespace berth::server {

namespace http = boost::beast::http;
namespace net = boost::asio;

using RequestHeader = http::request_header<>;
using Response = http::response<http::string_body>;
using ResponseHeader = http::response_header<>;
// Receives body bytes in order; a non-ok Status stops reading.
using BodySink = std::function<Status(const char* data, size_t size)>;

class Exchange {
 public:
  virtual ~Exchange() = default;

  const RequestHeader& request() const { return *request_; }
  http::verb method() const { return request_->method(); }
  // The request target parsed as origin-form; path() is percent-decoded.
  const boost::urls::url_view& url() const { return url_; }
  const std::string& path() const { return path_; }
  const std::string& request_id() const { return request_id_; }
  const std::string& remote_address() const { return remote_; }
  std::string_view header(http::field f) const { return request_->operator[](f); }
  std::string_view header(std::string_view name) const { return request_->operator[](name); }

  // Who is asking; set by the authentication step before the handler runs.
  const auth::Principal& principal() const { return principal_; }
  void set_principal(auth::Principal p) { principal_ = std::move(p); }
  // Why authentication failed, when credentials were sent but refused (ok
  // otherwise). The message never contains the credentials.
  const Status& auth_failure() const { return auth_failure_; }
  void set_auth_failure(Status s) { auth_failure_ = std::move(s); }

  // Extra fields for this request's access-log line (the ECR operation, an
  // error code, a claimed access key id...). Never a secret.
  void add_log_field(std::string key, std::string value) {
    log_fields_.emplace_back(std::move(key), std::move(value));
  }
  const std::vector<std::pair<std::string, std::string>>& log_fields() const { return log_fields_; }

  // True when the request announced a body (Content-Length > 0 or chunked).
  virtual bool has_body() const = 0;
  // Reads the whole body. kTooLarge past `limit` bytes; kResourceExhausted
  // (retryable, nothing read) when the server-wide budget for bodies held in
  // memory cannot take it now. The body's bytes count against that budget
  // until the request ends.
  virtual net::awaitable<Result<std::string>> read_body(size_t limit) = 0;
  // Streams the body to `sink`; returns the sink's error, kUnavailable if the
  // client went away or sends slower than the server's minimum body rate, or
  // ok with the byte count.
  virtual net::awaitable<Result<uint64_t>> stream_body(const BodySink& sink) = 0;

  // Sends the response. Content-Length is set from the body.
  virtual net::awaitable<void> send(Response res) = 0;
  // Sends `head` (Content-Length set here) and `length` bytes of `reader` from
  // `offset`, with sendfile(2) where the connection and the reader allow.
  virtual net::awaitable<void> send_blob(ResponseHeader head, BlobReader& reader, uint64_t offset,
                                         uint64_t length) = 0;

  bool sent() const { return sent_; }
  unsigned status() const { return status_; }
  uint64_t bytes_sent() const { return bytes_sent_; }
  // The part of bytes_sent() that was response body (what a client's
  // Content-Length counts); a string body counts once written whole.
  uint64_t body_bytes_sent() const { return body_bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

 protected:
  const RequestHeader* request_ = nullptr;
  boost::urls::url_view url_;
  std::string path_;
  std::string request_id_;
  std::string remote_;
  auth::Principal principal_;
  Status auth_failure_;
  std::vector<std::pair<std::string, std::string>> log_fields_;
  bool sent_ = false;
  unsigned status_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t body_bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
};

// The application's entry point for every request.
using RequestHandler = std::function<net::awaitable<void>(Exchange&)>;

}  // namespace berth::server
