// Matching an inventory against advisories: which installed packages are
// affected by which vulnerabilities. Pure: the caller supplies the candidate
// advisories (e.g. those a store returns for the image's ecosystem and the
// inventory's source package names).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "scan/advisory.h"
#include "scan/package.h"

namespace berth::scan {

// One finding, as ECR's basic scan reports it.
struct Finding {
  std::string name;  // "CVE-2023-5678"
  std::string description;
  std::string uri;
  Severity severity = Severity::kUndefined;
  std::string package_name;     // the installed (binary) package
  std::string package_version;  // its installed version
  std::string fixed_version;    // empty when no fix is known
  std::optional<double> cvss_score;
  std::string cvss_vector;
};

// The findings for every package of `inventory` in `ecosystem`, compared with
// that package manager's version ordering, by source package (dpkg) or origin
// (apk). Sorted by (severity descending, name, package_name); one finding per
// (vulnerability, installed package).
std::vector<Finding> match(const Inventory& inventory, const std::string& ecosystem,
                           std::span<const Advisory> candidates);

}  // namespace berth::scan
