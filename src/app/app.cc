#include "app/app.h"

#include <boost/asio/signal_set.hpp>

#include <filesystem>

#include <fmt/format.h>

#include "auth/access_control.h"
#include "blob/fs/fs_blob_store.h"
#include "core/clock.h"
#include "jobs/scheduler.h"
#include "log/log.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "oci/oci_api.h"
#include "registry/registry.h"
#include "server/http_server.h"

namespace berth::app {
namespace http = server::http;
using server::net::awaitable;

struct App::Impl {
  Config config;
  std::unique_ptr<FsBlobStore> blobs;
  std::unique_ptr<SqliteMetadataStore> meta;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<auth::AccessControl> access;
  std::unique_ptr<oci::OciApi> oci;
  std::unique_ptr<server::HttpServer> http_server;
  jobs::Scheduler scheduler;
  std::unique_ptr<server::net::signal_set> signals;

  awaitable<void> handle(server::Exchange& ex);
};

awaitable<void> App::Impl::handle(server::Exchange& ex) {
  const std::string& path = ex.path();
  if (path == "/v2" || path.rfind("/v2/", 0) == 0) {
    co_return co_await oci->handle(ex);
  }
  if (path == "/healthz" && (ex.method() == http::verb::get || ex.method() == http::verb::head)) {
    server::Response res{http::status::ok, ex.request().version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = "ok\n";
    co_return co_await ex.send(std::move(res));
  }
  server::Response res{http::status::not_found, ex.request().version()};
  res.set(http::field::content_type, "text/plain");
  res.body() = "not found\n";
  co_await ex.send(std::move(res));
}

App::App() : impl_(std::make_unique<Impl>()) {}
App::~App() {
  if (impl_) impl_->scheduler.stop();
}

Result<std::unique_ptr<App>> App::create(const Config& config) {
  BERTH_RETURN_IF_ERROR(validate_config(config));
  std::unique_ptr<App> app(new App());
  Impl& d = *app->impl_;
  d.config = config;

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return error(Code::kInternal, fmt::format("data dir {}: {}", config.data_dir, ec.message()));
  BERTH_ASSIGN_OR_RETURN(d.blobs, FsBlobStore::open_at(config.data_dir));
  BERTH_ASSIGN_OR_RETURN(d.meta, SqliteMetadataStore::open(
                                     (std::filesystem::path(config.data_dir) / "berth.db").string(),
                                     config.sync_full));
  RegistryOptions ro;
  ro.upload_ttl_seconds = config.upload_ttl_seconds;
  ro.max_concurrent_appends = config.max_concurrent_uploads;
  d.registry = std::make_unique<Registry>(*d.meta, *d.blobs, Clock::system(), ro);
  d.access = std::make_unique<auth::AccessControl>(config.auth);

  oci::OciOptions oo;
  oo.public_url = config.public_url;
  while (!oo.public_url.empty() && oo.public_url.back() == '/') oo.public_url.pop_back();
  oo.default_account = config.account_id;
  d.oci = std::make_unique<oci::OciApi>(*d.registry, *d.access, oo);

  server::ServerOptions so;
  uint16_t port = 0;
  BERTH_RETURN_IF_ERROR(parse_listen(config.listen, so.host, port));
  so.port = port;
  so.threads = config.threads;
  so.tls_cert_file = config.tls_cert;
  so.tls_key_file = config.tls_key;
  so.header_limit = config.header_limit;
  so.max_connections = config.max_connections;
  so.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  so.io_timeout = std::chrono::seconds(config.io_timeout_seconds);
  Impl* impl = &d;
  d.http_server = std::make_unique<server::HttpServer>(
      so, [impl](server::Exchange& ex) { return impl->handle(ex); },
      [](const server::RequestLogEntry& e) {
        if (!log::enabled(log::Level::kInfo)) return;
        boost::json::object f{{"request_id", e.request_id}, {"remote", e.remote},   {"method", e.method},
                              {"path", e.path},             {"status", e.status},   {"bytes_in", e.bytes_in},
                              {"bytes_out", e.bytes_out},   {"duration_us", e.duration_us}};
        if (!e.principal.empty()) f["principal"] = e.principal;
        log::write(e.status >= 500 ? log::Level::kError : log::Level::kInfo, "request", std::move(f));
      });

  Registry* registry = d.registry.get();
  d.scheduler.every("upload-expiry", std::chrono::seconds(std::min<int64_t>(600, config.upload_ttl_seconds)),
                    [registry] {
                      auto n = registry->expire_uploads();
                      if (!n) {
                        log::error("upload expiry failed", {{"error", n.status().to_string()}});
                      } else if (*n > 0) {
                        log::info("expired abandoned uploads", {{"count", *n}});
                      }
                    });
  return app;
}

Status App::start() {
  Impl& d = *impl_;
  BERTH_RETURN_IF_ERROR(d.http_server->start());
  d.signals = std::make_unique<server::net::signal_set>(d.http_server->io_context(), SIGINT, SIGTERM);
  d.signals->async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) stop();
  });
  d.scheduler.start();
  log::info("berth listening",
            {{"address", fmt::format("{}://{}", d.config.tls_cert.empty() ? "http" : "https", d.config.listen)},
             {"port", port()},
             {"data_dir", d.config.data_dir},
             {"auth", d.config.auth}});
  if (!d.config.auth) {
    log::warn("authentication is disabled: anyone who can reach this address may read and write images");
  }
  return Status::ok();
}

uint16_t App::port() const { return impl_->http_server->port(); }

void App::run() { impl_->http_server->run(); }

void App::stop() {
  impl_->scheduler.stop();
  impl_->http_server->stop();
}

}  // namespace berth::app
