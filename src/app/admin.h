// `berth admin ...`: the operator's commands for accounts, users and access
// keys. They work on the data directory directly and may run while a server
// uses it; servers notice identity changes within a second.
#pragma once

#include <CLI/CLI.hpp>

namespace berth::app {

// Adds the `admin` subcommand tree to `cli`. The returned callback runs the
// parsed command and yields the process exit code.
std::function<int()> add_admin_commands(CLI::App& cli);

}  // namespace berth::app
