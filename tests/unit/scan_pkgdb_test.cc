// Package databases and os-release (src/scan/pkgdb.*, package.*): the real
// databases of tests/testdata/pkgdb (see its README) and hand-written edge
// cases of each format.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "scan/package.h"
#include "scan/pkgdb.h"

namespace {

namespace fs = std::filesystem;
using berth::Code;
using berth::scan::ecosystem_of;
using berth::scan::InstalledPackage;
using berth::scan::OsRelease;
using berth::scan::PackageKind;
using berth::scan::parse_apk_installed;
using berth::scan::parse_dpkg_status;
using berth::scan::parse_os_release;

std::string read_testdata(const std::string& rel) {
  std::ifstream in(fs::path(BERTH_TESTDATA_DIR) / "pkgdb" / rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing test data " << rel;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t count_lines_equal(const std::string& text, const std::string& wanted) {
  std::istringstream in(text);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line == wanted ? 1 : 0;
  return n;
}

const InstalledPackage* find(const std::vector<InstalledPackage>& pkgs, const std::string& name) {
  const auto it =
      std::find_if(pkgs.begin(), pkgs.end(), [&](const auto& p) { return p.name == name; });
  return it == pkgs.end() ? nullptr : &*it;
}

TEST(ScanPkgdb, BookwormMinbaseStatusHasEveryInstalledPackage) {
  const std::string text = read_testdata("debian-bookworm-minbase/var/lib/dpkg/status");
  const size_t installed = count_lines_equal(text, "Status: install ok installed");
  ASSERT_EQ(installed, 88u);  // as the data's README says; counted from the file itself
  auto pkgs = parse_dpkg_status(text);
  ASSERT_TRUE(pkgs.is_ok()) << pkgs.status().to_string();
  EXPECT_EQ(pkgs->size(), installed);

  const auto* bash = find(*pkgs, "bash");
  ASSERT_NE(bash, nullptr);
  EXPECT_EQ(bash->kind, PackageKind::kDpkg);
  EXPECT_EQ(bash->version, "5.2.15-2+b13");
  EXPECT_EQ(bash->source_name, "bash");
  EXPECT_EQ(bash->source_version, "5.2.15-2");  // "Source: bash (5.2.15-2)", a binNMU
  EXPECT_EQ(bash->architecture, "amd64");
  EXPECT_EQ(bash->license, "");

  const auto* zlib = find(*pkgs, "zlib1g");
  ASSERT_NE(zlib, nullptr);
  EXPECT_EQ(zlib->version, "1:1.2.13.dfsg-1");
  EXPECT_EQ(zlib->source_name, "zlib");
  EXPECT_EQ(zlib->source_version, "1:1.2.13.dfsg-1");

  const auto* libc = find(*pkgs, "libc6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->version, "2.36-9+deb12u14");
  EXPECT_EQ(libc->source_name, "glibc");

  // A package without a Source field is its own source.
  const auto* dpkg = find(*pkgs, "dpkg");
  ASSERT_NE(dpkg, nullptr);
  EXPECT_EQ(dpkg->source_name, "dpkg");
  EXPECT_EQ(dpkg->source_version, dpkg->version);
}

TEST(ScanPkgdb, Alpine318BaseHas15PackagesWithOrigins) {
  const std::string text = read_testdata("alpine-3.18-base/lib/apk/db/installed");
  auto pkgs = parse_apk_installed(text);
  ASSERT_TRUE(pkgs.is_ok()) << pkgs.status().to_string();
  ASSERT_EQ(pkgs->size(), 15u);
  for (const auto& p : *pkgs) {
    EXPECT_EQ(p.kind, PackageKind::kApk);
    EXPECT_FALSE(p.source_name.empty()) << p.name;
    EXPECT_EQ(p.architecture, "x86_64") << p.name;
  }
  const auto* crypto = find(*pkgs, "libcrypto3");
  ASSERT_NE(crypto, nullptr);
  EXPECT_EQ(crypto->version, "3.1.0-r4");
  EXPECT_EQ(crypto->source_name, "openssl");
  EXPECT_EQ(crypto->source_version, "3.1.0-r4");
  EXPECT_EQ(crypto->license, "Apache-2.0");
  const auto* ssl_client = find(*pkgs, "ssl_client");
  ASSERT_NE(ssl_client, nullptr);
  EXPECT_EQ(ssl_client->source_name, "busybox");
  EXPECT_EQ(ssl_client->version, "1.36.0-r9");
  const auto* musl = find(*pkgs, "musl");
  ASSERT_NE(musl, nullptr);
  EXPECT_EQ(musl->version, "1.2.4-r0");
  EXPECT_EQ(musl->license, "MIT");
}

TEST(ScanPkgdb, BookwormOsRelease) {
  const OsRelease os = parse_os_release(read_testdata("debian-bookworm-minbase/os-release"));
  EXPECT_EQ(os.id, "debian");
  EXPECT_EQ(os.version_id, "12");
  EXPECT_EQ(os.version_codename, "bookworm");
  EXPECT_EQ(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(ecosystem_of(os), "Debian:12");
}

TEST(ScanPkgdb, DpkgStanzasStatusesAndContinuations) {
  const std::string text =
      "Package: kept\n"
      "Status: install ok installed\n"
      "Version: 1.0-1\n"
      "Description: first line\n"
      " Package: not-a-field (a continuation)\n"
      " .\n"
      "Conffiles:\n"
      " /etc/x 0123\n"
      "\n"
      "Package: removed\n"
      "Status: deinstall ok config-files\n"
      "Version: 2.0\n"
      "\n"
      "Package: half\n"
      "Status: install ok half-installed\n"
      "Version: 2.0\n"
      "\n"
      "Package: held\n"
      "Status: hold ok installed\n"
      "Version: 3.0\n"
      "\r\n"
      "Package: noversion\n"
      "Status: install ok installed\n"
      "\n\n\n"
      "Package: crlf\r\n"
      "Status: install ok installed\r\n"
      "Version: 4.0\r\n"
      "Source: src (3.9)\r\n";
  auto pkgs = parse_dpkg_status(text);
  ASSERT_TRUE(pkgs.is_ok()) << pkgs.status().to_string();
  std::vector<std::string> names;
  for (const auto& p : *pkgs) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"kept", "held", "crlf"}));
  EXPECT_EQ((*pkgs)[0].version, "1.0-1");
  EXPECT_EQ((*pkgs)[2].version, "4.0");
  EXPECT_EQ((*pkgs)[2].source_name, "src");
  EXPECT_EQ((*pkgs)[2].source_version, "3.9");
}

TEST(ScanPkgdb, DistrolessStatusDFileHasNoStatusField) {
  auto pkgs = parse_dpkg_status(
      "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n");
  ASSERT_TRUE(pkgs.is_ok());
  ASSERT_EQ(pkgs->size(), 1u);
  EXPECT_EQ((*pkgs)[0].source_name, "openssl");
  EXPECT_EQ((*pkgs)[0].source_version, "3.0.11-1~deb12u2");
}

TEST(ScanPkgdb, EmptyDatabasesAreEmptyAndGarbageIsAnError) {
  EXPECT_TRUE(parse_dpkg_status("").is_ok());
  EXPECT_TRUE(parse_dpkg_status("\n\n").value().empty());
  EXPECT_TRUE(parse_apk_installed("").value().empty());
  auto dpkg = parse_dpkg_status(
      "\x7f"
      "ELF\x02\x01\x01 binary junk\n");
  ASSERT_FALSE(dpkg.is_ok());
  EXPECT_EQ(dpkg.status().code(), Code::kInvalidArgument);
  auto apk = parse_apk_installed("this is not\nan apk database\n");
  ASSERT_FALSE(apk.is_ok());
  EXPECT_EQ(apk.status().code(), Code::kInvalidArgument);
}

TEST(ScanPkgdb, ApkRecordsWithoutOriginOrVersion) {
  auto pkgs = parse_apk_installed(
      "C:Q1abc=\nP:noorigin\nV:1.0-r0\nA:aarch64\n\nP:noversion\n\n\nP:last\nV:2.0-r1\no:base\nL:"
      "MIT");
  ASSERT_TRUE(pkgs.is_ok());
  ASSERT_EQ(pkgs->size(), 2u);
  EXPECT_EQ((*pkgs)[0].name, "noorigin");
  EXPECT_EQ((*pkgs)[0].source_name, "noorigin");
  EXPECT_EQ((*pkgs)[0].architecture, "aarch64");
  EXPECT_EQ((*pkgs)[1].name, "last");
  EXPECT_EQ((*pkgs)[1].source_name, "base");
  EXPECT_EQ((*pkgs)[1].license, "MIT");
}

TEST(ScanPkgdb, OsReleaseQuotingAndComments) {
  const OsRelease os = parse_os_release(
      "# a comment\n"
      "  \n"
      "ID=alpine\n"
      "VERSION_ID='3.18.4'\n"
      "PRETTY_NAME=\"Alpine \\\"Linux\\\" v3.18\"   \n"
      "#VERSION_CODENAME=nope\n"
      "garbage line\n");
  EXPECT_EQ(os.id, "alpine");
  EXPECT_EQ(os.version_id, "3.18.4");
  EXPECT_EQ(os.pretty_name, "Alpine \"Linux\" v3.18");
  EXPECT_EQ(os.version_codename, "");
}

TEST(ScanPkgdb, EcosystemOf) {
  EXPECT_EQ(ecosystem_of({"debian", "12", "bookworm", ""}), "Debian:12");
  EXPECT_EQ(ecosystem_of({"alpine", "3.18.4", "", ""}), "Alpine:v3.18");
  EXPECT_EQ(ecosystem_of({"alpine", "3.19.0_alpha20230901", "", ""}), "Alpine:v3.19");
  EXPECT_EQ(ecosystem_of({"ubuntu", "22.04", "jammy", ""}), "Ubuntu:22.04");
  // Debian testing/sid carry no VERSION_ID: not a release advisories name.
  EXPECT_EQ(ecosystem_of({"debian", "", "trixie", ""}), std::nullopt);
  EXPECT_EQ(ecosystem_of({"fedora", "39", "", ""}), std::nullopt);
  EXPECT_EQ(ecosystem_of({"alpine", "edge", "", ""}), std::nullopt);
  EXPECT_EQ(ecosystem_of({"", "", "", ""}), std::nullopt);
}

}  // namespace
