// Advisory import and matching: parsing the whole DSA list (the largest
// advisory file of tests/testdata/osv, 4,932 advisories); matching one
// synthetic image's inventory (~1000 packages) against ~20000 candidate
// advisories; and matching two real images (bookworm minbase, Alpine 3.18)
// against every advisory of tests/testdata/osv for their ecosystem: the time a
// scan spends per image once its candidates are loaded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scan/advisory_parse.h"
#include "scan/match.h"
#include "scan/pkgdb.h"

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

// Every advisory of tests/testdata/osv (the Debian security tracker, Alpine's secdb, OSV records:
// about 19,500 advisories), parsed once per process, as `berth advisories import` reads them.
const std::vector<Advisory>& imported_advisories() {
  static const std::vector<Advisory> all = [] {
    std::vector<Advisory> out;
    const std::filesystem::path root = std::filesystem::path(BERTH_TESTDATA_DIR) / "osv";
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string content = ss.str();
      auto format = detect_advisory_format(e.path().filename().string(), content);
      if (!format) continue;
      auto parsed = parse_advisories(*format, content);
      if (!parsed.is_ok()) continue;
      for (auto& a : *parsed) out.push_back(std::move(a));
    }
    return out;
  }();
  return all;
}

std::string read_file(const std::string& relative) {
  std::ifstream in(std::string(BERTH_TESTDATA_DIR) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A real image's packages (the bookworm minbase dpkg database, 88 packages, or Alpine 3.18's base,
// 15) matched against every imported advisory of its ecosystem: what a scan or a re-match spends
// per image once the store has handed over the candidates (the store query is not included).
void match_real_image(benchmark::State& state, Inventory inv, const std::string& ecosystem) {
  std::vector<Advisory> candidates;
  for (const auto& a : imported_advisories()) {
    for (const auto& ap : a.affected) {
      if (ap.ecosystem == ecosystem) {
        candidates.push_back(a);
        break;
      }
    }
  }
  if (inv.packages.empty() || candidates.empty()) {
    state.SkipWithError("test data for this ecosystem not found under BERTH_TESTDATA_DIR");
    return;
  }
  size_t findings = 0;
  for (auto _ : state) {
    auto f = match(inv, ecosystem, candidates);
    findings = f.size();
    benchmark::DoNotOptimize(f);
  }
  state.counters["packages"] = static_cast<double>(inv.packages.size());
  state.counters["candidates"] = static_cast<double>(candidates.size());
  state.counters["findings"] = static_cast<double>(findings);
}

void BM_MatchBookwormMinbaseAgainstImportedData(benchmark::State& state) {
  Inventory inv;
  auto pkgs = parse_dpkg_status(read_file("pkgdb/debian-bookworm-minbase/var/lib/dpkg/status"));
  if (pkgs.is_ok()) inv.packages = std::move(*pkgs);
  match_real_image(state, std::move(inv), "Debian:12");
}
BENCHMARK(BM_MatchBookwormMinbaseAgainstImportedData)->Unit(benchmark::kMillisecond);

void BM_MatchAlpine318AgainstImportedData(benchmark::State& state) {
  Inventory inv;
  auto pkgs = parse_apk_installed(read_file("pkgdb/alpine-3.18-base/lib/apk/db/installed"));
  if (pkgs.is_ok()) inv.packages = std::move(*pkgs);
  match_real_image(state, std::move(inv), "Alpine:v3.18");
}
BENCHMARK(BM_MatchAlpine318AgainstImportedData)->Unit(benchmark::kMillisecond);

}  // namespace
