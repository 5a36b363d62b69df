#include "scan/pkgdb.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::scan {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Calls `line_fn(line)` for each line of `text` (without its '\n').
template <typename Fn>
void for_each_line(std::string_view text, Fn&& line_fn) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    line_fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// The fields of one deb822 paragraph that an inventory uses; the first
// line of a multi-line field is its value (continuations are descriptions
// and file lists, never needed here).
struct DpkgStanza {
  std::string_view package, version, status, source, architecture;
  bool has_status = false;
  bool any_field = false;
};

// "install ok installed" and "hold ok installed": the package is on disk
// and configured as dpkg sees it (a held package is installed too).
bool status_installed(std::string_view status) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < status.size()) {
    while (pos < status.size() && (status[pos] == ' ' || status[pos] == '\t')) ++pos;
    const size_t start = pos;
    while (pos < status.size() && status[pos] != ' ' && status[pos] != '\t') ++pos;
    if (pos > start) words.push_back(status.substr(start, pos - start));
  }
  return words.size() == 3 && (words[0] == "install" || words[0] == "hold") && words[1] == "ok" &&
         words[2] == "installed";
}

void finish_dpkg_stanza(const DpkgStanza& s, std::vector<InstalledPackage>& out) {
  if (s.package.empty() || s.version.empty()) return;  // malformed: skipped
  if (s.has_status && !status_installed(s.status)) return;
  InstalledPackage pkg;
  pkg.kind = PackageKind::kDpkg;
  pkg.name = std::string(s.package);
  pkg.version = std::string(s.version);
  pkg.architecture = std::string(s.architecture);
  pkg.source_name = pkg.name;
  pkg.source_version = pkg.version;
  if (!s.source.empty()) {
    // "name" or "name (version)".
    const size_t paren = s.source.find('(');
    pkg.source_name = std::string(trim(s.source.substr(0, paren)));
    if (paren != std::string_view::npos) {
      std::string_view v = s.source.substr(paren + 1);
      v = v.substr(0, v.find(')'));
      if (!trim(v).empty()) pkg.source_version = std::string(trim(v));
    }
    if (pkg.source_name.empty()) pkg.source_name = pkg.name;
  }
  out.push_back(std::move(pkg));
}

}  // namespace

Result<std::vector<InstalledPackage>> parse_dpkg_status(std::string_view text) {
  std::vector<InstalledPackage> out;
  DpkgStanza stanza;
  bool saw_package = false;
  bool saw_content = false;
  for_each_line(text, [&](std::string_view line) {
    if (trim(line).empty()) {
      if (stanza.any_field) finish_dpkg_stanza(stanza, out);
      stanza = DpkgStanza{};
      return;
    }
    saw_content = true;
    if (line.front() == ' ' || line.front() == '\t' || line.front() == '#')
      return;  // continuation, comment
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return;  // not a field: ignored
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    stanza.any_field = true;
    if (iequals(name, "Package")) {
      stanza.package = value;
      saw_package = true;
    } else if (iequals(name, "Version")) {
      stanza.version = value;
    } else if (iequals(name, "Status")) {
      stanza.status = value;
      stanza.has_status = true;
    } else if (iequals(name, "Source")) {
      stanza.source = value;
    } else if (iequals(name, "Architecture")) {
      stanza.architecture = value;
    }
  });
  if (stanza.any_field) finish_dpkg_stanza(stanza, out);
  if (saw_content && !saw_package) {
    return error(Code::kInvalidArgument, "not a dpkg status database: no Package field");
  }
  return out;
}

Result<std::vector<InstalledPackage>> parse_apk_installed(std::string_view text) {
  std::vector<InstalledPackage> out;
  InstalledPackage pkg;
  bool in_record = false;
  bool saw_package = false;
  bool saw_content = false;
  const auto finish = [&] {
    if (in_record && !pkg.name.empty() && !pkg.version.empty()) {
      if (pkg.source_name.empty()) pkg.source_name = pkg.name;
      pkg.source_version = pkg.version;
      out.push_back(std::move(pkg));
    }
    pkg = InstalledPackage{};
    pkg.kind = PackageKind::kApk;
    in_record = false;
  };
  pkg.kind = PackageKind::kApk;
  for_each_line(text, [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      finish();
      return;
    }
    saw_content = true;
    if (line.size() < 2 || line[1] != ':') return;  // not a "X:value" line: ignored
    in_record = true;
    const std::string value(line.substr(2));
    switch (line[0]) {
      case 'P':
        pkg.name = value;
        saw_package = true;
        break;
      case 'V':
        pkg.version = value;
        break;
      case 'A':
        pkg.architecture = value;
        break;
      case 'o':
        pkg.source_name = value;
        break;
      case 'L':
        pkg.license = value;
        break;
      default:
        break;
    }
  });
  finish();
  if (saw_content && !saw_package) {
    return error(Code::kInvalidArgument, "not an apk installed database: no P: line");
  }
  return out;
}

OsRelease parse_os_release(std::string_view text) {
  OsRelease os;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() == '#') return;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return;
    const std::string_view key = trim(line.substr(0, eq));
    std::string_view raw = trim(line.substr(eq + 1));
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      // Shell-style quoting: single quotes literal; double quotes with
      // backslash escapes of $ " \ and `. An unterminated quote takes the
      // rest of the line.
      const char quote = raw.front();
      for (size_t i = 1; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == quote) break;
        if (quote == '"' && c == '\\' && i + 1 < raw.size() &&
            std::string_view("$\"\\`").find(raw[i + 1]) != std::string_view::npos) {
          value.push_back(raw[++i]);
          continue;
        }
        value.push_back(c);
      }
    } else {
      value = std::string(raw);
    }
    if (key == "ID") {
      os.id = std::move(value);
    } else if (key == "VERSION_ID") {
      os.version_id = std::move(value);
    } else if (key == "VERSION_CODENAME") {
      os.version_codename = std::move(value);
    } else if (key == "PRETTY_NAME") {
      os.pretty_name = std::move(value);
    }
  });
  return os;
}

}  // namespace berth::scan
