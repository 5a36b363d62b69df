// Version ordering of the two package managers berth inventories, exactly as
// they order versions: dpkg (deb-version(7): epoch, upstream, revision, with
// '~' sorting before everything) and apk (apk-tools' version comparison:
// digits, letters, suffixes _alpha.._p, -rN). Pure functions.
#pragma once

#include <string_view>

namespace berth::scan {

// <0 when a is older than b, 0 when equal, >0 when newer. Malformed versions
// are still ordered deterministically (never an error): data from advisories
// is compared as given.
int compare_dpkg_versions(std::string_view a, std::string_view b);
int compare_apk_versions(std::string_view a, std::string_view b);

bool valid_dpkg_version(std::string_view v);
bool valid_apk_version(std::string_view v);

}  // namespace berth::scan
