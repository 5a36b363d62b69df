// `berth migrate-store`: copies a whole registry from one pair of stores into
// another (e.g. the embedded SQLite + disk into PostgreSQL + S3), resumably.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace berth::app {

// Adds `migrate-store` to `cli`. The callback returns -1 when it was not the
// command, else the exit code: 0 everything was copied (or, with --dry-run,
// could be), 1 some item could not be copied (each named on stderr, and in
// the --json summary) or a store failed, 2 a bad command line or
// configuration, including source and destination being the same stores.
std::function<int()> add_migrate_store_command(CLI::App& cli);

}  // namespace berth::app
