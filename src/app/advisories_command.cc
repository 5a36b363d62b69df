#include "app/advisories_command.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "app/config.h"
#include "app/stores.h"
#include "core/clock.h"
#include "log/log.h"
#include "meta/advisory_store.h"

namespace berth::app {

namespace fs = std::filesystem;

namespace {

const char* format_name(scan::AdvisoryFormat f) {
  switch (f) {
    case scan::AdvisoryFormat::kDebianTrackerList:
      return "debian-tracker-list";
    case scan::AdvisoryFormat::kDebianTrackerJson:
      return "debian-tracker-json";
    case scan::AdvisoryFormat::kAlpineSecdb:
      return "alpine-secdb";
    case scan::AdvisoryFormat::kOsv:
      return "osv";
  }
  return "unknown";
}

std::string iso_time(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> utc_ms(int year, int month, int day, int hour = 0, int minute = 0,
                              int second = 0) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

bool starts_with_zip_magic(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::string_view(magic, 4) == std::string_view("PK\x03\x04", 4);
}

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return error(Code::kNotFound, fmt::format("{}: cannot be read", p.string()));
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

int64_t mtime_ms(const fs::path& p) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  if (ec) return 0;
  const auto sys = std::chrono::file_clock::to_sys(t);
  return std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
}

// Every regular entry of the zip archive `p`, sorted by name.
Status read_zip(const fs::path& p, std::vector<AdvisoryFile>& out) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), p.c_str(), 64 * 1024) != ARCHIVE_OK) {
    return error(Code::kInvalidArgument,
                 fmt::format("{}: not a readable zip archive: {}", p.string(),
                             archive_error_string(a.get()) ? archive_error_string(a.get()) : ""));
  }
  std::vector<AdvisoryFile> files;
  archive_entry* entry = nullptr;
  while (true) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return error(Code::kInvalidArgument,
                   fmt::format("{}: {}", p.string(),
                               archive_error_string(a.get()) ? archive_error_string(a.get())
                                                             : "unreadable entry"));
    }
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    AdvisoryFile f;
    f.name = fmt::format("{}:{}", p.string(), archive_entry_pathname(entry));
    f.mtime_ms = static_cast<int64_t>(archive_entry_mtime(entry)) * 1000;
    char buf[64 * 1024];
    while (true) {
      const la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n < 0) {
        return error(Code::kInvalidArgument,
                     fmt::format("{}: {}", f.name,
                                 archive_error_string(a.get()) ? archive_error_string(a.get())
                                                               : "unreadable data"));
      }
      if (n == 0) break;
      f.content.append(buf, static_cast<size_t>(n));
    }
    files.push_back(std::move(f));
  }
  std::sort(files.begin(), files.end(),
            [](const AdvisoryFile& x, const AdvisoryFile& y) { return x.name < y.name; });
  for (AdvisoryFile& f : files) out.push_back(std::move(f));
  return Status::ok();
}

Status add_file(const fs::path& p, std::vector<AdvisoryFile>& out) {
  if (starts_with_zip_magic(p)) return read_zip(p, out);
  BERTH_ASSIGN_OR_RETURN(std::string content, read_file(p));
  out.push_back(AdvisoryFile{p.string(), std::move(content), mtime_ms(p)});
  return Status::ok();
}

}  // namespace

Result<std::vector<AdvisoryFile>> collect_advisory_files(const std::vector<std::string>& paths) {
  std::vector<AdvisoryFile> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return error(Code::kNotFound, fmt::format("{}: no such file", path));
    if (fs::is_directory(st)) {
      std::vector<fs::path> files;
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file()) files.push_back(it->path());
      }
      if (ec) return error(Code::kNotFound, fmt::format("{}: {}", path, ec.message()));
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) BERTH_RETURN_IF_ERROR(add_file(f, out));
    } else {
      BERTH_RETURN_IF_ERROR(add_file(path, out));
    }
  }
  return out;
}

std::optional<int64_t> advisory_data_date_ms(scan::AdvisoryFormat format,
                                             std::string_view content) {
  std::optional<int64_t> newest;
  auto note = [&](std::optional<int64_t> t) {
    if (t && (!newest || *t > *newest)) newest = t;
  };
  if (format == scan::AdvisoryFormat::kDebianTrackerList) {
    // Each advisory starts "[29 Mar 2023] DSA-5380-1 ...".
    static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    size_t pos = 0;
    while (pos < content.size()) {
      size_t end = content.find('\n', pos);
      if (end == std::string_view::npos) end = content.size();
      const std::string line(content.substr(pos, end - pos));
      pos = end + 1;
      int day = 0, year = 0;
      char month[4] = {};
      if (line.empty() || line[0] != '[') continue;
      if (std::sscanf(line.c_str(), "[%d %3s %d]", &day, month, &year) != 3) continue;
      for (int m = 0; m < 12; ++m) {
        if (kMonths[m] == month) note(utc_ms(year, m + 1, day));
      }
    }
  } else if (format == scan::AdvisoryFormat::kOsv) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(content, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const boost::json::value* modified = v.as_object().if_contains("modified");
    if (!modified || !modified->is_string()) return std::nullopt;
    const std::string text(modified->as_string());
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6)
      note(utc_ms(y, mo, d, h, mi, s));
  }
  return newest;
}

namespace {

struct ParsedFile {
  std::string name;
  scan::AdvisoryFormat format;
  size_t advisories = 0;
  size_t affected = 0;
  int64_t produced_ms = 0;
  bool dated_by_mtime = false;
};

int run_import(const Config& config, const std::vector<std::string>& paths) {
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  auto files = collect_advisory_files(paths);
  if (!files) {
    std::cerr << "berth advisories import: " << files.status().message() << "\n";
    return 1;
  }
  // A path named on the command line must be advisory data; inside a
  // directory or archive, other files are skipped.
  auto named_directly = [&](const std::string& name) {
    return std::find(paths.begin(), paths.end(), name) != paths.end();
  };
  std::vector<scan::Advisory> all;
  std::vector<ParsedFile> parsed;
  std::map<std::string, size_t> per_format;
  size_t index = 0;
  for (const AdvisoryFile& f : *files) {
    ++index;
    if (terminal) {
      std::cout << fmt::format("\rparsing {}/{} files", index, files->size()) << std::flush;
    }
    const std::string base = fs::path(f.name).filename().string();
    const auto format = scan::detect_advisory_format(base, f.content);
    if (!format) {
      if (named_directly(f.name)) {
        std::cerr << (terminal ? "\n" : "")
                  << fmt::format(
                         "berth advisories import: {}: not advisory data in any "
                         "format berth reads; nothing imported\n",
                         f.name);
        return 1;
      }
      std::cout << (terminal ? "\r\033[K" : "")
                << fmt::format("{}: skipped, not advisory data\n", f.name);
      continue;
    }
    auto advisories = scan::parse_advisories(*format, f.content);
    if (!advisories) {
      std::cerr << (terminal ? "\n" : "")
                << fmt::format("berth advisories import: {}: {}; nothing imported\n", f.name,
                               advisories.status().message());
      return 1;
    }
    ParsedFile p{f.name, *format, advisories->size(), 0, 0, false};
    for (const scan::Advisory& a : *advisories) p.affected += a.affected.size();
    if (auto dated = advisory_data_date_ms(*format, f.content)) {
      p.produced_ms = *dated;
    } else {
      p.produced_ms = f.mtime_ms;
      p.dated_by_mtime = true;
    }
    ++per_format[format_name(*format)];
    for (scan::Advisory& a : *advisories) all.push_back(std::move(a));
    parsed.push_back(std::move(p));
  }
  if (terminal) std::cout << "\r\033[K" << std::flush;
  if (parsed.empty()) {
    std::cerr << "berth advisories import: no advisory data found; nothing imported\n";
    return 1;
  }
  int64_t produced_ms = 0;
  for (const ParsedFile& p : parsed) {
    produced_ms = std::max(produced_ms, p.produced_ms);
    std::cout << fmt::format("{}: {}, {} advisories, {} affected{}\n", p.name,
                             format_name(p.format), p.advisories, p.affected,
                             p.dated_by_mtime ? " (dated by file time)" : "");
  }
  std::string sources;
  for (const std::string& path : paths) sources += (sources.empty() ? "" : " ") + path;
  sources += " (";
  bool first = true;
  for (const auto& [name, count] : per_format) {
    sources += fmt::format("{}{} {}", first ? "" : ", ", name, count);
    first = false;
  }
  sources += ")";
  const auto parsed_at = std::chrono::steady_clock::now();

  auto stores = open_stores(config, OpenMode::kExisting);
  if (!stores) {
    std::cerr << "berth advisories import: " << stores.status().message() << "\n";
    return 1;
  }
  if (terminal) std::cout << "storing..." << std::flush;
  auto record =
      stores->meta->import_advisories(all, produced_ms, sources, Clock::system().now_millis());
  if (terminal) std::cout << "\r\033[K" << std::flush;
  if (!record) {
    std::cerr << "berth advisories import: " << record.status().message() << "; nothing imported\n";
    return 1;
  }
  const auto done = std::chrono::steady_clock::now();
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::cout << fmt::format(
      "imported version {}: {} files, {} advisories, {} affected (parsed {} advisories, {} "
      "affected), produced {}, parse {:.2f}s, store {:.2f}s\n",
      record->version, parsed.size(), record->advisories, record->affected, all.size(),
      [&] {
        size_t n = 0;
        for (const ParsedFile& p : parsed) n += p.affected;
        return n;
      }(),
      iso_time(record->produced_at_ms), seconds(parsed_at - started), seconds(done - parsed_at));
  return 0;
}

int run_status(const Config& config, bool json) {
  auto stores = open_stores(config, OpenMode::kExisting);
  if (!stores) {
    std::cerr << "berth advisories status: " << stores.status().message() << "\n";
    return 1;
  }
  auto latest = stores->meta->latest_advisory_import();
  if (!latest) {
    std::cerr << "berth advisories status: " << latest.status().message() << "\n";
    return 1;
  }
  if (json) {
    boost::json::object o;
    const AdvisoryImportRecord r = latest->value_or(AdvisoryImportRecord{});
    o["version"] = r.version;
    if (latest->has_value()) {
      o["produced_at_ms"] = r.produced_at_ms;
      o["imported_at_ms"] = r.imported_at_ms;
      o["sources"] = r.sources;
      o["advisories"] = r.advisories;
      o["affected"] = r.affected;
    }
    std::cout << boost::json::serialize(o) << "\n";
    return 0;
  }
  if (!latest->has_value()) {
    std::cout << "no advisories imported yet\n";
    return 0;
  }
  const AdvisoryImportRecord& r = **latest;
  std::cout << fmt::format(
      "version {}: {} advisories, {} affected, produced {}, imported {}\nsources: {}\n", r.version,
      r.advisories, r.affected, iso_time(r.produced_at_ms), iso_time(r.imported_at_ms), r.sources);
  return 0;
}

}  // namespace

std::function<int()> add_advisories_command(CLI::App& cli) {
  struct Args {
    std::string config_file, data_dir;
    std::vector<std::string> paths;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = cli.add_subcommand("advisories", "Vulnerability advisories for image scanning");
  cmd->require_subcommand(1);
  auto* import_cmd = cmd->add_subcommand(
      "import",
      "Import advisory files, directories or zip archives as one atomic import (safe while "
      "berth serves)");
  import_cmd->add_option("-c,--config", args->config_file, "YAML configuration file");
  import_cmd->add_option("--data-dir", args->data_dir, "Data directory");
  import_cmd->add_option("paths", args->paths, "Files, directories or zip archives")->required();
  auto* status = cmd->add_subcommand("status", "Show the latest advisory import");
  status->add_option("-c,--config", args->config_file, "YAML configuration file");
  status->add_option("--data-dir", args->data_dir, "Data directory");
  status->add_flag("--json", args->json, "Print the record as JSON");
  return [=]() -> int {
    if (!cmd->parsed()) return -1;
    log::set_level("warn");
    const char* name = import_cmd->parsed() ? "import" : "status";
    auto loaded = operator_config(args->config_file, args->data_dir);
    if (!loaded) {
      std::cerr << "berth advisories " << name << ": " << loaded.status().message() << "\n";
      return 2;
    }
    if (import_cmd->parsed()) return run_import(*loaded, args->paths);
    return run_status(*loaded, args->json);
  };
}

}  // namespace berth::app
