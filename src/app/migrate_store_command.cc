#include "app/migrate_store_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "app/config.h"
#include "app/stores.h"
#include "auth/secret_box.h"
#include "log/log.h"
#include "registry/store_migration.h"

namespace berth::app {

namespace {

std::string resolved_path(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(path), ec);
  return ec ? path : p.string();
}

std::string param(const StoreConfig& store, const char* key) {
  auto it = store.params.find(key);
  return it == store.params.end() ? std::string() : it->second;
}

// A description of where each store of `c` is, equal for two configurations
// that name the same store. Never holds a secret (a DSN is compared, never
// printed).
std::string metadata_identity(const Config& c) {
  if (c.metadata.driver == "sqlite") return "sqlite:" + resolved_path(metadata_sqlite_path(c));
  return c.metadata.driver + ":" + param(c.metadata, "dsn");
}

std::string storage_identity(const Config& c) {
  if (c.storage.driver == "filesystem")
    return "filesystem:" + resolved_path(storage_filesystem_root(c));
  return fmt::format("{}:{}/{}/{}", c.storage.driver, param(c.storage, "endpoint"),
                     param(c.storage, "bucket"), param(c.storage, "prefix"));
}

// The test-only pause after each blob copied (README, "Migrating an embedded
// registry"): BERTH_TEST_MIGRATE_BLOB_PAUSE_MS, never read from flags or a
// configuration file, announced on stderr.
Result<std::chrono::milliseconds> test_blob_pause() {
  const char* ms = std::getenv("BERTH_TEST_MIGRATE_BLOB_PAUSE_MS");
  if (ms == nullptr || *ms == '\0') return std::chrono::milliseconds(0);
  char* end = nullptr;
  long value = std::strtol(ms, &end, 10);
  if (*end != '\0' || value <= 0 || value > 60000) {
    return error(Code::kInvalidArgument,
                 "BERTH_TEST_MIGRATE_BLOB_PAUSE_MS must be a number of milliseconds in 1..60000");
  }
  std::cerr << "berth migrate-store: TEST HOOK: pausing " << value
            << " ms after each blob copied; never set this in production\n";
  return std::chrono::milliseconds(value);
}

// Progress on stderr: on a terminal one line rewritten in place, else a
// line at most every second and at each phase's end.
class ProgressLine {
 public:
  ProgressLine() : tty_(::isatty(STDERR_FILENO) != 0) {}
  void operator()(const MigrationProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool phase_end = p.total > 0 && p.done == p.total;
    const bool changed = p.phase != phase_;
    if (!changed && !phase_end &&
        now - last_ < (tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000))) {
      return;
    }
    if (changed && tty_ && !phase_.empty()) std::fputc('\n', stderr);
    phase_ = p.phase;
    last_ = now;
    std::string line = fmt::format("{}: {}/{}", p.phase, p.done, p.total);
    if (p.phase != "identities") line += fmt::format(", {:.1f} MiB copied", p.bytes / 1048576.0);
    if (tty_) {
      std::fprintf(stderr, "\r%s\033[K", line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }
  void finish() {
    if (tty_ && !phase_.empty()) std::fputc('\n', stderr);
  }

 private:
  bool tty_;
  std::string phase_;
  std::chrono::steady_clock::time_point last_{};
};

std::string plain_summary(const MigrationReport& r, bool dry_run) {
  return fmt::format(
      "{}accounts {}, users {}, access keys {}, user policies {}, registry policies {}\n"
      "user tags {}, groups {} (members {}, group policies {})\n"
      "repositories {} (repository policies {}, lifecycle policies {}, resource tags {}), "
      "storage quotas {}\n"
      "manifests {}, tags {}, blob links {}\n"
      "blobs copied {} ({} bytes), already present {}, failed {}\n"
      "not copied: upload sessions in flight, scan results, advisories, lifecycle previews and "
      "expiration history, pending webhook events\n",
      dry_run ? "dry run, nothing written; would copy:\n" : "", r.accounts, r.users, r.access_keys,
      r.user_policies, r.registry_policies, r.user_tags, r.groups, r.group_members,
      r.group_policies, r.repositories, r.repository_policies, r.lifecycle_policies,
      r.resource_tags, r.storage_quotas, r.manifests, r.tags, r.blob_links, r.blobs_copied,
      r.bytes_copied, r.blobs_present, r.failures.size());
}

std::string json_summary(const MigrationReport& r, bool dry_run) {
  boost::json::array failures;
  for (const auto& f : r.failures) failures.emplace_back(f);
  boost::json::object o{{"dry_run", dry_run},
                        {"accounts", r.accounts},
                        {"users", r.users},
                        {"access_keys", r.access_keys},
                        {"user_policies", r.user_policies},
                        {"user_tags", r.user_tags},
                        {"groups", r.groups},
                        {"group_members", r.group_members},
                        {"group_policies", r.group_policies},
                        {"registry_policies", r.registry_policies},
                        {"repositories", r.repositories},
                        {"repository_policies", r.repository_policies},
                        {"lifecycle_policies", r.lifecycle_policies},
                        {"resource_tags", r.resource_tags},
                        {"storage_quotas", r.storage_quotas},
                        {"manifests", r.manifests},
                        {"tags", r.tags},
                        {"blob_links", r.blob_links},
                        {"blobs_copied", r.blobs_copied},
                        {"blobs_present", r.blobs_present},
                        {"bytes_copied", r.bytes_copied},
                        {"failures", std::move(failures)}};
  return boost::json::serialize(o) + "\n";
}

}  // namespace

std::function<int()> add_migrate_store_command(CLI::App& cli) {
  struct Args {
    std::string from_config, from_data_dir, to_config;
    bool dry_run = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = cli.add_subcommand(
      "migrate-store",
      "Copy a whole registry into other stores (e.g. SQLite + disk into PostgreSQL + S3); "
      "resumable: run it again after an interruption");
  auto* from_config = cmd->add_option("--from-config", args->from_config,
                                      "The source registry's YAML configuration");
  auto* from_dir = cmd->add_option("--from-data-dir", args->from_data_dir,
                                   "The source registry's data directory");
  from_config->excludes(from_dir);
  cmd->add_option("--to-config", args->to_config,
                  "The destination's YAML configuration (its metadata and storage sections)")
      ->required();
  cmd->add_flag("--dry-run", args->dry_run, "Only count what would be copied");
  cmd->add_flag("--json", args->json, "Print the summary as one JSON object");
  return [=]() -> int {
    if (!cmd->parsed()) return -1;
    log::set_level("warn");
    const char* me = "berth migrate-store: ";
    if (args->from_config.empty() == args->from_data_dir.empty()) {
      std::cerr << me << "give exactly one of --from-config and --from-data-dir\n";
      return 2;
    }
    auto source = operator_config(args->from_config, args->from_data_dir);
    if (!source) {
      std::cerr << me << "source: " << source.status().message() << "\n";
      return 2;
    }
    auto dest = operator_config(args->to_config, "");
    if (!dest) {
      std::cerr << me << "destination: " << dest.status().message() << "\n";
      return 2;
    }
    const bool same_meta = metadata_identity(*source) == metadata_identity(*dest);
    const bool same_blobs = storage_identity(*source) == storage_identity(*dest);
    if (same_meta) {
      std::cerr << me << "the source and the destination are the same "
                << (same_blobs ? "stores" : "metadata store")
                << "; the destination must be other stores (a fresh database)\n";
      return 2;
    }
    auto pause = test_blob_pause();
    if (!pause) {
      std::cerr << me << pause.status().message() << "\n";
      return 2;
    }
    const std::string source_key_path = secret_key_path(*source);
    if (!std::filesystem::exists(source_key_path)) {
      std::cerr << me << "source: no secret key at " << source_key_path
                << " (the access keys' secrets cannot be read without it)\n";
      return 2;
    }
    auto from = open_stores(*source, OpenMode::kExisting);
    if (!from) {
      std::cerr << me << "source: " << from.status().message() << "\n";
      return 1;
    }
    auto to = open_stores(*dest, OpenMode::kCreate);
    if (!to) {
      std::cerr << me << "destination: " << to.status().message() << "\n";
      return 1;
    }
    auto from_key = auth::load_or_create_key_file(source_key_path);
    auto to_key = auth::load_or_create_key_file(secret_key_path(*dest));
    if (!from_key || !to_key) {
      std::cerr << me << (from_key ? to_key.status() : from_key.status()).message() << "\n";
      return 1;
    }
    MigrationOptions options;
    options.dry_run = args->dry_run;
    options.blob_pause = *pause;
    if (*from_key != *to_key) {
      options.reseal_secret = [fk = *from_key,
                               tk = *to_key](const AccessKeyRecord& key) -> Result<std::string> {
        auto plain = auth::open_secret(key.sealed_secret, fk, key.id);
        if (!plain) {
          return error(Code::kFailedPrecondition,
                       "its secret does not open with the source's secret key");
        }
        return auth::seal_secret(*plain, tk, key.id);
      };
    }
    ProgressLine line;
    options.progress = [&line](const MigrationProgress& p) { line(p); };
    StoreMigration migration({*from->meta, *from->identity_store, *from->blobs},
                             {*to->meta, *to->identity_store, *to->blobs}, std::move(options));
    auto report = migration.run();
    line.finish();
    if (!report) {
      std::cerr << me << report.status().message() << " (run it again to continue)\n";
      return 1;
    }
    for (const std::string& f : report->failures) std::cerr << me << f << "\n";
    std::cout << (args->json ? json_summary(*report, args->dry_run)
                             : plain_summary(*report, args->dry_run));
    if (!report->failures.empty()) {
      std::cerr << me << report->failures.size()
                << " item(s) not copied; fix the source (e.g. `berth scrub`) and run again\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace berth::app
