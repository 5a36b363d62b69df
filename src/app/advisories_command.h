// `berth advisories import` and `berth advisories status`: load vulnerability
// advisories (Debian security tracker lists and JSON, Alpine secdb, OSV) into
// the metadata store's AdvisoryStore, beside or without a running server.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/advisory_parse.h"

namespace berth::app {

// Adds `advisories` (with `import` and `status`) to `cli`. The callback
// returns -1 when `advisories` was not the command, else the exit code.
std::function<int()> add_advisories_command(CLI::App& cli);

// One file of advisory data, read whole: from the file system or from a zip
// archive (named "archive.zip:inner/path").
struct AdvisoryFile {
  std::string name;
  std::string content;
  int64_t mtime_ms = 0;
};

// What `paths` hold, in a stable order (each directory and archive sorted by
// name): a file as it is, a directory's regular files recursively, a zip
// archive's (a file starting "PK\3\4") regular entries. kNotFound naming a
// path that does not exist; kInvalidArgument naming an archive that does not
// read. Thread-compatible (reads the file system only).
Result<std::vector<AdvisoryFile>> collect_advisory_files(const std::vector<std::string>& paths);

// When the data of one file was produced: the newest date it names (the
// "[DD Mon YYYY]" headers of the tracker's DSA/DLA lists, an OSV record's
// "modified"), else nullopt (the caller falls back to the file's mtime).
std::optional<int64_t> advisory_data_date_ms(scan::AdvisoryFormat format, std::string_view content);

}  // namespace berth::app
