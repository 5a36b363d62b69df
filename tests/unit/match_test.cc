// Matching inventories against advisories: table-driven range cases under
// dpkg and apk ordering, then the Alpine 3.18 base image against the real
// vuln-list 3.18 secdb files.
#include "scan/match.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "scan/advisory_parse.h"
#include "scan/version.h"

namespace berth::scan {
namespace {

namespace fs = std::filesystem;

InstalledPackage deb(std::string name, std::string version, std::string source = "",
                     std::string source_version = "") {
  InstalledPackage p;
  p.kind = PackageKind::kDpkg;
  p.name = std::move(name);
  p.version = std::move(version);
  p.source_name = source.empty() ? p.name : std::move(source);
  p.source_version = source_version.empty() ? p.version : std::move(source_version);
  p.architecture = "amd64";
  return p;
}

InstalledPackage apk(std::string name, std::string version, std::string origin) {
  InstalledPackage p;
  p.kind = PackageKind::kApk;
  p.name = std::move(name);
  p.version = std::move(version);
  p.source_name = std::move(origin);
  p.source_version = p.version;
  p.architecture = "x86_64";
  return p;
}

Advisory advisory(std::string id, AffectedPackage p, Severity s = Severity::kMedium) {
  Advisory a;
  a.id = std::move(id);
  a.severity = s;
  a.affected.push_back(std::move(p));
  return a;
}

AffectedPackage range(std::string ecosystem, std::string package, std::string introduced,
                      std::string fixed) {
  AffectedPackage p;
  p.ecosystem = std::move(ecosystem);
  p.package = std::move(package);
  p.introduced = std::move(introduced);
  p.fixed = std::move(fixed);
  return p;
}

struct RangeCase {
  std::string ecosystem;
  InstalledPackage installed;
  AffectedPackage affected;
  bool expect_match;
};

TEST(Match, RangeTable) {
  AffectedPackage not_affected = range("Debian:12", "xz-utils", "", "");
  not_affected.not_affected = true;
  AffectedPackage listed = range("Ubuntu:22.04", "jansson", "2.0", "2.5");
  listed.versions = {"2.13.1-1.1build3"};
  const std::vector<RangeCase> cases = {
      // Plain dpkg: older than the fix, equal, newer.
      {"Debian:12", deb("libssl3", "3.0.11-1~deb12u2", "openssl"),
       range("Debian:12", "openssl", "", "3.0.13-1~deb12u1"), true},
      {"Debian:12", deb("libssl3", "3.0.13-1~deb12u1", "openssl"),
       range("Debian:12", "openssl", "", "3.0.13-1~deb12u1"), false},
      {"Debian:12", deb("libssl3", "3.0.13-1", "openssl"),
       range("Debian:12", "openssl", "", "3.0.13-1~deb12u1"), false},
      // '~' sorts before everything: 3.0.13-1~deb12u1 < 3.0.13-1.
      {"Debian:12", deb("openssl", "3.0.13-1~deb12u1"),
       range("Debian:12", "openssl", "", "3.0.13-1"), true},
      // Epochs: 1:1.2.11 is newer than 1.2.13 (no epoch), older than 1:1.2.13.
      {"Debian:12", deb("zlib1g", "1:1.2.13.dfsg-1", "zlib"),
       range("Debian:12", "zlib", "", "1:1.2.11.dfsg-4.1"), false},
      {"Debian:12", deb("zlib1g", "1:1.2.11.dfsg-2", "zlib"),
       range("Debian:12", "zlib", "", "1.2.13.dfsg-1"), false},
      {"Debian:12", deb("zlib1g", "1:1.2.11.dfsg-2", "zlib"),
       range("Debian:12", "zlib", "", "1:1.2.11.dfsg-4.1"), true},
      // introduced bound: before it, at it.
      {"Debian:12", deb("foo", "1.9-1"), range("Debian:12", "foo", "2.0-1", "2.5-1"), false},
      {"Debian:12", deb("foo", "2.0-1"), range("Debian:12", "foo", "2.0-1", "2.5-1"), true},
      {"Debian:12", deb("foo", "2.4-1"), range("Debian:12", "foo", "0", "2.5-1"), true},
      // No fix: every version.
      {"Debian:12", deb("libc6", "2.36-9+deb12u3", "glibc"), range("Debian:12", "glibc", "", ""),
       true},
      // not_affected never matches.
      {"Debian:12", deb("liblzma5", "5.4.1-0.2", "xz-utils"), not_affected, false},
      // Another ecosystem never matches; nor the binary name when the source differs.
      {"Debian:11", deb("libssl3", "3.0.1-1", "openssl"),
       range("Debian:12", "openssl", "", "3.0.13-1"), false},
      {"Debian:12", deb("libssl3", "3.0.1-1", "openssl"), range("Debian:12", "libssl3", "", "9"),
       false},
      // A binNMU is compared by its source version: 1.2-3 < fix 1.2-4.
      {"Debian:12", deb("libfoo1", "1.2-3+b1", "foo", "1.2-3"),
       range("Debian:12", "foo", "", "1.2-4"), true},
      // OSV's listed versions match outside the range too.
      {"Ubuntu:22.04", deb("libjansson4", "2.13.1-1.1build3", "jansson"), listed, true},
      {"Ubuntu:22.04", deb("libjansson4", "2.13.1-1.1build4", "jansson"), listed, false},
      // apk ordering: -rN, letters and _p suffixes.
      {"Alpine:v3.18", apk("libcrypto3", "3.1.0-r4", "openssl"),
       range("Alpine:v3.18", "openssl", "", "3.1.1-r0"), true},
      {"Alpine:v3.18", apk("libcrypto3", "3.1.0-r4", "openssl"),
       range("Alpine:v3.18", "openssl", "", "3.1.0-r4"), false},
      {"Alpine:v3.18", apk("libcrypto3", "1.1.1d-r2", "openssl"),
       range("Alpine:v3.18", "openssl", "", "1.1.1d-r3"), true},
      {"Alpine:v3.18", apk("libcrypto3", "1.1.1k-r0", "openssl"),
       range("Alpine:v3.18", "openssl", "", "1.1.1d-r3"), false},
      {"Alpine:v3.18", apk("musl", "1.2.2_pre1-r0", "musl"),
       range("Alpine:v3.18", "musl", "", "1.2.2_pre2-r0"), true},
      {"Alpine:v3.18", apk("musl", "1.2.2-r0", "musl"),
       range("Alpine:v3.18", "musl", "", "1.2.2_pre2-r0"), false},
      // An apk package is never matched in a Debian ecosystem and vice versa.
      {"Debian:12", apk("musl", "1.0-r0", "musl"), range("Debian:12", "musl", "", "2.0-1"), false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const RangeCase& c = cases[i];
    Inventory inv;
    inv.packages.push_back(c.installed);
    const std::vector<Advisory> candidates{advisory("CVE-2099-" + std::to_string(i), c.affected)};
    const auto findings = match(inv, c.ecosystem, candidates);
    EXPECT_EQ(findings.size(), c.expect_match ? 1u : 0u)
        << "case " << i << ": " << c.installed.version << " vs " << c.affected.introduced << ".."
        << c.affected.fixed;
    if (c.expect_match && findings.size() == 1) {
      EXPECT_EQ(findings[0].package_name, c.installed.name);
      EXPECT_EQ(findings[0].package_version, c.installed.version);
      EXPECT_EQ(findings[0].fixed_version, c.affected.fixed);
    }
  }
}

TEST(Match, FindingFieldsOrderAndOneFindingPerPackage) {
  Inventory inv;
  inv.packages = {deb("libssl3", "3.0.11-1~deb12u2", "openssl"),
                  deb("openssl", "3.0.11-1~deb12u2")};
  Advisory low =
      advisory("CVE-2023-0001", range("Debian:12", "openssl", "", "3.0.13-1"), Severity::kLow);
  low.description = "d";
  Advisory high = advisory("CVE-2023-0002", range("Debian:12", "openssl", "", ""), Severity::kHigh);
  high.uri = "https://example.test/CVE-2023-0002";
  high.cvss_score = 7.5;
  high.cvss_vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
  // The same vulnerability again from a second source with two ranges.
  Advisory high_again =
      advisory("CVE-2023-0002", range("Debian:12", "openssl", "", "3.0.12-1"), Severity::kMedium);
  high_again.affected.push_back(range("Debian:12", "openssl", "3.0.0", ""));
  const std::vector<Advisory> candidates{low, high, high_again};
  const auto f = match(inv, "Debian:12", candidates);
  ASSERT_EQ(f.size(), 4u);
  // Severity descending, then name, then package.
  EXPECT_EQ(f[0].name, "CVE-2023-0002");
  EXPECT_EQ(f[0].package_name, "libssl3");
  EXPECT_EQ(f[0].severity, Severity::kHigh);
  EXPECT_EQ(f[0].uri, "https://example.test/CVE-2023-0002");
  EXPECT_EQ(f[0].cvss_score, 7.5);
  EXPECT_EQ(f[0].fixed_version, "");
  EXPECT_EQ(f[1].name, "CVE-2023-0002");
  EXPECT_EQ(f[1].package_name, "openssl");
  EXPECT_EQ(f[2].name, "CVE-2023-0001");
  EXPECT_EQ(f[2].package_name, "libssl3");
  EXPECT_EQ(f[2].severity, Severity::kLow);
  EXPECT_EQ(f[2].description, "d");
  EXPECT_EQ(f[2].fixed_version, "3.0.13-1");
  EXPECT_EQ(f[2].uri, "https://security-tracker.debian.org/tracker/CVE-2023-0001");
  EXPECT_EQ(f[3].package_name, "openssl");
}

TEST(Match, DefaultUrisByEcosystem) {
  Inventory inv;
  inv.packages = {apk("zlib", "1.2.13-r1", "zlib")};
  const std::vector<Advisory> c{advisory("CVE-2099-1", range("Alpine:v3.18", "zlib", "", ""))};
  const auto f = match(inv, "Alpine:v3.18", c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].uri, "https://security.alpinelinux.org/vuln/CVE-2099-1");
}

// --- The Alpine 3.18 base image against vuln-list's secdb 3.18 ---------------

fs::path secdb_318() {
  return fs::path(BERTH_TESTDATA_DIR) / "osv/alpine-secdb-vuln-list/3.18/main";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/testdata/pkgdb/alpine-3.18-base/lib/apk/db/installed, its
// P/V/o fields copied by hand (15 packages).
Inventory alpine_318_base() {
  Inventory inv;
  inv.os = OsRelease{"alpine", "3.18.4", "", "Alpine Linux v3.18"};
  inv.packages = {
      apk("alpine-baselayout", "3.4.3-r1", "alpine-baselayout"),
      apk("alpine-baselayout-data", "3.4.3-r1", "alpine-baselayout"),
      apk("alpine-keys", "2.4-r1", "alpine-keys"),
      apk("apk-tools", "2.14.0-r0", "apk-tools"),
      apk("busybox", "1.36.0-r9", "busybox"),
      apk("busybox-binsh", "1.36.0-r9", "busybox"),
      apk("ca-certificates-bundle", "20230506-r0", "ca-certificates"),
      apk("libc-utils", "0.7.2-r5", "libc-dev"),
      apk("libcrypto3", "3.1.0-r4", "openssl"),
      apk("libssl3", "3.1.0-r4", "openssl"),
      apk("musl", "1.2.4-r0", "musl"),
      apk("musl-utils", "1.2.4-r0", "musl"),
      apk("scanelf", "1.3.7-r1", "pax-utils"),
      apk("ssl_client", "1.36.0-r9", "busybox"),
      apk("zlib", "1.2.13-r1", "zlib"),
  };
  return inv;
}

TEST(Match, Alpine318BaseAgainstSecdb) {
  const Inventory inv = alpine_318_base();
  std::vector<Advisory> candidates;
  // Expected, straight from the JSON files: every (id, installed package)
  // whose origin's secfixes key (not "0") is newer than the installed version.
  std::set<std::pair<std::string, std::string>> expected;
  for (const auto& file : fs::directory_iterator(secdb_318())) {
    const std::string text = read_file(file.path());
    auto parsed = parse_advisories(AdvisoryFormat::kAlpineSecdb, text);
    ASSERT_TRUE(parsed.is_ok()) << file.path();
    candidates.insert(candidates.end(), parsed->begin(), parsed->end());

    const boost::json::value doc = boost::json::parse(text);
    const std::string origin(doc.at("name").as_string());
    for (const auto& [key, ids] : doc.at("secfixes").as_object()) {
      if (key == "0") continue;
      for (const auto& pkg : inv.packages) {
        if (pkg.source_name != origin || compare_apk_versions(pkg.version, key) >= 0) continue;
        for (const auto& id : ids.as_array())
          expected.emplace(std::string(id.as_string()), pkg.name);
      }
    }
  }
  const auto findings = match(inv, "Alpine:v3.18", candidates);
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& f : findings) EXPECT_TRUE(got.emplace(f.name, f.package_name).second);
  EXPECT_EQ(got, expected);
  EXPECT_GT(expected.size(), 20u);

  // Checked by hand against openssl.json, musl.json and zlib.json:
  // - libcrypto3 3.1.0-r4 (origin openssl) < 3.1.1-r0, the fix of CVE-2023-2650;
  // - musl 1.2.4-r0 < 1.2.4-r3, the fix of CVE-2025-26519;
  // - libssl3 3.1.0-r4 is not older than 3.1.0-r4 (CVE-2023-1255);
  // - zlib's CVE-2023-45853 is under "0": not affected.
  EXPECT_TRUE(got.count({"CVE-2023-2650", "libcrypto3"}));
  EXPECT_TRUE(got.count({"CVE-2025-26519", "musl"}));
  EXPECT_TRUE(got.count({"CVE-2025-26519", "musl-utils"}));
  EXPECT_FALSE(got.count({"CVE-2023-1255", "libssl3"}));
  EXPECT_FALSE(got.count({"CVE-2023-45853", "zlib"}));
  for (const auto& f : findings) {
    if (f.name == "CVE-2023-2650" && f.package_name == "libcrypto3") {
      EXPECT_EQ(f.fixed_version, "3.1.1-r0");
      EXPECT_EQ(f.package_version, "3.1.0-r4");
      EXPECT_EQ(f.uri, "https://security.alpinelinux.org/vuln/CVE-2023-2650");
    }
  }
}

}  // namespace
}  // namespace berth::scan
