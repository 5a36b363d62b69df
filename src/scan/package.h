// What an image has installed, as its package databases say: the inventory a
// scan matches against advisories and the SBOM lists. Plain values.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace berth::scan {

enum class PackageKind { kDpkg, kApk };

struct InstalledPackage {
  PackageKind kind = PackageKind::kDpkg;
  std::string name;            // dpkg "Package:", apk "P:"
  std::string version;         // dpkg "Version:", apk "V:"
  std::string source_name;     // dpkg "Source:" without "(version)", else name; apk "o:", else name
  std::string source_version;  // dpkg "Source: x (v)" gives v, else version; apk: version
  std::string architecture;    // dpkg "Architecture:", apk "A:"
  std::string license;         // apk "L:"; empty for dpkg
};

// /etc/os-release (or /usr/lib/os-release) fields.
struct OsRelease {
  std::string id;                // "debian", "alpine", "ubuntu"
  std::string version_id;        // "12", "3.18.4", "22.04"
  std::string version_codename;  // "bookworm"
  std::string pretty_name;
};

struct Inventory {
  std::optional<OsRelease> os;
  // Sorted by (kind, name, version); one entry per installed package.
  std::vector<InstalledPackage> packages;
};

// The advisory ecosystem an OS belongs to, as advisories and OSV name it:
// "Debian:12", "Alpine:v3.18", "Ubuntu:22.04"; nullopt for an OS berth
// does not scan (the scan then ends UNSUPPORTED_IMAGE).
std::optional<std::string> ecosystem_of(const OsRelease& os);

}  // namespace berth::scan
