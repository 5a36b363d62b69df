#include "scan/match.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "scan/version.h"

namespace berth::scan {
namespace {

using Compare = int (*)(std::string_view, std::string_view);

bool is_alpine(const std::string& ecosystem) {
  return ecosystem.starts_with("Alpine:");
}

// Whether `installed` is in the affected range of `p` under `cmp`:
// introduced <= installed < fixed (a bound left empty is open), or one of
// OSV's explicitly listed versions.
bool affects(const AffectedPackage& p, std::string_view installed, Compare cmp) {
  if (p.not_affected) return false;
  for (const auto& v : p.versions)
    if (cmp(installed, v) == 0) return true;
  // An entry that only lists versions (no range) is handled by the parser as
  // "every version"; here a list with a range is matched in addition to it.
  const bool from_start = p.introduced.empty() || p.introduced == "0";
  if (!from_start && cmp(installed, p.introduced) < 0) return false;
  if (!p.fixed.empty() && cmp(installed, p.fixed) >= 0) return false;
  return true;
}

std::string default_uri(const std::string& ecosystem, const std::string& id) {
  if (ecosystem.starts_with("Debian:")) return "https://security-tracker.debian.org/tracker/" + id;
  if (is_alpine(ecosystem)) return "https://security.alpinelinux.org/vuln/" + id;
  return "https://osv.dev/vulnerability/" + id;
}

}  // namespace

std::vector<Finding> match(const Inventory& inventory, const std::string& ecosystem,
                           std::span<const Advisory> candidates) {
  const bool alpine = is_alpine(ecosystem);
  const PackageKind kind = alpine ? PackageKind::kApk : PackageKind::kDpkg;
  const Compare cmp = alpine ? &compare_apk_versions : &compare_dpkg_versions;

  // source package (or origin) -> (advisory, its entry for that package) in this ecosystem
  std::unordered_map<std::string, std::vector<std::pair<const Advisory*, const AffectedPackage*>>>
      by_source;
  for (const auto& a : candidates)
    for (const auto& p : a.affected)
      if (p.ecosystem == ecosystem) by_source[p.package].emplace_back(&a, &p);

  // (vulnerability, installed package) -> index in `out`
  std::map<std::pair<std::string, std::string>, size_t> seen;
  std::vector<Finding> out;
  for (const auto& pkg : inventory.packages) {
    if (pkg.kind != kind) continue;
    const std::string& source = pkg.source_name.empty() ? pkg.name : pkg.source_name;
    auto it = by_source.find(source);
    if (it == by_source.end()) continue;
    // Advisories name source versions; a binNMU's binary version may differ.
    const std::string& version = pkg.source_version.empty() ? pkg.version : pkg.source_version;
    for (const auto& [a, p] : it->second) {
      if (!affects(*p, version, cmp)) continue;
      auto [slot, inserted] = seen.try_emplace({a->id, pkg.name}, out.size());
      if (!inserted) {
        // The same vulnerability from another entry or source: keep one
        // finding, with the highest severity any of them gives.
        Finding& f = out[slot->second];
        if (a->severity > f.severity) {
          f.severity = a->severity;
          f.cvss_score = a->cvss_score;
          f.cvss_vector = a->cvss_vector;
        }
        continue;
      }
      Finding f;
      f.name = a->id;
      f.description = a->description;
      f.uri = a->uri.empty() ? default_uri(ecosystem, a->id) : a->uri;
      f.severity = a->severity;
      f.package_name = pkg.name;
      f.package_version = pkg.version;
      f.fixed_version = p->fixed;
      f.cvss_score = a->cvss_score;
      f.cvss_vector = a->cvss_vector;
      out.push_back(std::move(f));
    }
  }
  std::sort(out.begin(), out.end(), [](const Finding& x, const Finding& y) {
    if (x.severity != y.severity) return x.severity > y.severity;
    return std::tie(x.name, x.package_name) < std::tie(y.name, y.package_name);
  });
  return out;
}

}  // namespace berth::scan
