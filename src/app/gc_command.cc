#include "app/gc_command.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "app/config.h"
#include "app/stores.h"
#include "blob/fs/fs_space_reserve.h"
#include "core/clock.h"
#include "log/log.h"
#include "registry/garbage_collector.h"
#include "registry/registry.h"

namespace berth::app {

std::function<int()> add_gc_command(CLI::App& cli) {
  struct Args {
    std::string config_file, data_dir, grace, abandoned_after;
    bool dry_run = false;
    bool full = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      cli.add_subcommand("gc", "Reclaim blobs no manifest refers to (safe while berth serves)");
  cmd->add_option("-c,--config", args->config_file, "YAML configuration file");
  cmd->add_option("--data-dir", args->data_dir, "Data directory");
  cmd->add_flag("--dry-run", args->dry_run, "Only report what would be reclaimed");
  cmd->add_option("--grace", args->grace,
                  "Protect blobs linked less than this long ago (default: gc-grace, 1h)");
  cmd->add_flag("--full", args->full, "Also scan the whole blob store for blobs nothing links");
  cmd->add_option("--abandoned-after", args->abandoned_after,
                  "Treat blob writes and other passes' unfinished deletions older than this as "
                  "abandoned by a crashed process, and finish them (default 1h)");
  return [=]() -> int {
    if (!cmd->parsed()) return -1;
    log::set_level("warn");
    auto loaded = operator_config(args->config_file, args->data_dir);
    if (!loaded) {
      std::cerr << "berth gc: " << loaded.status().message() << "\n";
      return 2;
    }
    Config& config = *loaded;
    GcOptions options;
    options.grace_seconds = config.gc_grace_seconds;
    if (!args->grace.empty()) {
      auto g = parse_duration(args->grace);
      if (!g) {
        std::cerr << "berth gc: " << g.status().message() << "\n";
        return 2;
      }
      options.grace_seconds = *g;
    }
    if (!args->abandoned_after.empty()) {
      auto a = parse_duration(args->abandoned_after);
      if (!a) {
        std::cerr << "berth gc: " << a.status().message() << "\n";
        return 2;
      }
      options.stale_write_seconds = *a;
    }
    options.dry_run = args->dry_run;
    // On a full disk even opening the database may need a page: the reserve
    // is there for this.
    FsSpaceReserve reserve(config.data_dir, config.space_reserve_bytes);
    options.space_reserve = &reserve;
    auto stores = open_stores(config, OpenMode::kExisting);
    if (!stores && stores.status().code() == Code::kStorageFull && reserve.release()) {
      std::cerr << "berth gc: the disk is full; released the space reserve\n";
      stores = open_stores(config, OpenMode::kExisting);
    }
    if (!stores) {
      std::cerr << "berth gc: " << stores.status().message() << "\n";
      return 1;
    }
    GarbageCollector gc(*stores->meta, *stores->blobs, Clock::system());
    if (args->full) {
      auto n = gc.enqueue_unlinked();
      if (!n) {
        std::cerr << "berth gc: " << n.status().message() << "\n";
        return 1;
      }
    }
    size_t expired_uploads = 0;
    if (!args->dry_run) {
      RegistryOptions ro;
      ro.upload_ttl_seconds = config.upload_ttl_seconds;
      Registry registry(*stores->meta, *stores->blobs, Clock::system(), ro);
      auto n = registry.expire_uploads();
      if (n) expired_uploads = *n;
    }
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    auto progress = [tty](size_t done, size_t total) {
      if (tty && (done % 64 == 0 || done == total)) {
        std::fprintf(stderr, "\rexamined %zu/%zu candidate blobs", done, total);
        if (done == total) std::fprintf(stderr, "\n");
      }
    };
    auto report = gc.run(options, progress);
    if (!report) {
      std::cerr << "berth gc: " << report.status().message() << "\n";
      return 1;
    }
    if (!args->dry_run && config.space_reserve_bytes > 0 && !reserve.held()) {
      if (Status s = reserve.restore(); !s.is_ok()) {
        std::cerr << "berth gc: could not set the space reserve aside again: " << s.message()
                  << "\n";
      }
    }
    std::cout << fmt::format(
        "{} {} blobs, {} bytes ({:.1f} MiB); {} untagged manifests; examined {} candidates in "
        "{:.3f}s{}\n",
        args->dry_run ? "would reclaim" : "reclaimed", report->reclaimed_blobs,
        report->reclaimed_bytes, report->reclaimed_bytes / 1048576.0, report->untagged_manifests,
        report->examined, report->seconds,
        args->dry_run ? "" : fmt::format("; expired {} abandoned uploads", expired_uploads));
    return 0;
  };
}

}  // namespace berth::app
