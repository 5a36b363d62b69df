#include "app/app.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "app/stores.h"
#include "auth/access_control.h"
#include "core/clock.h"
#include "ecr/ecr_api.h"
#include "jobs/scheduler.h"
#include "log/log.h"
#include "oci/oci_api.h"
#include "registry/garbage_collector.h"
#include "registry/lifecycle_runner.h"
#include "registry/registry.h"
#include "server/http_server.h"

namespace berth::app {
namespace http = server::http;
using server::net::awaitable;

namespace {

// The base URL clients use, from --public-url or the listen address.
std::string effective_public_url(const Config& c) {
  std::string url = c.public_url;
  if (url.empty()) url = fmt::format("{}://{}", c.tls_cert.empty() ? "http" : "https", c.listen);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string host_of(const std::string& url) {
  auto p = url.find("://");
  std::string host = p == std::string::npos ? url : url.substr(p + 3);
  auto slash = host.find('/');
  return slash == std::string::npos ? host : host.substr(0, slash);
}

// Writes the bootstrap admin key in the AWS shared-credentials format, mode 0600.
Status write_credentials_file(const std::filesystem::path& path, const identity::NewAccessKey& key,
                              const std::string& region) {
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return error(Code::kInternal, fmt::format("create {}: {}", tmp, std::strerror(errno)));
  std::string text = fmt::format("[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n# region = {}\n",
                                 key.access_key_id, key.secret_access_key, region);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return error(Code::kInternal, fmt::format("write {}: {}", path.string(), std::strerror(errno)));
  }
  return Status::ok();
}

}  // namespace

struct App::Impl {
  Config config;
  Stores stores;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<GarbageCollector> gc;
  std::unique_ptr<LifecycleRunner> lifecycle;
  std::unique_ptr<auth::AccessControl> access;
  std::unique_ptr<oci::OciApi> oci;
  std::unique_ptr<ecr::EcrApi> ecr;
  std::unique_ptr<server::HttpServer> http_server;
  jobs::Scheduler scheduler;
  std::unique_ptr<server::net::signal_set> signals;

  awaitable<void> handle(server::Exchange& ex);
};

awaitable<void> App::Impl::handle(server::Exchange& ex) {
  const std::string& path = ex.path();
  if (path == "/v2" || path.rfind("/v2/", 0) == 0) {
    if (config.auth) {
      auto principal = stores.identity->authenticate_registry(ex.header(http::field::authorization));
      if (principal) ex.set_principal(*principal);
    }
    co_return co_await oci->handle(ex);
  }
  if (ecr::EcrApi::is_ecr_request(ex)) co_return co_await ecr->handle(ex);
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
  BERTH_ASSIGN_OR_RETURN(d.stores, open_stores(config));

  // First start: an admin who can do everything, with a key the operator can use at once.
  std::optional<identity::NewAccessKey> given;
  const char* env_id = std::getenv("BERTH_ADMIN_ACCESS_KEY_ID");
  const char* env_secret = std::getenv("BERTH_ADMIN_SECRET_ACCESS_KEY");
  if (env_id != nullptr && env_secret != nullptr && *env_id != '\0' && *env_secret != '\0') {
    given = identity::NewAccessKey{env_id, env_secret};
  }
  BERTH_ASSIGN_OR_RETURN(auto boot, d.stores.identity->bootstrap(given));
  if (boot.created) {
    if (given) {
      log::info("created the admin user with the access key from BERTH_ADMIN_ACCESS_KEY_ID",
                {{"account", config.account_id}, {"access_key_id", boot.admin_key->access_key_id}});
    } else {
      auto path = std::filesystem::path(config.data_dir) / "admin.credentials";
      BERTH_RETURN_IF_ERROR(write_credentials_file(path, *boot.admin_key, config.region));
      log::info("created the admin user; its access key is in the credentials file",
                {{"account", config.account_id},
                 {"access_key_id", boot.admin_key->access_key_id},
                 {"credentials_file", std::filesystem::absolute(path).string()}});
    }
  }

  RegistryOptions ro;
  ro.upload_ttl_seconds = config.upload_ttl_seconds;
  ro.max_concurrent_appends = config.max_concurrent_uploads;
  BERTH_ASSIGN_OR_RETURN(ro.manifest_urls, ManifestUrlPolicy::compile(config.manifest_urls_allow));
  d.registry = std::make_unique<Registry>(*d.stores.meta, *d.stores.blobs, Clock::system(), ro);
  d.access = std::make_unique<auth::AccessControl>(config.auth);

  const std::string public_url = effective_public_url(config);
  oci::OciOptions oo;
  oo.public_url = config.public_url;
  while (!oo.public_url.empty() && oo.public_url.back() == '/') oo.public_url.pop_back();
  oo.default_account = config.account_id;
  d.oci = std::make_unique<oci::OciApi>(*d.registry, *d.access, oo);

  ecr::EcrOptions eo;
  eo.region = config.region;
  eo.public_url = public_url;
  eo.registry_host = host_of(public_url);
  d.ecr = std::make_unique<ecr::EcrApi>(*d.registry, *d.stores.identity, *d.access, eo);

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
  d.lifecycle = std::make_unique<LifecycleRunner>(*d.stores.meta, Clock::system());
  LifecycleRunner* lifecycle = d.lifecycle.get();
  d.scheduler.every("lifecycle", std::chrono::seconds(config.lifecycle_interval_seconds), [lifecycle] {
    auto n = lifecycle->enforce_all();
    if (!n) log::error("lifecycle run failed", {{"error", n.status().to_string()}});
  });
  d.gc = std::make_unique<GarbageCollector>(*d.stores.meta, *d.stores.blobs, Clock::system());
  GarbageCollector* gc = d.gc.get();
  GcOptions gco;
  gco.grace_seconds = config.gc_grace_seconds;
  d.scheduler.every("gc", std::chrono::seconds(config.gc_interval_seconds), [gc, gco] {
    auto r = gc->run(gco);
    if (!r) {
      log::error("garbage collection failed", {{"error", r.status().to_string()}});
    } else if (r->reclaimed_blobs > 0) {
      log::info("garbage collection", {{"examined", r->examined},
                                       {"reclaimed_blobs", r->reclaimed_blobs},
                                       {"reclaimed_bytes", r->reclaimed_bytes},
                                       {"seconds", r->seconds}});
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
             {"region", d.config.region},
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
