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
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "app/audit.h"
#include "app/audit_log.h"
#include "app/jobs.h"
#include "app/readiness.h"
#include "app/server_metrics.h"
#include "app/stores.h"
#include "app/version.h"
#include "auth/access_control.h"
#include "auth/secret_box.h"
#include "blob/fs/fs_space_reserve.h"
#include "core/clock.h"
#include "ecr/ecr_api.h"
#include "iam/iam_api.h"
#include "identity/iam_service.h"
#include "identity/policy_source.h"
#include "identity/query_auth.h"
#include "log/log.h"
#include "oci/oci_api.h"
#include "oci/routes.h"
#include "registry/registry.h"
#include "registry/sbom_referrer.h"
#include "registry/scanning.h"
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
    return error(Code::kInvalidArgument, fmt::format("listen address '{}': cannot resolve '{}': {}",
                                                     listen, host, ::gai_strerror(rc)));
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
  bool ok = pick != nullptr && ::getnameinfo(pick->ai_addr, pick->ai_addrlen, text, sizeof text,
                                             nullptr, 0, NI_NUMERICHOST) == 0;
  ::freeaddrinfo(found);
  if (!ok) {
    return error(Code::kInvalidArgument,
                 fmt::format("listen address '{}': '{}' has no IP address", listen, host));
  }
  return std::string(text);
}

// Writes `text` to `path` (mode 0600) through a synced temporary file.
Status write_private_file(const std::filesystem::path& path, const std::string& text) {
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return error(Code::kInternal, fmt::format("create {}: {}", tmp, std::strerror(errno)));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
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
Status write_credentials_files(const std::filesystem::path& credentials,
                               const std::filesystem::path& config,
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
    return error(Code::kInvalidArgument,
                 "BERTH_TEST_STORE_DELAY_MS must be a number of milliseconds in 1..60000");
  }
  ro.test_delay = std::chrono::milliseconds(value);
  ro.test_delay_repository = repo;
  log::warn("TEST HOOK: every lookup of one repository is delayed; never set this in production",
            {{"repository", ro.test_delay_repository}, {"delay_ms", static_cast<int64_t>(value)}});
  return Status::ok();
}

// The test-only scan delay (README, "Testing hooks"): BERTH_TEST_SCAN_DELAY_MS
// makes every scan wait that long after it is claimed, so that a test can
// kill the server while a scan is leased. Announced with a warning.
Status apply_test_scan_delay(ScanningOptions& so) {
  const char* ms = std::getenv("BERTH_TEST_SCAN_DELAY_MS");
  if (ms == nullptr || *ms == '\0') return Status::ok();
  char* end = nullptr;
  long value = std::strtol(ms, &end, 10);
  if (*end != '\0' || value <= 0 || value > 60000) {
    return error(Code::kInvalidArgument,
                 "BERTH_TEST_SCAN_DELAY_MS must be a number of milliseconds in 1..60000");
  }
  so.test_delay = std::chrono::milliseconds(value);
  log::warn("TEST HOOK: every image scan is delayed; never set this in production",
            {{"delay_ms", static_cast<int64_t>(value)}});
  return Status::ok();
}

}  // namespace

struct App::Impl {
  Config config;
  Stores stores;
  std::unique_ptr<AuditLog>
      audit;  // null when off; outlives the server, whose requests append to it
  // Before the registry and the APIs, which call it: destroyed after them.
  std::unique_ptr<ScanningService> scanning;
  std::unique_ptr<SbomPublisher> sbom;  // when config.sbom_generate; used by scanning's workers
  std::unique_ptr<Registry> registry;
  std::unique_ptr<identity::StorePolicySource> policies;
  std::unique_ptr<auth::AccessControl> access;
  std::unique_ptr<oci::OciApi> oci;
  std::unique_ptr<ecr::EcrApi> ecr;
  std::unique_ptr<identity::IamService> iam_service;
  std::unique_ptr<identity::QueryAuthenticator> query_auth;
  std::unique_ptr<iam::IamApi> iam;
  std::unique_ptr<server::HttpServer> http_server;
  std::unique_ptr<FsSpaceReserve> space_reserve;
  BackgroundJobs background;          // the runners the scheduler's jobs call
  std::atomic<bool> stopping{false};  // ends a background scrub slice early
  jobs::Scheduler scheduler;          // destroyed before `background`: its thread ends first
  std::unique_ptr<server::net::signal_set> signals;
  std::unique_ptr<ServerMetrics> metrics;
  // Bytes out of blob and manifest GETs for the usage report, flushed by the
  // usage-flush job and once more when run() returns.
  TransferMeter transfer;
  std::unique_ptr<Readiness> readiness;
  std::atomic<bool> draining{false};  // SIGTERM: /readyz answers 503 while requests finish
  // --metrics-listen: /metrics, /healthz and /readyz without authentication,
  // on its own event-loop thread.
  std::unique_ptr<server::HttpServer> metrics_server;
  std::thread metrics_thread;
  std::function<Result<Config>()> config_reloader;
  uint64_t open_files = 0;  // the descriptor limit max-connections is held to
  // Last, so destroyed first: its workers use the registry and resume
  // coroutines on the server's event loop, so it stops before either goes.
  std::unique_ptr<server::Offloader> offload;

  awaitable<void> handle(server::Exchange& ex);
  // Appends the audit record of the answered `ex`, when it is audited.
  void audit_request(const server::Exchange& ex, AuditApi api) const;
  // The unauthenticated listener of --metrics-listen.
  awaitable<void> handle_monitoring(server::Exchange& ex);
  // /healthz and /readyz (GET or HEAD, no authentication); false when `ex`
  // asks for neither.
  awaitable<bool> handle_health(server::Exchange& ex);
  // Sends the exposition text (rendered on a worker: collectors query the database).
  awaitable<void> send_metrics(server::Exchange& ex);
  // Waits for the next signal (SIGTERM/SIGINT: drain, then stop; SIGHUP: reload).
  void wait_for_signal();
  void reload();
  // Records one finished request of the main listener.
  void record_request(const server::RequestLogEntry& e);
};

namespace {

// The one authorization decision for GET /metrics on the main listener:
// ok, or kUnauthenticated (401: no or refused credentials) or
// kPermissionDenied (403: not an admin of `registry_account`, the default
// account: the metrics cover every account, so another account's admin may
// not read them). Kept in one place so that a policy action
// (berth:GetMetrics) can take it over.
Status authorize_metrics(const server::Exchange& ex, bool auth_enabled,
                         std::string_view registry_account) {
  if (!auth_enabled) return Status::ok();
  if (!ex.auth_failure().is_ok() || !ex.principal().authenticated) {
    return error(Code::kUnauthenticated, "metrics need an admin's registry token");
  }
  if (!ex.principal().admin || ex.principal().account_id != registry_account) {
    return error(Code::kPermissionDenied, "metrics are for the registry's admins only");
  }
  return Status::ok();
}

// The registry-token check of the main listener, shared by /v2 and /metrics:
// a token that identity accepts becomes the exchange's principal; a refused
// one becomes its auth failure (logged by its cause, never the token); no
// Authorization header at all leaves the exchange anonymous. Thread-safe as
// identity is.
void authenticate_with_registry_token(server::Exchange& ex, identity::IdentityService& identity) {
  auto principal = identity.authenticate_registry(ex.header(http::field::authorization));
  if (principal) {
    ex.set_principal(*principal);
  } else if (principal.status().code() != Code::kMissingAuthentication) {
    ex.add_log_field("auth_error", principal.status().message());
    ex.set_auth_failure(principal.take_status());
  }
}

server::Response plain_response(const server::Exchange& ex, http::status status, std::string body) {
  server::Response res{status, ex.request().version()};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

bool is_read(const server::Exchange& ex) {
  return ex.method() == http::verb::get || ex.method() == http::verb::head;
}

// The /v2 route as a metrics label.
std::string_view route_label(oci::Route r) {
  switch (r) {
    case oci::Route::kBase:
      return "base";
    case oci::Route::kCatalog:
      return "catalog";
    case oci::Route::kTags:
      return "tags";
    case oci::Route::kManifest:
      return "manifest";
    case oci::Route::kBlob:
      return "blob";
    case oci::Route::kUploadStart:
      return "upload_start";
    case oci::Route::kUpload:
      return "upload";
    case oci::Route::kReferrers:
      return "referrers";
    case oci::Route::kUnknown:
      return "unknown";
  }
  return "unknown";
}

// Counts one request in a gauge while it runs (also when its coroutine is
// destroyed unfinished, as at shutdown).
class InFlight {
 public:
  explicit InFlight(metrics::Gauge& g) : g_(g) { g_.add(1); }
  ~InFlight() { g_.add(-1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  metrics::Gauge& g_;
};

std::string_view field_of(const server::RequestLogEntry& e, std::string_view key) {
  for (const auto& [k, v] : e.fields) {
    if (k == key) return v;
  }
  return {};
}

}  // namespace

void App::Impl::record_request(const server::RequestLogEntry& e) {
  if (!metrics) return;
  if (e.path == "/v2" || e.path.rfind("/v2/", 0) == 0) {
    oci::Target t = oci::parse_v2_path(e.path);
    // Bytes out for the usage report: the body bytes that blob and manifest
    // GETs sent (200, or 206 for a range). HEAD, 304 and redirects to the
    // blob store send no body of berth's. They are the repository owner's, as
    // ECR bills them: the account the host name addresses (a cross-account
    // pull), else the caller's own.
    if (e.method == "GET" && (e.status == 200 || e.status == 206) && e.body_bytes_out > 0 &&
        (t.route == oci::Route::kBlob || t.route == oci::Route::kManifest)) {
      std::string owner =
          oci::account_of_host(e.host).value_or(e.account.empty() ? config.account_id : e.account);
      transfer.add(owner, t.name, Clock::system().now_millis(), e.body_bytes_out);
    }
    const bool named = t.route != oci::Route::kBase && t.route != oci::Route::kCatalog &&
                       t.route != oci::Route::kUnknown;
    metrics->record_request(e, "oci", route_label(t.route),
                            named ? std::string_view(t.name) : std::string_view());
    return;
  }
  if (field_of(e, "api") == "iam") {
    std::string_view op = field_of(e, "operation");
    metrics->record_request(e, "iam", iam->has_operation(op) ? op : std::string_view("unknown"),
                            {});
    return;
  }
  if (field_of(e, "api") == "ecr") {
    std::string_view op = field_of(e, "operation");
    metrics->record_request(e, "ecr", ecr->has_operation(op) ? op : std::string_view("unknown"),
                            {});
    return;
  }
  std::string_view route = "unknown";
  if (e.path == "/healthz") route = "healthz";
  if (e.path == "/readyz") route = "readyz";
  if (e.path == "/metrics") route = "metrics";
  metrics->record_request(e, "other", route, {});
}

awaitable<void> App::Impl::send_metrics(server::Exchange& ex) {
  ServerMetrics* m = metrics.get();
  auto text = co_await offload->run([m] { return Result<std::string>(m->render()); });
  if (!text) {
    co_return co_await ex.send(plain_response(ex, http::status::service_unavailable, "busy\n"));
  }
  server::Response res{http::status::ok, ex.request().version()};
  res.set(http::field::content_type, std::string(metrics::kContentType));
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(*text);
  co_await ex.send(std::move(res));
}

awaitable<bool> App::Impl::handle_health(server::Exchange& ex) {
  const bool healthz = ex.path() == "/healthz";
  if (!(healthz || ex.path() == "/readyz") || !is_read(ex)) co_return false;
  ReadinessReport report;  // alive: nothing to check beyond answering
  if (!healthz) {
    Readiness* r = readiness.get();
    auto checked = co_await offload->run([r] { return Result<ReadinessReport>(r->check()); });
    if (checked) {
      report = std::move(*checked);
    } else {
      report = ReadinessReport{false, {"busy"}};
    }
  }
  server::Response res{report.ready ? http::status::ok : http::status::service_unavailable,
                       ex.request().version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = readiness_json(report);
  co_await ex.send(std::move(res));
  co_return true;
}

awaitable<void> App::Impl::handle_monitoring(server::Exchange& ex) {
  if (ex.path() == "/metrics" && is_read(ex)) co_return co_await send_metrics(ex);
  const bool answered = co_await handle_health(ex);
  if (answered) co_return;
  co_await ex.send(plain_response(ex, http::status::not_found, "not found\n"));
}

void App::Impl::audit_request(const server::Exchange& ex, AuditApi api) const {
  if (!audit) return;
  if (auto record = audit_record(ex, api, audit_time_now()))
    audit->append(boost::json::serialize(*record));
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
                                 std::string_view(ex.url().encoded_query().data(),
                                                  ex.url().encoded_query().size()),
                                 t.name, t.reference)
                           : Result<auth::Principal>(
                                 error(Code::kPermissionDenied,
                                       "a download URL only serves GET or HEAD of its layer"));
      if (principal) {
        ex.set_principal(*principal);
        ex.add_log_field("auth", "download-url");
      } else {
        ex.add_log_field("auth_error", principal.status().message());
        ex.set_auth_failure(principal.take_status());
      }
    } else if (config.auth) {
      authenticate_with_registry_token(ex, *stores.identity);
    }
    const bool upload = (ex.method() == http::verb::patch || ex.method() == http::verb::put ||
                         ex.method() == http::verb::post) &&
                        path.find("/blobs/uploads/") != std::string::npos;
    if (upload) {
      InFlight counted(metrics->uploads_in_flight());
      co_await oci->handle(ex);
    } else {
      co_await oci->handle(ex);
    }
    audit_request(ex, AuditApi::kOci);
    co_return;
  }
  if (ecr::EcrApi::is_ecr_request(ex)) {
    ex.add_log_field("api", "ecr");
    if (ex.header("X-Amz-Target").ends_with(".UploadLayerPart")) {
      InFlight counted(metrics->uploads_in_flight());
      co_await ecr->handle(ex);
    } else {
      co_await ecr->handle(ex);
    }
    audit_request(ex, AuditApi::kEcr);
    co_return;
  }
  if (iam::IamApi::is_query_request(ex)) {
    ex.add_log_field("api", "iam");
    co_await iam->handle(ex);
    audit_request(ex, AuditApi::kIam);
    co_return;
  }
  if (path == "/metrics" && is_read(ex)) {
    if (config.auth) authenticate_with_registry_token(ex, *stores.identity);
    Status allowed = authorize_metrics(ex, config.auth, config.account_id);
    if (allowed.code() == Code::kUnauthenticated) {
      server::Response res = plain_response(ex, http::status::unauthorized, "unauthorized\n");
      res.set(http::field::www_authenticate, "Basic realm=\"berth\"");
      co_return co_await ex.send(std::move(res));
    }
    if (!allowed.is_ok())
      co_return co_await ex.send(plain_response(ex, http::status::forbidden, "forbidden\n"));
    co_return co_await send_metrics(ex);
  }
  const bool answered = co_await handle_health(ex);
  if (answered) co_return;
  server::Response res{http::status::not_found, ex.request().version()};
  res.set(http::field::content_type, "text/plain");
  res.body() = "not found\n";
  co_await ex.send(std::move(res));
}

void App::Impl::wait_for_signal() {
  signals->async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      reload();
      wait_for_signal();
      return;
    }
    if (!draining.exchange(true)) {
      log::info("stopping: draining first; a second signal stops at once",
                {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
                 {"drain_timeout_seconds", config.drain_timeout_seconds}});
      stopping = true;  // ends a background scrub slice early
      http_server->drain(std::chrono::seconds(config.drain_timeout_seconds));
      wait_for_signal();
      return;
    }
    log::warn("second stop signal: stopping without waiting for requests in progress");
    http_server->stop();
  });
}

void App::Impl::reload() {
  log::info("SIGHUP: reloading the TLS certificate, the log level and the connection limits");
  if (config_reloader) {
    auto fresh = config_reloader();
    if (!fresh) {
      log::error("reload: cannot read the configuration; keeping the current one",
                 {{"error", fresh.status().message()}});
    } else {
      if (!log::set_level(fresh->log_level)) {
        log::error("reload: unknown log level; keeping the current one",
                   {{"log_level", fresh->log_level}});
      }
      http_server->set_connection_limits(
          std::min(fresh->max_connections, max_connections_for_fd_limit(open_files)),
          fresh->max_connections_per_ip);
      if (fresh->tls_cert != config.tls_cert || fresh->tls_key != config.tls_key) {
        log::warn(
            "reload: tls-cert and tls-key are read again from the paths berth started with; "
            "a change of path needs a restart");
      }
    }
  }
  // logrotate's `postrotate kill -HUP`: later audit records go to a new file
  // at the same path (the access log goes to stderr, which has no path).
  if (audit) {
    const std::string target = audit_log_target(config);
    if (Status s = audit->reopen(); !s.is_ok()) {
      log::error("reload: cannot reopen the audit log; records still go to the old file",
                 {{"audit_log", target}, {"error", s.message()}});
    } else if (target != "stderr") {
      log::info("reload: reopened the audit log", {{"audit_log", target}});
    }
  }
  if (Status s = http_server->reload_tls(); !s.is_ok()) {
    log::error("reload: cannot load the TLS certificate and key; new connections keep the old ones",
               {{"error", s.message()}});
  } else if (!config.tls_cert.empty()) {
    log::info("reload: new connections use the TLS certificate now in the files");
  }
}

App::App() : impl_(std::make_unique<Impl>()) {}
App::~App() {
  if (impl_) {
    impl_->stopping = true;
    impl_->scheduler.stop();
    if (impl_->scanning) impl_->scanning->stop();
    if (impl_->metrics_thread.joinable()) {
      impl_->metrics_server->stop();
      impl_->metrics_thread.join();
    }
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
      BERTH_RETURN_IF_ERROR(
          write_credentials_files(path, aws_config, *boot.admin_key, config.region));
      log::info(
          "created the admin user; its access key is in the credentials file, the region in the "
          "config file",
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
  ScanningOptions scan_options;
  scan_options.lease_ms = config.scan_lease_seconds * 1000;
  scan_options.record_events = !webhooks.empty();
  BERTH_RETURN_IF_ERROR(apply_test_scan_delay(scan_options));
  d.scanning = std::make_unique<ScanningService>(*d.stores.meta, d.stores.meta.get(),
                                                 *d.stores.blobs, Clock::system(), scan_options);
  ro.after_manifest_put = [scanning = d.scanning.get()](const RepositoryRecord& repo,
                                                        const ManifestRecord& m) {
    scanning->manifest_pushed(repo, m);
  };
  d.registry = std::make_unique<Registry>(*d.stores.meta, *d.stores.blobs, Clock::system(), ro);
  if (config.sbom_generate) {
    d.sbom = std::make_unique<SbomPublisher>(*d.registry);
    d.scanning->set_completion_hook([sbom = d.sbom.get()](RepositoryId repo,
                                                          const ManifestRecord& image,
                                                          const scan::Inventory& inventory) {
      return sbom->publish(repo, image, inventory).status();
    });
  }
  if (config.offload_deadline_seconds <= 0)
    return error(Code::kInvalidArgument, "offload-deadline must be positive");
  ServerMetricsOptions metrics_options;
  metrics_options.version = kVersion;
  metrics_options.default_account = config.account_id;
  metrics_options.top_repositories = config.metrics_top_repositories;
  d.metrics = std::make_unique<ServerMetrics>(metrics_options);
  ServerMetrics* metrics = d.metrics.get();
  ScanningService::Observer scan_observer;
  scan_observer.started = [metrics] { metrics->record_scan_started(); };
  scan_observer.ended = [metrics](std::string_view status,
                                  std::chrono::steady_clock::duration took) {
    metrics->record_scan_ended(status, took);
  };
  scan_observer.rematched = [metrics](size_t scans) { metrics->record_scans_rematched(scans); };
  d.scanning->set_observer(std::move(scan_observer));
  server::OffloadOptions offload_options;
  offload_options.threads = static_cast<unsigned>(config.offload_threads);
  offload_options.start_deadline = std::chrono::seconds(config.offload_deadline_seconds);
  server::OffloadObservers observers;
  observers.on_call = [metrics](std::chrono::steady_clock::duration ran, bool failed) {
    metrics->record_store_call(ran, failed);
  };
  observers.on_rejected = [metrics] { metrics->record_store_rejected(); };
  d.offload = std::make_unique<server::Offloader>(offload_options, std::move(observers));
  d.policies = std::make_unique<identity::StorePolicySource>(
      *d.stores.meta, d.stores.metadata_generation, d.stores.identity_store.get());
  auth::AccessControlOptions ao;
  ao.require_authentication = config.auth;
  ao.region = config.region;
  ao.secure_transport = !config.tls_cert.empty();
  d.access = std::make_unique<auth::AccessControl>(ao, d.policies.get(), Clock::system());

  const std::string public_url = effective_public_url(config);
  oci::OciOptions oo;
  oo.public_url = config.public_url;
  while (!oo.public_url.empty() && oo.public_url.back() == '/') oo.public_url.pop_back();
  oo.default_account = config.account_id;
  oo.metadata_generation = d.stores.metadata_generation;
  d.oci = std::make_unique<oci::OciApi>(*d.registry, *d.access, *d.offload, oo);

  ecr::EcrOptions eo;
  eo.region = config.region;
  eo.public_url = public_url;
  eo.registry_host = host_of(public_url);
  eo.scanning = d.scanning.get();
  d.ecr = std::make_unique<ecr::EcrApi>(*d.registry, *d.stores.identity, *d.access, *d.offload, eo);
  d.iam_service = std::make_unique<identity::IamService>(*d.stores.identity, *d.stores.meta);
  BERTH_ASSIGN_OR_RETURN(auto master_key, auth::load_or_create_key_file(secret_key_path(config)));
  d.query_auth = std::make_unique<identity::QueryAuthenticator>(
      *d.stores.identity_store, master_key, Clock::system(), config.region);
  d.iam = std::make_unique<iam::IamApi>(*d.query_auth, *d.iam_service, *d.access, *d.offload);

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
  d.open_files = open_files;
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
      [impl](const server::RequestLogEntry& e) {
        impl->record_request(e);
        if (!log::enabled(log::Level::kInfo)) return;
        boost::json::object f{{"request_id", e.request_id}, {"remote", e.remote},
                              {"method", e.method},         {"path", e.path},
                              {"status", e.status},         {"bytes_in", e.bytes_in},
                              {"bytes_out", e.bytes_out},   {"duration_us", e.duration_us}};
        if (!e.principal.empty()) f["principal"] = e.principal;
        if (!e.account.empty()) f["account"] = e.account;
        if (!e.user.empty()) {
          f["user"] = e.user;
          f["user_arn"] = fmt::format("arn:aws:iam::{}:user/{}", e.account, e.user);
        }
        for (const auto& [k, v] : e.fields) f[k] = v;
        log::write(e.status >= 500 ? log::Level::kError : log::Level::kInfo, "request",
                   std::move(f));
      });

  d.background = register_background_jobs(
      d.scheduler, config, *d.registry, *d.stores.meta, *d.stores.blobs, *d.space_reserve,
      d.stopping, *d.stores.identity_store, d.transfer, d.metrics.get(), std::move(webhooks));
  ReadinessOptions ready_options;
  ready_options.check_metadata = d.stores.check_metadata;
  ready_options.check_blobs = d.stores.check_blobs;
  ready_options.data_dir = config.data_dir;
  ready_options.min_free_bytes = config.ready_min_free_bytes;
  ready_options.draining = &d.draining;
  d.readiness = std::make_unique<Readiness>(std::move(ready_options));
  metrics::Gauge& ready_gauge =
      d.metrics->registry()
          .gauge("berth_ready", "1 when /readyz would answer 200, else 0.")
          .with({});
  Readiness* readiness = d.readiness.get();
  d.metrics->registry().on_collect(
      [readiness, &ready_gauge] { ready_gauge.set(readiness->check().ready ? 1 : 0); });
  add_scrape_collectors(*d.metrics, *d.http_server, *d.stores.identity_store, *d.stores.meta,
                        std::chrono::seconds(30));
  add_scan_queue_collector(*d.metrics, *d.stores.meta);
  if (!config.metrics_listen.empty()) {
    server::ServerOptions mo;
    std::string metrics_host;
    BERTH_RETURN_IF_ERROR(parse_listen(config.metrics_listen, metrics_host, mo.port));
    BERTH_ASSIGN_OR_RETURN(mo.host, resolve_listen_host(metrics_host, config.metrics_listen));
    mo.threads = 1;
    mo.max_connections = 64;
    mo.max_connections_per_ip = 16;
    d.metrics_server = std::make_unique<server::HttpServer>(
        mo, [impl](server::Exchange& ex) { return impl->handle_monitoring(ex); }, nullptr);
  }
  return app;
}

Status App::start() {
  Impl& d = *impl_;
  BERTH_RETURN_IF_ERROR(d.http_server->start());
  if (d.metrics_server) {
    BERTH_RETURN_IF_ERROR(d.metrics_server->start());
    d.metrics_thread = std::thread([server = d.metrics_server.get()] { server->run(); });
    log::info("serving metrics and health without authentication",
              {{"address", d.config.metrics_listen}, {"port", d.metrics_server->port()}});
  }
  d.signals = std::make_unique<server::net::signal_set>(d.http_server->io_context(), SIGINT,
                                                        SIGTERM, SIGHUP);
  d.wait_for_signal();
  d.scheduler.start();
  d.scanning->start();
  log::info("berth listening",
            {{"address", fmt::format("{}://{}", d.config.tls_cert.empty() ? "http" : "https",
                                     d.config.listen)},
             {"port", port()},
             {"data_dir", d.config.data_dir},
             {"region", d.config.region},
             {"auth", d.config.auth},
             {"create_on_push", d.config.create_on_push}});
  if (!d.config.auth) {
    log::warn(
        "authentication is disabled: anyone who can reach this address may read and write images");
  }
  return Status::ok();
}

uint16_t App::port() const {
  return impl_->http_server->port();
}

void App::run() {
  impl_->http_server->run();
  // Requests are over: what they sent reaches the store now rather than at
  // the next flush that will not come.
  if (Status s = impl_->transfer.flush(*impl_->stores.meta); !s.is_ok()) {
    log::error("cannot flush bytes out at shutdown; they are lost", {{"error", s.to_string()}});
  }
  // The monitoring listener answered /readyz (503) during a drain; it goes last.
  if (impl_->metrics_thread.joinable()) {
    impl_->metrics_server->stop();
    impl_->metrics_thread.join();
  }
}

void App::set_config_reloader(std::function<Result<Config>()> reload) {
  impl_->config_reloader = std::move(reload);
}

void App::stop() {
  impl_->stopping = true;
  impl_->scheduler.stop();
  if (impl_->scanning) impl_->scanning->stop();
  impl_->http_server->stop();
  if (impl_->metrics_server) impl_->metrics_server->stop();
}

uint16_t App::metrics_port() const {
  return impl_->metrics_server ? impl_->metrics_server->port() : 0;
}

}  // namespace berth::app
