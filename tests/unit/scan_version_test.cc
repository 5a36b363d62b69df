// Version ordering (src/scan/version.*): every comparison of the
// version-order vectors (tests/testdata/version-order, see its README), in
// both directions, plus the validity checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "scan/version.h"

namespace {

namespace fs = std::filesystem;
using berth::scan::compare_apk_versions;
using berth::scan::compare_dpkg_versions;
using berth::scan::valid_apk_version;
using berth::scan::valid_dpkg_version;

struct Case {
  int line = 0;
  std::string a, op, b;
};

// The "<a> <op> <b>" lines of one vector file; blank lines and '#' comments
// skipped.
std::vector<Case> read_cases(const std::string& name) {
  std::ifstream in(fs::path(BERTH_TESTDATA_DIR) / "version-order" / name);
  std::vector<Case> cases;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    std::istringstream fields(text);
    Case c;
    c.line = line;
    if (!(fields >> c.a) || c.a.starts_with('#')) continue;
    fields >> c.op >> c.b;
    cases.push_back(c);
  }
  return cases;
}

int sign(int v) {
  return (v > 0) - (v < 0);
}

// Runs every case of `name` through `cmp` both ways; the file must hold
// exactly `expected` cases (a missing or shortened file fails, never passes).
void check_file(const std::string& name, size_t expected,
                const std::function<int(std::string_view, std::string_view)>& cmp) {
  const auto cases = read_cases(name);
  ASSERT_EQ(cases.size(), expected) << name;
  size_t failures = 0;
  for (const auto& c : cases) {
    ASSERT_TRUE(c.op == "<" || c.op == "=" || c.op == ">") << name << ":" << c.line;
    const int want = c.op == "<" ? -1 : (c.op == ">" ? 1 : 0);
    const int ab = sign(cmp(c.a, c.b));
    const int ba = sign(cmp(c.b, c.a));
    if (ab != want || ba != -want) {
      ++failures;
      ADD_FAILURE() << name << ":" << c.line << ": " << c.a << " " << c.op << " " << c.b
                    << " but compare gave " << ab << " and reversed " << ba;
    }
  }
  EXPECT_EQ(failures, 0u) << name;
}

TEST(ScanVersionVectors, DebianHandWritten) {
  check_file("debian-versions.txt", 30, compare_dpkg_versions);
}

TEST(ScanVersionVectors, DebianGenerated) {
  check_file("debian-versions-generated.txt", 14442, compare_dpkg_versions);
}

TEST(ScanVersionVectors, AlpineHandWritten) {
  check_file("alpine-versions.txt", 778, compare_apk_versions);
}

TEST(ScanVersionVectors, AlpineGenerated) {
  check_file("alpine-versions-generated.txt", 13979, compare_apk_versions);
}

TEST(ScanVersion, DpkgEssentials) {
  EXPECT_LT(compare_dpkg_versions("1.0~rc1", "1.0"), 0);  // '~' before the end
  EXPECT_LT(compare_dpkg_versions("1.0", "1.0a"), 0);     // end before letters
  EXPECT_LT(compare_dpkg_versions("1.0a", "1.0+"), 0);    // letters before symbols
  EXPECT_GT(compare_dpkg_versions("1:0.1", "9.9"), 0);    // the epoch first
  EXPECT_LT(compare_dpkg_versions("1.2.13.dfsg-1", "1:1.2.13.dfsg-1"), 0);
  EXPECT_EQ(compare_dpkg_versions("1.0-1", "1.00-01"), 0);  // digits by value
  EXPECT_LT(compare_dpkg_versions("2.36-9+deb12u4", "2.36-9+deb12u14"), 0);
  // Digit runs longer than any integer type still order by value.
  EXPECT_LT(compare_dpkg_versions("1.99999999999999999999999", "1.100000000000000000000000"), 0);
}

TEST(ScanVersion, ApkEssentials) {
  EXPECT_LT(compare_apk_versions("1.2_rc1", "1.2"), 0);
  EXPECT_LT(compare_apk_versions("1.2", "1.2_p1"), 0);
  EXPECT_LT(compare_apk_versions("3.1.0-r4", "3.1.0-r10"), 0);
  EXPECT_LT(compare_apk_versions("1.36.0-r9", "1.36.1-r0"), 0);
  EXPECT_EQ(compare_apk_versions("1.2.13-r1", "1.2.13-r01"), 0);
  EXPECT_LT(compare_apk_versions("1.02", "1.1"), 0);  // a leading zero makes a fraction
}

TEST(ScanVersion, DpkgValidity) {
  for (const char* ok :
       {"1.0", "1:2.36-9+deb12u4", "5.2.15-2+b13", "1.2.3~rc1-0.1", "0", "1.2-3-4"}) {
    EXPECT_TRUE(valid_dpkg_version(ok)) << ok;
  }
  for (const char* bad : {"", "a1.0", ":1.0", "x:1.0", "1.0-", "1.0 beta", "1.0-a_b", "1:"}) {
    EXPECT_FALSE(valid_dpkg_version(bad)) << bad;
  }
}

TEST(ScanVersion, ApkValidity) {
  for (const char* ok :
       {"1.2.3", "3.1.0-r4", "1.2_rc1", "1.2.3b", "1.2_p1_rc2-r3", "2.4~abc123-r0", "20230901"}) {
    EXPECT_TRUE(valid_apk_version(ok)) << ok;
  }
  for (const char* bad : {"", "a", "1.2_blah", "1--r1", "1-r", "1.2-", "1..2", "1.2."}) {
    EXPECT_FALSE(valid_apk_version(bad)) << bad;
  }
}

}  // namespace
