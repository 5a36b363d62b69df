// Readers of the advisory formats `berth advisories import` accepts, each
// recognised from its content: the Debian security tracker's DSA/DLA lists
// and its per-CVE JSON, Alpine's secdb (YAML or JSON), and OSV JSON records.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/advisory.h"

namespace berth::scan {

enum class AdvisoryFormat {
  kDebianTrackerList,  // data/DSA/list, data/DLA/list
  kDebianTrackerJson,  // one CVE: {"Header": ..., "Annotations": [...]}
  kAlpineSecdb,        // YAML or JSON: distroversion, packages/secfixes (or one package per file)
  kOsv,                // OSV schema: id, affected[].package.ecosystem, ranges
};

// The format of a file from its content (the name only as a hint), or nullopt
// when it is none of them.
std::optional<AdvisoryFormat> detect_advisory_format(std::string_view file_name,
                                                     std::string_view content);

// Every advisory in the file, normalised: CVE ids as `id` where the source
// names them (a DSA covering three CVEs gives three advisories), Debian
// release names mapped to "Debian:<number>", Alpine branches to
// "Alpine:v3.N". kInvalidArgument with the reason when the file does not parse.
Result<std::vector<Advisory>> parse_advisories(AdvisoryFormat format, std::string_view content);

}  // namespace berth::scan
