// Advisory import and matching: parsing the whole DSA list (the largest
// advisory file of tests/testdata/osv, 4,932 advisories) and matching one
// image's inventory (~1000 packages) against ~20000 candidate advisories,
// the time a scan spends per image once its candidates are loaded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "scan/advisory_parse.h"
#include "scan/match.h"

namespace {

using namespace berth::scan;

std::string read_dsa_list() {
  std::ifstream in(std::string(BERTH_TESTDATA_DIR) + "/osv/debian-security-tracker/data/DSA/list",
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_ParseDsaList(benchmark::State& state) {
  const std::string list = read_dsa_list();
  if (list.empty()) {
    state.SkipWithError("DSA list not found under BERTH_TESTDATA_DIR");
    return;
  }
  size_t advisories = 0;
  for (auto _ : state) {
    auto r = parse_advisories(AdvisoryFormat::kDebianTrackerList, list);
    if (!r.is_ok()) {
      state.SkipWithError("the DSA list does not parse");
      return;
    }
    advisories = r->size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["advisories"] = static_cast<double>(advisories);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * list.size()));
}
BENCHMARK(BM_ParseDsaList)->Unit(benchmark::kMillisecond);

// An inventory of state.range(0) dpkg packages, one source each, and 20
// advisories per source (state.range(0) * 20 candidates): half fixed below
// the installed version, half above it, with Debian-shaped versions
// (epochs, '~', +debNuM) so that comparisons do real work.
void BM_MatchInventory(benchmark::State& state) {
  const int packages = static_cast<int>(state.range(0));
  Inventory inv;
  std::vector<Advisory> candidates;
  for (int i = 0; i < packages; ++i) {
    InstalledPackage p;
    p.kind = PackageKind::kDpkg;
    p.name = "lib" + std::to_string(i) + "-bin";
    p.source_name = "src" + std::to_string(i);
    p.version = "1:" + std::to_string(i % 7 + 1) + ".4.2-3+deb12u2";
    p.source_version = p.version;
    p.architecture = "amd64";
    inv.packages.push_back(p);
    for (int k = 0; k < 20; ++k) {
      Advisory a;
      a.id = "CVE-2024-" + std::to_string(i * 20 + k);
      a.severity = static_cast<Severity>(k % 6);
      AffectedPackage ap;
      ap.ecosystem = "Debian:12";
      ap.package = p.source_name;
      ap.fixed = "1:" + std::to_string(i % 7 + 1) + ".4." + std::to_string(k % 2 == 0 ? 1 : 3) +
                 "-1~deb12u" + std::to_string(k);
      a.affected.push_back(ap);
      candidates.push_back(std::move(a));
    }
  }
  size_t findings = 0;
  for (auto _ : state) {
    auto f = match(inv, "Debian:12", candidates);
    findings = f.size();
    benchmark::DoNotOptimize(f);
  }
  state.counters["candidates"] = static_cast<double>(candidates.size());
  state.counters["findings"] = static_cast<double>(findings);
}
BENCHMARK(BM_MatchInventory)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
