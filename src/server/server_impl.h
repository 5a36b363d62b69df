// The state one HttpServer shares between its listener (listener.cc) and the
// sessions it runs (session.cc). Internal to src/server.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "server/http_server.h"

namespace berth::server {

// The short names listener.cc and session.cc share.
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using net::awaitable;
inline constexpr auto as_tuple_awaitable = net::as_tuple(net::use_awaitable);

struct HttpServer::Impl {
  ServerOptions options;
  RequestHandler handler;
  RequestLogger logger;
  net::io_context ioc;
  net::ip::tcp::acceptor acceptor{ioc};
  // The TLS context for new connections; replaced by reload_tls(). A session
  // holds the one it started with until it ends.
  std::shared_ptr<net::ssl::context> tls;  // guarded by tls_mu
  std::mutex tls_mu;
  std::atomic<size_t> max_connections{0};         // from options; set_connection_limits()
  std::atomic<size_t> max_connections_per_ip{0};  // from options; set_connection_limits()
  std::atomic<size_t> connections{0};
  std::atomic<uint64_t> accepted{0};  // connections admitted since start
  std::atomic<bool> stopping{false};
  // drain(): no new connections; requests in progress finish, then close.
  // Written under idle_mu, so a session that registers as idle either sees
  // it or is closed by drain().
  std::atomic<bool> draining{false};
  std::mutex idle_mu;
  // Sessions waiting for their next request, by session id: each function
  // posts a close of that wait to the session's strand. Guarded by idle_mu.
  std::unordered_map<uint64_t, std::function<void()>> idle_sessions;
  std::atomic<uint64_t> next_session_id{0};
  // Bytes of request bodies read into memory right now (read_body).
  std::atomic<size_t> body_bytes{0};

  // Open connections per peer address; guarded by peers_mu.
  std::mutex peers_mu;
  std::unordered_map<std::string, size_t> peers;

  net::awaitable<void> accept_loop();
  // Counts a connection from `address`; false (nothing counted) when the
  // address is at its cap. Thread-safe.
  bool admit_peer(const std::string& address);
  // Ends the count of one connection admitted from `address` (both the
  // per-address and the overall count). Thread-safe.
  void release_connection(const std::string& address);
  // Takes `n` bytes from the body budget; false (nothing taken) when they do
  // not fit. Thread-safe.
  bool reserve_body_bytes(size_t n);
  std::shared_ptr<net::ssl::context> current_tls();
  // Registers session `id` as waiting idle, with `interrupt` to end the wait;
  // false (nothing registered) when draining: the session should close.
  bool idle_begin(uint64_t id, std::function<void()> interrupt);
  void idle_end(uint64_t id);
};

}  // namespace berth::server
