// Parsers of installed-package databases and os-release, from their text.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/package.h"

namespace berth::scan {

// var/lib/dpkg/status, or one file of var/lib/dpkg/status.d/ (distroless):
// every stanza whose Status is "install ok installed" (status.d stanzas have
// no Status field and count as installed). Malformed stanzas are skipped;
// an error only when the text is not a dpkg database at all.
Result<std::vector<InstalledPackage>> parse_dpkg_status(std::string_view text);

// lib/apk/db/installed.
Result<std::vector<InstalledPackage>> parse_apk_installed(std::string_view text);

// os-release(5): KEY=value lines, values optionally quoted.
OsRelease parse_os_release(std::string_view text);

}  // namespace berth::scan
