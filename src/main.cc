// berth: a private container registry. The command line: serve, and the
// operator's tools.
#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <tuple>

#include "app/admin.h"
#include "app/advisories_command.h"
#include "app/app.h"
#include "app/config.h"
#include "app/gc_command.h"
#include "app/migrate_command.h"
#include "app/migrate_store_command.h"
#include "app/scrub_command.h"
#include "app/version.h"
#include "log/log.h"

namespace {

struct DurationFlags {
  std::string lifecycle, gc, grace, token, header_timeout, upload_rate_window, scrub,
      offload_deadline;
  std::string scrub_rate, space_reserve;  // sizes
  std::string drain_timeout, ready_min_free;
  std::string scan_lease;
};

// The configuration: defaults, then the file, then the flags given. At start
// and again on SIGHUP (the file may have changed; the flags have not).
berth::Result<berth::app::Config> layered_config(const std::string& config_file,
                                                 const berth::app::Config& flags_over,
                                                 const DurationFlags& durations,
                                                 const CLI::App& cmd) {
  using namespace berth;
  app::Config config;
  if (!config_file.empty()) {
    if (Status s = app::load_config_file(config_file, config); !s.is_ok()) return s;
  }
  // Flags given on the command line win over the file.
  auto given = [&cmd](const char* name) { return cmd.count(name) > 0; };
  if (given("--listen")) config.listen = flags_over.listen;
  if (given("--data-dir")) app::set_data_dir(config, flags_over.data_dir);
  if (given("--log-level")) config.log_level = flags_over.log_level;
  if (given("--tls-cert")) config.tls_cert = flags_over.tls_cert;
  if (given("--tls-key")) config.tls_key = flags_over.tls_key;
  if (given("--public-url")) config.public_url = flags_over.public_url;
  if (given("--region")) config.region = flags_over.region;
  if (given("--account-id")) config.account_id = flags_over.account_id;
  if (given("--threads")) config.threads = flags_over.threads;
  if (given("--offload-threads")) config.offload_threads = flags_over.offload_threads;
  if (given("--max-connections-per-ip"))
    config.max_connections_per_ip = flags_over.max_connections_per_ip;
  if (given("--max-body-memory")) config.max_body_memory = flags_over.max_body_memory;
  if (given("--upload-min-rate")) config.upload_min_rate = flags_over.upload_min_rate;
  if (given("--max-uploads-per-account"))
    config.max_uploads_per_account = flags_over.max_uploads_per_account;
  if (given("--max-uploads-per-key")) config.max_uploads_per_key = flags_over.max_uploads_per_key;
  if (given("--manifest-urls-allow")) config.manifest_urls_allow = flags_over.manifest_urls_allow;
  if (given("--audit-log")) config.audit_log = flags_over.audit_log;
  if (given("--metrics-listen")) config.metrics_listen = flags_over.metrics_listen;
  if (given("--metrics-top-repositories"))
    config.metrics_top_repositories = flags_over.metrics_top_repositories;
  for (auto [flag, field, value] :
       {std::tuple{"--lifecycle-interval", &config.lifecycle_interval_seconds, durations.lifecycle},
        std::tuple{"--gc-interval", &config.gc_interval_seconds, durations.gc},
        std::tuple{"--gc-grace", &config.gc_grace_seconds, durations.grace},
        std::tuple{"--token-ttl", &config.token_ttl_seconds, durations.token},
        std::tuple{"--header-timeout", &config.header_timeout_seconds, durations.header_timeout},
        std::tuple{"--upload-rate-window", &config.upload_rate_window_seconds,
                   durations.upload_rate_window},
        std::tuple{"--scrub-interval", &config.scrub_interval_seconds, durations.scrub},
        std::tuple{"--offload-deadline", &config.offload_deadline_seconds,
                   durations.offload_deadline},
        std::tuple{"--drain-timeout", &config.drain_timeout_seconds, durations.drain_timeout},
        std::tuple{"--scan-lease", &config.scan_lease_seconds, durations.scan_lease}}) {
    if (!given(flag)) continue;
    auto parsed = app::parse_duration(value);
    if (!parsed)
      return error(Code::kInvalidArgument, std::string(flag) + ": " + parsed.status().message());
    *field = *parsed;
  }
  for (auto [flag, field, value] :
       {std::tuple{"--scrub-rate", &config.scrub_rate_bytes, durations.scrub_rate},
        std::tuple{"--space-reserve", &config.space_reserve_bytes, durations.space_reserve},
        std::tuple{"--ready-min-free", &config.ready_min_free_bytes, durations.ready_min_free}}) {
    if (!given(flag)) continue;
    auto parsed = app::parse_size(value);
    if (!parsed)
      return error(Code::kInvalidArgument, std::string(flag) + ": " + parsed.status().message());
    *field = *parsed;
  }
  if (flags_over.auth == false) config.auth = false;
  if (flags_over.create_on_push) config.create_on_push = true;
  return config;
}

int serve(const std::string& config_file, const berth::app::Config& flags_over,
          const DurationFlags& durations, const CLI::App& cmd) {
  using namespace berth;
  auto layered = layered_config(config_file, flags_over, durations, cmd);
  if (!layered) {
    std::cerr << "berth: " << layered.status().message() << "\n";
    return 2;
  }
  app::Config config = std::move(*layered);
  if (!log::set_level(config.log_level)) {
    std::cerr << "berth: unknown log level '" << config.log_level << "'\n";
    return 2;
  }
  auto app = app::App::create(config);
  if (!app) {
    log::error("cannot start", {{"error", app.status().message()}});
    return 1;
  }
  (*app)->set_config_reloader(
      [&] { return layered_config(config_file, flags_over, durations, cmd); });
  if (Status s = (*app)->start(); !s.is_ok()) {
    log::error("cannot start", {{"error", s.message()}});
    return 1;
  }
  (*app)->run();
  log::info("berth stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything berth creates (database, blobs, uploads, keys) is for its own
  // user only; the stores also create with explicit modes, this covers the rest.
  ::umask(077);
  CLI::App cli{"berth: a private container registry (OCI Distribution + ECR API)"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", std::string("berth ") + berth::app::kVersion);

  berth::app::Config flags;
  std::string config_file;
  auto* serve_cmd = cli.add_subcommand("serve", "Run the registry server");
  serve_cmd->add_option("-c,--config", config_file, "YAML configuration file (flags override it)");
  serve_cmd->add_option("--listen", flags.listen, "Address to listen on, HOST:PORT")
      ->capture_default_str();
  serve_cmd
      ->add_option("--data-dir", flags.data_dir, "Directory for blobs and the metadata database")
      ->capture_default_str();
  serve_cmd->add_option("--log-level", flags.log_level, "debug, info, warn or error")
      ->capture_default_str();
  serve_cmd->add_option("--tls-cert", flags.tls_cert,
                        "PEM certificate chain; enables HTTPS with --tls-key");
  serve_cmd->add_option("--tls-key", flags.tls_key, "PEM private key for --tls-cert");
  serve_cmd->add_option("--public-url", flags.public_url,
                        "URL clients use to reach berth (for Location headers and ECR URIs)");
  serve_cmd->add_option("--region", flags.region, "AWS region berth answers for")
      ->capture_default_str();
  serve_cmd
      ->add_option("--account-id", flags.account_id,
                   "Twelve-digit account id of the default account")
      ->capture_default_str();
  serve_cmd->add_option("--threads", flags.threads, "Event-loop threads (0: two per core)");
  serve_cmd->add_option(
      "--offload-threads", flags.offload_threads,
      "Worker threads for registry and store calls (0: two per core, at least four)");
  serve_cmd->add_option(
      "--manifest-urls-allow", flags.manifest_urls_allow,
      "Regular expression for the urls foreign layers may name (repeatable; default: none)");
  DurationFlags durations;
  serve_cmd->add_option("--offload-deadline", durations.offload_deadline,
                        "A request no worker starts within this is answered 503 (default 10s)");
  serve_cmd->add_option("--lifecycle-interval", durations.lifecycle,
                        "How often lifecycle policies run (default 1h)");
  serve_cmd->add_option("--gc-interval", durations.gc,
                        "How often garbage collection runs (default 1h)");
  serve_cmd->add_option("--gc-grace", durations.grace,
                        "Blobs uploaded less than this long ago are never collected (default 1h)");
  serve_cmd->add_option("--token-ttl", durations.token,
                        "Lifetime of registry tokens (default 12h)");
  serve_cmd->add_option("--header-timeout", durations.header_timeout,
                        "Time allowed for a whole request head to arrive (default 10s)");
  serve_cmd
      ->add_option("--max-connections-per-ip", flags.max_connections_per_ip,
                   "Open connections allowed from one peer address (0: no cap)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-body-memory", flags.max_body_memory,
                   "Bytes of request bodies held in memory by all requests together")
      ->capture_default_str();
  serve_cmd
      ->add_option(
          "--upload-min-rate", flags.upload_min_rate,
          "Slowest upload body accepted, bytes per second over --upload-rate-window (0: none)")
      ->capture_default_str();
  serve_cmd->add_option("--upload-rate-window", durations.upload_rate_window,
                        "Window over which --upload-min-rate is measured (default 30s)");
  serve_cmd
      ->add_option("--max-uploads-per-account", flags.max_uploads_per_account,
                   "Uploads one account may stream at once (0: no cap)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-uploads-per-key", flags.max_uploads_per_key,
                   "Uploads one access key may stream at once (0: no cap)")
      ->capture_default_str();
  serve_cmd->add_option(
      "--scrub-interval", durations.scrub,
      "Verify stored blobs in the background, one slice of at most a minute this often, "
      "quarantining corrupt ones (default 0: off)");
  serve_cmd->add_option("--scrub-rate", durations.scrub_rate,
                        "Bytes per second the background scrub reads, e.g. 8m (default 8m)");
  serve_cmd->add_option(
      "--space-reserve", durations.space_reserve,
      "Disk space kept free in the data directory for deletes and gc on a full disk, "
      "e.g. 32m (default 32m; 0: none)");
  serve_cmd->add_option("--audit-log", flags.audit_log,
                        "Audit trail: a file path, stderr or off (default <data-dir>/audit.log)");
  serve_cmd->add_option(
      "--metrics-listen", flags.metrics_listen,
      "Also serve /metrics, /healthz and /readyz WITHOUT authentication on HOST:PORT");
  serve_cmd
      ->add_option("--metrics-top-repositories", flags.metrics_top_repositories,
                   "Repositories with their own byte-count series; the rest are summed per account")
      ->capture_default_str();
  serve_cmd->add_option(
      "--ready-min-free", durations.ready_min_free,
      "/readyz reports not ready with less free disk space in the data directory (default 64m)");
  serve_cmd->add_option("--drain-timeout", durations.drain_timeout,
                        "On SIGTERM, how long in-flight requests may take to finish (default 30s)");
  serve_cmd->add_option("--scan-lease", durations.scan_lease,
                        "How long a crashed worker's image scan waits before another worker, or "
                        "this node restarted, takes it over (default 60s)");
  bool no_auth = false;
  serve_cmd->add_flag("--no-auth", no_auth,
                      "Serve without authentication (anyone may read and write)");
  serve_cmd->add_flag(
      "--create-on-push", flags.create_on_push,
      "Create a repository on its first push (default: refuse with NAME_UNKNOWN, as ECR does)");
  serve_cmd->callback([&] { flags.auth = !no_auth; });

  auto run_admin = berth::app::add_admin_commands(cli);
  auto run_gc = berth::app::add_gc_command(cli);
  auto run_scrub = berth::app::add_scrub_command(cli);
  auto run_migrate = berth::app::add_migrate_command(cli);
  auto run_advisories = berth::app::add_advisories_command(cli);
  auto run_migrate_store = berth::app::add_migrate_store_command(cli);

  CLI11_PARSE(cli, argc, argv);
  if (serve_cmd->parsed()) return serve(config_file, flags, durations, *serve_cmd);
  if (int rc = run_gc(); rc >= 0) return rc;
  if (int rc = run_scrub(); rc >= 0) return rc;
  if (int rc = run_migrate(); rc >= 0) return rc;
  if (int rc = run_advisories(); rc >= 0) return rc;
  if (int rc = run_migrate_store(); rc >= 0) return rc;
  return run_admin();
}
