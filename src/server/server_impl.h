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
  std::optional<net::ssl::context> tls;
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopping{false};
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
};

}  // namespace berth::server
