// The HTTP(S) listener: accepts connections, runs one session per connection
// (keep-alive, per-operation timeouts, header limit), hands every request to
// the application's RequestHandler and writes one log entry per request.
//
// Admission control against resource exhaustion: a total deadline for every
// request head, connection caps (overall and per peer address), a back-off
// when the process runs out of file descriptors, one byte budget shared by
// every request body read into memory, and a minimum rate for streamed
// bodies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "server/exchange.h"

namespace berth::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;       // 0 picks a free port
  unsigned threads = 0;       // 0: two per core, at least four
  std::string tls_cert_file;  // PEM chain; TLS when both are set
  std::string tls_key_file;
  size_t header_limit = 64 * 1024;
  std::chrono::seconds idle_timeout{60};  // waiting for the next request on a kept-alive connection
  std::chrono::seconds io_timeout{60};    // any single read or write making no progress
  // The whole request head must arrive within this, counted from the accept
  // (first request) or from its first byte (later requests on the connection).
  std::chrono::seconds header_timeout{10};
  size_t max_connections = 4096;
  size_t max_connections_per_ip = 512;  // 0: no per-address cap
  // Bytes of request bodies held in memory (Exchange::read_body) by all
  // requests together. A body of at most kUnbudgetedBody bytes is not counted:
  // like the head, it is bounded by the connection cap.
  size_t max_body_memory = 256 * 1024 * 1024;
  // A streamed body (Exchange::stream_body) that delivers fewer than
  // body_min_rate bytes per second over any body_rate_window is cut off
  // (0: no minimum rate).
  uint64_t body_min_rate = 1024;
  std::chrono::seconds body_rate_window{30};
};

// Bodies up to this size are read without drawing on the body budget.
inline constexpr size_t kUnbudgetedBody = 64 * 1024;

struct RequestLogEntry {
  std::string request_id;
  std::string remote;
  std::string method;
  std::string path;
  unsigned status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t body_bytes_out = 0;  // of bytes_out, the response body (Exchange::body_bytes_sent)
  int64_t duration_us = 0;
  std::string principal;  // access key id or empty; never a secret
  std::string account;    // the authenticated principal's account, or empty
  std::string host;       // a GET's Host header (on /v2 it may name the registry's account)
  std::string user;       // the authenticated principal's user name, or empty
  std::vector<std::pair<std::string, std::string>> fields;  // Exchange::log_fields()
};

using RequestLogger = std::function<void(const RequestLogEntry&)>;

class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler handler, RequestLogger logger);
  ~HttpServer();

  // Binds and listens. kInternal with the reason when it cannot (port in use,
  // unreadable certificate).
  Status start();
  uint16_t port() const;
  // Runs the event loop on the configured threads until stop(). Blocks.
  void run();
  // Stops accepting and ends the loop; safe from any thread or signal handler
  // context that posts to it.
  void stop();
  // Graceful stop: stops accepting at once (new connections are refused),
  // closes connections waiting idle between requests, lets requests in
  // progress finish (their answers say Connection: close), and ends the loop
  // (run() returns) once no connection is left or `deadline` has passed,
  // whichever comes first. Returns at once. Thread-safe; a later stop() cuts
  // the drain short.
  void drain(std::chrono::steady_clock::duration deadline);
  // Reads the certificate and key files of the options again and serves new
  // connections with them; connections already open keep the old ones. On a
  // failure (unreadable or mismatched files) the old certificate stays in use
  // and the reason is returned. Ok without TLS. Thread-safe.
  Status reload_tls();
  // Changes max_connections and max_connections_per_ip for connections
  // accepted from now on (open ones are never closed for it). Thread-safe.
  void set_connection_limits(size_t max_connections, size_t max_connections_per_ip);
  net::io_context& io_context();
  // Connections open now, and accepted since start (for metrics). Thread-safe.
  size_t open_connections() const;
  uint64_t accepted_connections() const;

  struct Impl;  // shared by the listener and the sessions (server_impl.h)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
