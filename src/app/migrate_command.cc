#include "app/migrate_command.h"

#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "app/config.h"
#include "app/stores.h"
#include "log/log.h"

namespace berth::app {

std::function<int()> add_migrate_command(CLI::App& cli) {
  struct Args {
    std::string config_file, data_dir;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = cli.add_subcommand("migrate",
                                 "Bring the metadata database to this berth's schema version "
                                 "(berth serve also does at start)");
  cmd->add_option("-c,--config", args->config_file, "YAML configuration file");
  cmd->add_option("--data-dir", args->data_dir, "Data directory");
  return [=]() -> int {
    if (!cmd->parsed()) return -1;
    log::set_level("warn");
    auto loaded = operator_config(args->config_file, args->data_dir);
    if (!loaded) {
      std::cerr << "berth migrate: " << loaded.status().message() << "\n";
      return 2;
    }
    Config& config = *loaded;
    auto result = migrate_metadata(config);
    if (!result) {
      std::cerr << "berth migrate: " << result.status().message() << "\n";
      return 1;
    }
    if (result->from == result->to) {
      std::cout << fmt::format("{}: schema version {}, already current\n", result->database,
                               result->to);
    } else {
      std::cout << fmt::format("{}: schema version {} -> {}\n", result->database, result->from,
                               result->to);
    }
    return 0;
  };
}

}  // namespace berth::app
