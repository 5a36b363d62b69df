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

// A server TLS context with berth's settings and the certificate chain and
// key of these files.
Result<std::shared_ptr<ssl::context>> make_tls_context(const std::string& cert_file,
                                                       const std::string& key_file) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  // Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only; for TLS 1.2 only
  // forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305).
  // TLS 1.3's suites are all of that kind and keep OpenSSL's defaults.
  SSL_CTX* native = tls->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return error(Code::kInternal, "cannot restrict the TLS versions and cipher suites");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  BERTH_RETURN_IF_ERROR(load_tls_files(*tls, cert_file, key_file));
  return tls;
}

// How often a drain looks whether every connection has ended.
constexpr auto kDrainPoll = std::chrono::milliseconds(20);

}  // namespace

bool HttpServer::Impl::admit_peer(const std::string& address) {
  const size_t cap = max_connections_per_ip.load();
  std::lock_guard lock(peers_mu);
  size_t& n = peers[address];
  if (cap != 0 && n >= cap) {
    if (n == 0) peers.erase(address);
    return false;
  }
  ++n;
  return true;
}

void HttpServer::Impl::release_connection(const std::string& address) {
  {
    std::lock_guard lock(peers_mu);
    auto it = peers.find(address);
    if (it != peers.end() && --it->second == 0) peers.erase(it);
  }
  --connections;
}

std::shared_ptr<ssl::context> HttpServer::Impl::current_tls() {
  std::lock_guard lock(tls_mu);
  return tls;
}

bool HttpServer::Impl::idle_begin(uint64_t id, std::function<void()> interrupt) {
  std::lock_guard lock(idle_mu);
  if (draining) return false;
  idle_sessions.emplace(id, std::move(interrupt));
  return true;
}

void HttpServer::Impl::idle_end(uint64_t id) {
  std::lock_guard lock(idle_mu);
  idle_sessions.erase(id);
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
    if (connections.load() >= max_connections.load()) {
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
    accepted.fetch_add(1, std::memory_order_relaxed);
    // The session releases both counts when it ends.
    if (auto context = current_tls()) {
      start_tls_session(*this, std::move(context), std::move(socket), std::move(address),
                        std::move(remote));
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
  impl_->max_connections = impl_->options.max_connections;
  impl_->max_connections_per_ip = impl_->options.max_connections_per_ip;
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
    BERTH_ASSIGN_OR_RETURN(auto context, make_tls_context(o.tls_cert_file, o.tls_key_file));
    std::lock_guard lock(impl_->tls_mu);
    impl_->tls = std::move(context);
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

size_t HttpServer::open_connections() const {
  return impl_->connections.load();
}

uint64_t HttpServer::accepted_connections() const {
  return impl_->accepted.load();
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

Status HttpServer::reload_tls() {
  const auto& o = impl_->options;
  if (o.tls_cert_file.empty()) return Status::ok();
  BERTH_ASSIGN_OR_RETURN(auto context, make_tls_context(o.tls_cert_file, o.tls_key_file));
  std::lock_guard lock(impl_->tls_mu);
  impl_->tls = std::move(context);
  return Status::ok();
}

void HttpServer::set_connection_limits(size_t max_connections, size_t max_connections_per_ip) {
  impl_->max_connections = max_connections;
  impl_->max_connections_per_ip = max_connections_per_ip;
}

void HttpServer::drain(std::chrono::steady_clock::duration deadline) {
  net::post(impl_->ioc, [this, deadline] {
    Impl& d = *impl_;
    std::vector<std::function<void()>> idle;
    {
      std::lock_guard lock(d.idle_mu);
      if (d.draining) return;
      d.draining = true;
      for (auto& [id, interrupt] : d.idle_sessions) idle.push_back(interrupt);
    }
    beast::error_code ec;
    d.acceptor.close(ec);
    for (auto& interrupt : idle) interrupt();
    log::info(
        "draining: no new connections; waiting for the requests in progress",
        {{"connections", d.connections.load()},
         {"deadline_ms", std::chrono::duration_cast<std::chrono::milliseconds>(deadline).count()}});
    net::co_spawn(
        d.ioc,
        [this, until = std::chrono::steady_clock::now() + deadline]() -> awaitable<void> {
          net::steady_timer timer(impl_->ioc);
          while (impl_->connections.load() > 0 && std::chrono::steady_clock::now() < until) {
            timer.expires_after(kDrainPoll);
            co_await timer.async_wait(as_tuple_awaitable);
          }
          if (impl_->connections.load() > 0) {
            log::warn("drain deadline passed; closing the connections left",
                      {{"connections", impl_->connections.load()}});
          } else {
            log::info("drained: every connection has ended");
          }
          stop();
        },
        net::detached);
  });
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
