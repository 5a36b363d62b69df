// `berth scrub`: verifies every stored blob against its digest, beside or
// without a running server.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace berth::app {

// Adds `scrub` to `cli`. The callback returns -1 when `scrub` was not the
// command, else the exit code: 0 every blob is intact, 1 some blob is corrupt
// or missing (each named on stdout), 2 the scrub could not run.
std::function<int()> add_scrub_command(CLI::App& cli);

}  // namespace berth::app
