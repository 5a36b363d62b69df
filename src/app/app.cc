#include "app/app.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "app/audit.h"
#include "app/audit_log.h"
#include "app/jobs.h"
#include "app/stores.h"
#include "blob/fs/fs_space_reserve.h"
#include "auth/access_control.h"
#include "core/clock.h"
#include "ecr/ecr_api.h"
#include "log/log.h"
#include "oci/oci_api.h"
#include "oci/routes.h"
#include "registry/registry.h"
#include "server/http_server.h"
#include "server/offload.h"

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

// The numeric address to bind for the listen host: literals as they are,
// names resolved (an IPv4 address preferred, as clients of "localhost"
// commonly try it first). Errors name the whole listen address.
Result<std::string> resolve_listen_host(const std::string& host, const std::string& listen) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    return error(Code::kInvalidArgument,
                 fmt::format("listen address '{}': cannot resolve '{}': {}", listen, host, ::gai_strerror(rc)));
  }
  const addrinfo* pick = nullptr;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
    if (pick == nullptr && a->ai_family == AF_INET6) pick = a;
  }
  char text[INET6_ADDRSTRLEN] = {};
  bool ok = pick != nullptr && ::getnameinfo(pick->ai_addr, pick->ai_addrlen, text, sizeof text, nullptr, 0,
                                             NI_NUMERICHOST) == 0;
  ::freeaddrinfo(found);
  if (!ok) {
    return error(Code::kInvalidArgument, fmt::format("listen address '{}': '{}' has no IP address", listen, host));
  }
  return std::string(text);
}

// Writes `text` to `path` (mode 0600) through a synced temporary file.
Status write_private_file(const std::filesystem::path& path, const std::string& text) {
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return error(Code::kInternal, fmt::format("create {}: {}", tmp, std::strerror(errno)));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return error(Code::kInternal, fmt::format("write {}: {}", path.string(), std::strerror(errno)));
  }
  return Status::ok();
}

// Raises the soft limit on open files to the hard limit (connections and blob
// files are descriptors) and returns the soft limit now in force.
uint64_t raise_open_file_limit() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    struct rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(lim.rlim_cur);
}

// Writes the bootstrap admin key in the AWS shared-credentials format, and
// berth's region in an AWS config file beside it (a credentials file cannot
// carry a region), both mode 0600: with AWS_SHARED_CREDENTIALS_FILE and
// AWS_CONFIG_FILE pointing at them the aws CLI needs nothing else.
Status write_credentials_files(const std::filesystem::path& credentials, const std::filesystem::path& config,
                               const identity::NewAccessKey& key, const std::string& region) {
  BERTH_RETURN_IF_ERROR(write_private_file(
      credentials, fmt::format("[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                               key.access_key_id, key.secret_access_key)));
  return write_private_file(config, fmt::format("[default]\nregion = {}\n", region));
}

}  // namespace

namespace {

// The test-only store delay (README, "Testing hooks"): off unless BOTH
// BERTH_TEST_STORE_DELAY_MS and BERTH_TEST_STORE_DELAY_REPOSITORY are set,
// never read from flags or the configuration file, and announced with a
// warning so that it cannot go unnoticed in a log.
Status apply_test_store_delay(RegistryOptions& ro) {
  const char* ms = std::getenv("BERTH_TEST_STORE_DELAY_MS");
  const char* repo = std::getenv("BERTH_TEST_STORE_DELAY_REPOSITORY");
  if (ms == nullptr || repo == nullptr || *ms == '\0' || *repo == '\0') return Status::ok();
  char* end = nullptr;
  long value = std::strtol(ms, &end, 10);
  if (*end != '\0' || value <= 0 || value > 60000) {
    return error(Code::kInvalidArgument, "BERTH_TEST_STORE_DELAY_MS must be a number of milliseconds in 1..60000");
  }
  ro.test_delay = std::chrono::milliseconds(value);
  ro.test_delay_repository = repo;
  log::warn("TEST HOOK: every lookup of one repository is delayed; never set this in production",
            {{"repository", ro.test_delay_repository}, {"delay_ms", static_cast<int64_t>(value)}});
  return Status::ok();
}

}  // namespace

struct App::Impl {
  Config config;
  Stores stores;
  std::unique_ptr<AuditLog> audit;  // null when off; outlives the server, whose requests append to it
  std::unique_ptr<Registry> registry;
  std::unique_ptr<auth::AccessControl> access;
  std::unique_ptr<oci::OciApi> oci;
  std::unique_ptr<ecr::EcrApi> ecr;
  std::unique_ptr<server::HttpServer> http_server;
  std::unique_ptr<FsSpaceReserve> space_reserve;
  BackgroundJobs background;          // the runners the scheduler's jobs call
  std::atomic<bool> stopping{false};  // ends a background scrub slice early
  jobs::Scheduler scheduler;          // destroyed before `background`: its thread ends first
  std::unique_ptr<server::net::signal_set> signals;
  // Last, so destroyed first: its workers use the registry and resume
  // coroutines on the server's event loop, so it stops before either goes.
  std::unique_ptr<server::Offloader> offload;

  awaitable<void> handle(server::Exchange& ex);
  // Appends the audit record of the answered `ex`, when it is audited.
  void audit_request(const server::Exchange& ex, AuditApi api) const;
};

void App::Impl::audit_request(const server::Exchange& ex, AuditApi api) const {
  if (!audit) return;
  if (auto record = audit_record(ex, api, audit_time_now())) audit->append(boost::json::serialize(*record));
}

awaitable<void> App::Impl::handle(server::Exchange& ex) {
  const std::string& path = ex.path();
  if (path == "/v2" || path.rfind("/v2/", 0) == 0) {
    if (config.auth && ex.header(http::field::authorization).empty() &&
        ex.request().target().find(auth::kDownloadSignatureParam) != std::string_view::npos) {
      // A presigned layer URL (GetDownloadUrlForLayer): it stands in for the
      // credentials of whoever asked for it, for that one blob only.
      oci::Target t = oci::parse_v2_path(path);
      const bool read = ex.method() == http::verb::get || ex.method() == http::verb::head;
      auto principal = t.route == oci::Route::kBlob && read
                           ? stores.identity->authenticate_download(
                                 std::string_view(ex.url().encoded_query().data(), ex.url().encoded_query().size()),
                                 t.name, t.reference)
                           : Result<auth::Principal>(error(Code::kPermissionDenied,
                                                           "a download URL only serves GET or HEAD of its layer"));
      if (principal) {
        ex.set_principal(*principal);
        ex.add_log_field("auth", "download-url");
      } else {
        ex.add_log_field("auth_error", principal.status().message());
        ex.set_auth_failure(principal.take_status());
      }
    } else if (config.auth) {
      auto principal = stores.identity->authenticate_registry(ex.header(http::field::authorization));
      if (principal) {
        ex.set_principal(*principal);
      } else if (principal.status().code() != Code::kMissingAuthentication) {
        ex.add_log_field("auth_error", principal.status().message());
        ex.set_auth_failure(principal.take_status());
      }
    }
    co_await oci->handle(ex);
    audit_request(ex, AuditApi::kOci);
    co_return;
  }
  if (ecr::EcrApi::is_ecr_request(ex)) {
    co_await ecr->handle(ex);
    audit_request(ex, AuditApi::kEcr);
    co_return;
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
  if (impl_) {
    impl_->stopping = true;
    impl_->scheduler.stop();
  }
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
      auto aws_config = std::filesystem::path(config.data_dir) / "admin.config";
      BERTH_RETURN_IF_ERROR(write_credentials_files(path, aws_config, *boot.admin_key, config.region));
      log::info("created the admin user; its access key is in the credentials file, the region in the config file",
                {{"account", config.account_id},
                 {"access_key_id", boot.admin_key->access_key_id},
                 {"credentials_file", std::filesystem::absolute(path).string()},
                 {"config_file", std::filesystem::absolute(aws_config).string()}});
    }
  }

  if (const std::string target = audit_log_target(config); target != "off") {
    BERTH_ASSIGN_OR_RETURN(d.audit, AuditLog::open(target));
    log::info("audit trail", {{"audit_log", target}});
  }

  d.space_reserve = std::make_unique<FsSpaceReserve>(config.data_dir, config.space_reserve_bytes);
  if (config.space_reserve_bytes > 0 && !d.space_reserve->held()) {
    if (Status s = d.space_reserve->restore(); !s.is_ok()) {
      log::warn("cannot set the space reserve aside; deletes may fail should the disk fill up",
                {{"error", s.to_string()}});
    }
  }

  RegistryOptions ro;
  ro.upload_ttl_seconds = config.upload_ttl_seconds;
  ro.max_concurrent_appends = config.max_concurrent_uploads;
  ro.max_concurrent_appends_per_account = config.max_uploads_per_account;
  ro.max_concurrent_appends_per_key = config.max_uploads_per_key;
  ro.space_reserve = d.space_reserve.get();
  ro.create_repository_on_push = config.create_on_push;
  BERTH_ASSIGN_OR_RETURN(ro.manifest_urls, ManifestUrlPolicy::compile(config.manifest_urls_allow));
  BERTH_RETURN_IF_ERROR(apply_test_store_delay(ro));
  BERTH_ASSIGN_OR_RETURN(auto webhooks, webhook_targets(config));
  ro.record_events = !webhooks.empty();
  d.registry = std::make_unique<Registry>(*d.stores.meta, *d.stores.blobs, Clock::system(), ro);
  if (config.offload_deadline_seconds <= 0) return error(Code::kInvalidArgument, "offload-deadline must be positive");
  server::OffloadOptions offload_options;
  offload_options.threads = static_cast<unsigned>(config.offload_threads);
  offload_options.start_deadline = std::chrono::seconds(config.offload_deadline_seconds);
  d.offload = std::make_unique<server::Offloader>(offload_options);
  d.access = std::make_unique<auth::AccessControl>(config.auth);

  const std::string public_url = effective_public_url(config);
  oci::OciOptions oo;
  oo.public_url = config.public_url;
  while (!oo.public_url.empty() && oo.public_url.back() == '/') oo.public_url.pop_back();
  oo.default_account = config.account_id;
  d.oci = std::make_unique<oci::OciApi>(*d.registry, *d.access, *d.offload, oo);

  ecr::EcrOptions eo;
  eo.region = config.region;
  eo.public_url = public_url;
  eo.registry_host = host_of(public_url);
  d.ecr = std::make_unique<ecr::EcrApi>(*d.registry, *d.stores.identity, *d.access, *d.offload, eo);

  server::ServerOptions so;
  uint16_t port = 0;
  std::string listen_host;
  BERTH_RETURN_IF_ERROR(parse_listen(config.listen, listen_host, port));
  BERTH_ASSIGN_OR_RETURN(so.host, resolve_listen_host(listen_host, config.listen));
  so.port = port;
  so.threads = config.threads;
  so.tls_cert_file = config.tls_cert;
  so.tls_key_file = config.tls_key;
  so.header_limit = config.header_limit;
  const uint64_t open_files = raise_open_file_limit();
  so.max_connections = std::min(config.max_connections, max_connections_for_fd_limit(open_files));
  if (so.max_connections < config.max_connections) {
    log::warn("the open-file limit allows fewer connections than max-connections; serving fewer",
              {{"open_files", open_files}, {"max_connections", so.max_connections}});
  }
  so.max_connections_per_ip = config.max_connections_per_ip;
  so.header_timeout = std::chrono::seconds(config.header_timeout_seconds);
  so.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  so.io_timeout = std::chrono::seconds(config.io_timeout_seconds);
  so.max_body_memory = config.max_body_memory;
  so.body_min_rate = config.upload_min_rate;
  so.body_rate_window = std::chrono::seconds(config.upload_rate_window_seconds);
  Impl* impl = &d;
  d.http_server = std::make_unique<server::HttpServer>(
      so, [impl](server::Exchange& ex) { return impl->handle(ex); },
      [](const server::RequestLogEntry& e) {
        if (!log::enabled(log::Level::kInfo)) return;
        boost::json::object f{{"request_id", e.request_id}, {"remote", e.remote},   {"method", e.method},
                              {"path", e.path},             {"status", e.status},   {"bytes_in", e.bytes_in},
                              {"bytes_out", e.bytes_out},   {"duration_us", e.duration_us}};
        if (!e.principal.empty()) f["principal"] = e.principal;
        if (!e.account.empty()) f["account"] = e.account;
        if (!e.user.empty()) {
          f["user"] = e.user;
          f["user_arn"] = fmt::format("arn:aws:iam::{}:user/{}", e.account, e.user);
        }
        for (const auto& [k, v] : e.fields) f[k] = v;
        log::write(e.status >= 500 ? log::Level::kError : log::Level::kInfo, "request", std::move(f));
      });

  d.background = register_background_jobs(d.scheduler, config, *d.registry, *d.stores.meta, *d.stores.blobs,
                                          *d.space_reserve, d.stopping, std::move(webhooks));
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
             {"auth", d.config.auth},
             {"create_on_push", d.config.create_on_push}});
  if (!d.config.auth) {
    log::warn("authentication is disabled: anyone who can reach this address may read and write images");
  }
  return Status::ok();
}

uint16_t App::port() const { return impl_->http_server->port(); }

void App::run() { impl_->http_server->run(); }

void App::stop() {
  impl_->stopping = true;
  impl_->scheduler.stop();
  impl_->http_server->stop();
}

}  // namespace berth::app
