#include "server/server_impl.h"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "log/log.h"
#include "server/session.h"
#include "server/tls_files.h"

namespace berth::server {

namespace {

// The TLS 1.2 cipher suites (Mozilla "intermediate", without the DHE ones).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// How long the accept loop pauses when the process is out of descriptors
// (or kernel memory): retrying at once would spin on the pending connection.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kDescriptorWarningInterval = std::chrono::minutes(1);

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == net::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == net::error::no_buffer_space || ec == net::error::no_memory;
}

}  // namespace

bool HttpServer::Impl::admit_peer(const std::string& address) {
  if (options.max_connections_per_ip == 0) return true;
  std::lock_guard lock(peers_mu);
  size_t& n = peers[address];
  if (n >= options.max_connections_per_ip) return false;
  ++n;
  return true;
}

void HttpServer::Impl::release_connection(const std::string& address) {
  if (options.max_connections_per_ip != 0) {
    std::lock_guard lock(peers_mu);
    auto it = peers.find(address);
    if (it != peers.end() && --it->second == 0) peers.erase(it);
  }
  --connections;
}

awaitable<void> HttpServer::Impl::accept_loop() {
  net::steady_timer backoff(ioc);
  std::optional<std::chrono::steady_clock::time_point> warned_at;
  uint64_t failed_accepts = 0;  // since the last warning
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), as_tuple_awaitable);
    if (ec) {
      if (stopping || ec == net::error::operation_aborted) co_return;
      if (out_of_descriptors(ec)) {
        // The pending connection stays queued, so accepting again at once
        // would fail again at once: pause, keep serving the connections we
        // have, and say so at most once a minute rather than per attempt
        // (at the limit, accepts may succeed and fail by turns).
        ++failed_accepts;
        auto now = std::chrono::steady_clock::now();
        if (!warned_at || now - *warned_at >= kDescriptorWarningInterval) {
          log::warn("cannot accept connections: out of file descriptors; pausing accepts",
                    {{"error", ec.message()},
                     {"connections", connections.load()},
                     {"failed_accepts", failed_accepts}});
          warned_at = now;
          failed_accepts = 0;
        }
        backoff.expires_after(kAcceptBackoff);
        co_await backoff.async_wait(as_tuple_awaitable);
      }
      continue;
    }
    if (connections.load() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    beast::error_code rec;
    auto ep = socket.remote_endpoint(rec);
    if (rec) continue;  // the peer is already gone; the socket closes here
    std::string address = ep.address().to_string();
    if (!admit_peer(address)) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    std::string remote = fmt::format("{}:{}", address, ep.port());
    socket.set_option(tcp::no_delay(true), rec);
    ++connections;
    // The session releases both counts when it ends.
    if (tls) {
      start_tls_session(*this, *tls, std::move(socket), std::move(address), std::move(remote));
    } else {
      start_plain_session(*this, std::move(socket), std::move(address), std::move(remote));
    }
  }
}

HttpServer::HttpServer(ServerOptions options, RequestHandler handler, RequestLogger logger)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->logger = std::move(logger);
}

HttpServer::~HttpServer() = default;

net::io_context& HttpServer::io_context() {
  return impl_->ioc;
}

Status HttpServer::start() {
  auto& o = impl_->options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      return error(Code::kInvalidArgument, "TLS needs both a certificate and a key file");
    }
    impl_->tls.emplace(ssl::context::tls_server);
    impl_->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
    // Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only; for TLS 1.2 only
    // forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305).
    // TLS 1.3's suites are all of that kind and keep OpenSSL's defaults.
    SSL_CTX* native = impl_->tls->native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
      return error(Code::kInternal, "cannot restrict the TLS versions and cipher suites");
    }
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    BERTH_RETURN_IF_ERROR(load_tls_files(*impl_->tls, o.tls_cert_file, o.tls_key_file));
  }
  beast::error_code ec;
  auto address = net::ip::make_address(o.host, ec);
  if (ec)
    return error(Code::kInvalidArgument,
                 fmt::format("listen address {}: {}", o.host, ec.message()));
  tcp::endpoint ep(address, o.port);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return error(Code::kInternal, fmt::format("listen on {}:{}: {}", o.host, o.port, ec.message()));
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  return Status::ok();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::run() {
  unsigned n = impl_->options.threads;
  if (n == 0) n = std::max(4u, 2 * std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void HttpServer::stop() {
  net::post(impl_->ioc, [this] {
    impl_->stopping = true;
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->ioc.stop();
  });
}

}  // namespace berth::server
