#include "scan/package.h"

#include <optional>
#include <string>
#include <string_view>

namespace berth::scan {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

// Debian: the major release ("12"); a Debian without VERSION_ID is testing or
// sid, which have no release of their own in the advisories berth imports
// (they name stable releases), so such an image is not scanned rather than
// matched against the wrong release. Alpine: the branch "v3.18" of
// "3.18.4" (secdb is per branch). Ubuntu: "22.04" as given.
std::optional<std::string> ecosystem_of(const OsRelease& os) {
  const std::string_view id = os.id;
  const std::string_view version = os.version_id;
  if (id == "debian") {
    const std::string_view major = version.substr(0, version.find('.'));
    if (!all_digits(major)) return std::nullopt;
    return "Debian:" + std::string(major);
  }
  if (id == "alpine") {
    const size_t dot = version.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const std::string_view major = version.substr(0, dot);
    std::string_view minor = version.substr(dot + 1);
    size_t digits = 0;
    while (digits < minor.size() && minor[digits] >= '0' && minor[digits] <= '9') ++digits;
    minor = minor.substr(0, digits);
    if (!all_digits(major) || !all_digits(minor)) return std::nullopt;
    return "Alpine:v" + std::string(major) + "." + std::string(minor);
  }
  if (id == "ubuntu") {
    const size_t dot = version.find('.');
    if (dot == std::string_view::npos || !all_digits(version.substr(0, dot)) ||
        !all_digits(version.substr(dot + 1))) {
      return std::nullopt;
    }
    return "Ubuntu:" + std::string(version);
  }
  return std::nullopt;
}

}  // namespace berth::scan
