// The HTTP(S) listener: accepts connections, runs one session per connection
// (keep-alive, per-operation timeouts, header limit), hands every request to
// the application's RequestHandler and writes one log entry per request.
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
  uint16_t port = 5000;  // 0 picks a free port
  unsigned threads = 0;  // 0: two per core, at least four
  std::string tls_cert_file;  // PEM chain; TLS when both are set
  std::string tls_key_file;
  size_t header_limit = 64 * 1024;
  std::chrono::seconds idle_timeout{60};   // waiting for the next request on a kept-alive connection
  std::chrono::seconds io_timeout{60};     // any single read or write making no progress
  size_t max_connections = 4096;
};

struct RequestLogEntry {
  std::string request_id;
  std::string remote;
  std::string method;
  std::string path;
  unsigned status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  int64_t duration_us = 0;
  std::string principal;  // access key id or empty; never a secret
  std::string account;    // the authenticated principal's account, or empty
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
  net::io_context& io_context();

  struct Impl;  // shared with the connection sessions in http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
