// `berth migrate`: brings the metadata database's schema to this berth's
// version (berth serve does the same at start).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace berth::app {

// Adds `migrate` to `cli`. The callback returns -1 when `migrate` was not the
// command, else the exit code: 0 migrated or already current, 1 when the
// database is missing, newer than this berth, or a step failed, 2 for a bad
// configuration.
std::function<int()> add_migrate_command(CLI::App& cli);

}  // namespace berth::app
