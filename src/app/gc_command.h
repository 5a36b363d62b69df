// `berth gc`: garbage collection on demand, beside or without a running server.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace berth::app {

// Adds `gc` to `cli`. The callback returns -1 when `gc` was not the command,
// else the exit code.
std::function<int()> add_gc_command(CLI::App& cli);

}  // namespace berth::app
