#include "app/scrub_command.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "app/config.h"
#include "app/stores.h"
#include "log/log.h"
#include "registry/scrubber.h"

namespace berth::app {

std::function<int()> add_scrub_command(CLI::App& cli) {
  struct Args {
    std::string config_file, data_dir, rate;
    bool repair = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = cli.add_subcommand("scrub",
                                 "Verify every stored blob against its digest (safe while berth "
                                 "serves). Prints 'corrupt DIGEST' or "
                                 "'missing DIGEST' per problem on stdout; exits 0 when all is "
                                 "intact, 1 when something is corrupt or "
                                 "missing, 2 when the scrub could not run");
  cmd->add_option("-c,--config", args->config_file, "YAML configuration file");
  cmd->add_option("--data-dir", args->data_dir, "Data directory");
  cmd->add_flag(
      "--repair", args->repair,
      "Move corrupt blobs to <data-dir>/quarantine; they read as missing until pushed again");
  cmd->add_option("--rate", args->rate,
                  "Read at most this many bytes per second, e.g. 64m (default: unlimited)");
  return [=]() -> int {
    if (!cmd->parsed()) return -1;
    log::set_level("warn");
    auto loaded = operator_config(args->config_file, args->data_dir);
    if (!loaded) {
      std::cerr << "berth scrub: " << loaded.status().message() << "\n";
      return 2;
    }
    Config& config = *loaded;
    ScrubOptions options;
    options.repair = args->repair;
    if (!args->rate.empty()) {
      auto r = parse_size(args->rate);
      if (!r) {
        std::cerr << "berth scrub: --rate: " << r.status().message() << "\n";
        return 2;
      }
      options.rate_bytes_per_second = *r;
    }
    auto stores = open_stores(config, OpenMode::kExisting);
    if (!stores) {
      std::cerr << "berth scrub: " << stores.status().message() << "\n";
      return 2;
    }
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    auto progress = [tty](size_t done, size_t total) {
      if (tty && (done % 16 == 0 || done == total)) {
        std::fprintf(stderr, "\rchecked %zu/%zu blobs", done, total);
        if (done == total) std::fprintf(stderr, "\n");
      }
    };
    auto on_issue = [tty](const ScrubIssue& issue) {
      if (tty) std::fprintf(stderr, "\r");
      std::cout << fmt::format("{} {} ({}{})\n",
                               issue.kind == ScrubIssue::Kind::kCorrupt ? "corrupt" : "missing",
                               issue.digest.str(), issue.detail,
                               issue.quarantined ? "; quarantined" : "")
                << std::flush;
    };
    Scrubber scrubber(*stores->meta, *stores->blobs);
    auto report = scrubber.run(options, on_issue, progress);
    if (!report) {
      std::cerr << "berth scrub: " << report.status().message() << "\n";
      return 2;
    }
    std::cerr << fmt::format(
        "scrubbed {} blobs, {} bytes in {:.3f}s: {} corrupt, {} missing, {} quarantined\n",
        report->checked, report->bytes, report->seconds, report->corrupt, report->missing,
        report->quarantined);
    return report->corrupt + report->missing > 0 ? 1 : 0;
  };
}

}  // namespace berth::app
