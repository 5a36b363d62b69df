// Advisories as berth stores and matches them, whatever source they came
// from (Debian's security tracker, Alpine's secdb, OSV records): one record
// per vulnerability id and affected package range. Plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::scan {

// ECR's severity names: INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNDEFINED.
enum class Severity { kUndefined, kInformational, kLow, kMedium, kHigh, kCritical };
const char* severity_name(Severity s);

// One affected package of one vulnerability, in one ecosystem.
struct AffectedPackage {
  std::string ecosystem;   // "Debian:12", "Alpine:v3.18", "Ubuntu:22.04:LTS"
  std::string package;     // the source package (Debian, Ubuntu) or origin (Alpine)
  std::string introduced;  // empty or "0": affected from the first version
  std::string fixed;       // the first fixed version; empty: no fix (all versions affected)
  // OSV's explicit list of affected versions, matched in addition to the range.
  std::vector<std::string> versions;
  bool not_affected = false;  // Debian <not-affected>, Alpine secfixes key "0"
};

struct Advisory {
  std::string id;                    // "CVE-2023-5678" when the source names a CVE
  std::vector<std::string> aliases;  // DSA/DLA/USN/OSV ids naming the same thing
  std::string description;
  std::string uri;  // e.g. https://security-tracker.debian.org/tracker/CVE-...
  Severity severity = Severity::kUndefined;
  std::optional<double> cvss_score;
  std::string cvss_vector;
  std::vector<AffectedPackage> affected;
};

}  // namespace berth::scan
