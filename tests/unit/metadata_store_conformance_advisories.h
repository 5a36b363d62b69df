// The AdvisoryStore conformance suite: imports of vulnerability advisories,
// their records, and the look-up by ecosystem and packages. Written against
// the role interface (meta/advisory_store.h): the role under test is store().
// Include it from exactly one translation unit, after
// metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

inline scan::AffectedPackage affected_entry(std::string ecosystem, std::string package,
                                            std::string fixed, std::string introduced = "") {
  scan::AffectedPackage p;
  p.ecosystem = std::move(ecosystem);
  p.package = std::move(package);
  p.fixed = std::move(fixed);
  p.introduced = std::move(introduced);
  return p;
}

inline scan::Advisory advisory(std::string id, std::vector<scan::AffectedPackage> affected,
                               std::string description = "") {
  scan::Advisory a;
  a.id = std::move(id);
  a.description = std::move(description);
  a.affected = std::move(affected);
  return a;
}

// (id, ecosystem, package, fixed) of every affected entry `found` returned, in order.
inline std::vector<std::string> entries_of(const std::vector<scan::Advisory>& found) {
  std::vector<std::string> out;
  for (const scan::Advisory& a : found)
    for (const scan::AffectedPackage& p : a.affected)
      out.push_back(a.id + " " + p.ecosystem + " " + p.package + " " + p.fixed);
  return out;
}

TEST_P(AdvisoryStoreConformance, NoImportYetThenVersionsGrowAndTheLatestIsTheNewest) {
  auto none = store().latest_advisory_import();
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_FALSE(none->has_value());

  auto first = store().import_advisories(
      {advisory("CVE-1", {affected_entry("Debian:12", "openssl", "3.0.1-1"),
                          affected_entry("Debian:11", "openssl", "1.1.1n-1")})},
      1000, "DSA list", 5000);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->produced_at_ms, 1000);
  EXPECT_EQ(first->imported_at_ms, 5000);
  EXPECT_EQ(first->sources, "DSA list");
  EXPECT_EQ(first->advisories, 1);
  EXPECT_EQ(first->affected, 2);

  auto second = store().import_advisories(
      {advisory("CVE-2", {affected_entry("Alpine:v3.18", "zlib", "1")}), advisory("CVE-3", {})},
      2000, "secdb", 6000);
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(second->advisories, 2);
  EXPECT_EQ(second->affected, 1);

  auto latest = store().latest_advisory_import();
  ASSERT_TRUE(latest.is_ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->version, 2);
  EXPECT_EQ((*latest)->produced_at_ms, 2000);
  EXPECT_EQ((*latest)->imported_at_ms, 6000);
  EXPECT_EQ((*latest)->sources, "secdb");
  EXPECT_EQ((*latest)->advisories, 2);
  EXPECT_EQ((*latest)->affected, 1);

  auto empty = store().import_advisories({}, 3000, "nothing", 7000);
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_EQ(empty->version, 3);
}

TEST_P(AdvisoryStoreConformance, AnImportReplacesByIdEcosystemAndPackageAndKeepsTheOthers) {
  ASSERT_TRUE(
      store()
          .import_advisories(
              {advisory("CVE-1", {affected_entry("Debian:12", "openssl", "3.0.1-1"),
                                  affected_entry("Debian:12", "openssl", "3.0.0-9", "3.0.0-1"),
                                  affected_entry("Debian:11", "openssl", "1.1.1n-1"),
                                  affected_entry("Debian:12", "curl", "7.88-1")}),
               advisory("CVE-2", {affected_entry("Debian:12", "openssl", "3.0.2-1")})},
              1, "first", 1)
          .is_ok());
  // CVE-1 for openssl on Debian:12 again, with one entry: both stored entries of that key go.
  ASSERT_TRUE(store()
                  .import_advisories(
                      {advisory("CVE-1", {affected_entry("Debian:12", "openssl", "3.0.5-1")})}, 2,
                      "second", 2)
                  .is_ok());
  auto d12 = store().advisories_for("Debian:12", {"openssl", "curl"});
  ASSERT_TRUE(d12.is_ok()) << d12.status().to_string();
  EXPECT_EQ(entries_of(*d12), (std::vector<std::string>{"CVE-1 Debian:12 curl 7.88-1",
                                                        "CVE-1 Debian:12 openssl 3.0.5-1",
                                                        "CVE-2 Debian:12 openssl 3.0.2-1"}));
  auto d11 = store().advisories_for("Debian:11", {"openssl"});
  ASSERT_TRUE(d11.is_ok());
  EXPECT_EQ(entries_of(*d11), (std::vector<std::string>{"CVE-1 Debian:11 openssl 1.1.1n-1"}));
}

TEST_P(AdvisoryStoreConformance, AdvisoriesForFiltersEcosystemAndPackagesAndKeepsOnlyTheirEntries) {
  scan::Advisory full = advisory("CVE-2023-0001",
                                 {affected_entry("Debian:12", "openssl", "3.0.9-1"),
                                  affected_entry("Debian:12", "glibc", "2.36-9"),
                                  affected_entry("Alpine:v3.18", "openssl", "3.1.1-r0")},
                                 "a \"quoted\" {description}, with \\ and commas");
  full.aliases = {"DSA-5417-1", "DLA-1"};
  full.uri = "https://security-tracker.debian.org/tracker/CVE-2023-0001";
  full.severity = scan::Severity::kHigh;
  full.cvss_score = 7.5;
  full.cvss_vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
  full.affected[0].versions = {"3.0.8-1", "3.0.8-2"};
  scan::Advisory not_affected =
      advisory("CVE-2023-0002", {affected_entry("Alpine:v3.18", "zlib", "0")});
  not_affected.affected[0].not_affected = true;
  // Names with the characters array and JSON literals quote.
  scan::Advisory odd =
      advisory("CVE-2023-0003", {affected_entry("Debian:12", "we\"ird\\,{pkg}", "1:2.0-1")});
  scan::Advisory upper = advisory("CVE-2023-000A", {affected_entry("Debian:12", "openssl", "9")});
  scan::Advisory lower = advisory("CVE-2023-000a", {affected_entry("Debian:12", "openssl", "8")});
  ASSERT_TRUE(
      store().import_advisories({lower, full, not_affected, odd, upper}, 1, "test", 1).is_ok());

  auto d12 = store().advisories_for("Debian:12", {"openssl", "we\"ird\\,{pkg}", "absent"});
  ASSERT_TRUE(d12.is_ok()) << d12.status().to_string();
  // By id in byte order ('A' < 'a'), each with only its Debian:12 entries for those packages.
  EXPECT_EQ(entries_of(*d12),
            (std::vector<std::string>{"CVE-2023-0001 Debian:12 openssl 3.0.9-1",
                                      "CVE-2023-0003 Debian:12 we\"ird\\,{pkg} 1:2.0-1",
                                      "CVE-2023-000A Debian:12 openssl 9",
                                      "CVE-2023-000a Debian:12 openssl 8"}));
  ASSERT_FALSE(d12->empty());
  const scan::Advisory& got = d12->front();
  EXPECT_EQ(got.description, full.description);
  EXPECT_EQ(got.aliases, full.aliases);
  EXPECT_EQ(got.uri, full.uri);
  EXPECT_EQ(got.severity, scan::Severity::kHigh);
  EXPECT_EQ(got.cvss_score, std::optional<double>(7.5));
  EXPECT_EQ(got.cvss_vector, full.cvss_vector);
  ASSERT_EQ(got.affected.size(), 1u);
  EXPECT_EQ(got.affected[0].versions, (std::vector<std::string>{"3.0.8-1", "3.0.8-2"}));
  EXPECT_FALSE(got.affected[0].not_affected);
  EXPECT_EQ(d12->back().severity, scan::Severity::kUndefined);
  EXPECT_FALSE(d12->back().cvss_score.has_value());

  auto alpine = store().advisories_for("Alpine:v3.18", {"zlib", "openssl"});
  ASSERT_TRUE(alpine.is_ok());
  EXPECT_EQ(entries_of(*alpine),
            (std::vector<std::string>{"CVE-2023-0001 Alpine:v3.18 openssl 3.1.1-r0",
                                      "CVE-2023-0002 Alpine:v3.18 zlib 0"}));
  EXPECT_TRUE(alpine->back().affected[0].not_affected);

  auto glibc_only = store().advisories_for("Debian:12", {"glibc"});
  ASSERT_TRUE(glibc_only.is_ok());
  EXPECT_EQ(entries_of(*glibc_only),
            (std::vector<std::string>{"CVE-2023-0001 Debian:12 glibc 2.36-9"}));
  EXPECT_TRUE(store().advisories_for("Debian:11", {"openssl"})->empty());
  EXPECT_TRUE(store().advisories_for("Debian:12", {})->empty());
  EXPECT_TRUE(store().advisories_for("Debian:12", {"OpenSSL"})->empty()) << "names are exact";
}

TEST_P(AdvisoryStoreConformance, AnotherSourceWithoutDetailsDoesNotEraseThem) {
  scan::Advisory detailed = advisory("CVE-9", {affected_entry("Debian:12", "curl", "2")}, "text");
  detailed.severity = scan::Severity::kCritical;
  detailed.cvss_score = 9.8;
  detailed.uri = "https://example.org/CVE-9";
  ASSERT_TRUE(store().import_advisories({detailed}, 1, "a", 1).is_ok());
  ASSERT_TRUE(store()
                  .import_advisories(
                      {advisory("CVE-9", {affected_entry("Alpine:v3.18", "curl", "3")})}, 2, "b", 2)
                  .is_ok());
  auto got = store().advisories_for("Alpine:v3.18", {"curl"});
  ASSERT_TRUE(got.is_ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].description, "text");
  EXPECT_EQ((*got)[0].severity, scan::Severity::kCritical);
  EXPECT_EQ((*got)[0].cvss_score, std::optional<double>(9.8));
  EXPECT_EQ((*got)[0].uri, "https://example.org/CVE-9");
}

TEST_P(AdvisoryStoreConformance, AFailedImportLeavesNothing) {
  ASSERT_TRUE(store()
                  .import_advisories(
                      {advisory("CVE-1", {affected_entry("Debian:12", "openssl", "1.0")}, "old")},
                      1, "first", 1)
                  .is_ok());
  // Many good advisories (more than one batch), one replacing a stored key,
  // then one the store refuses (an affected entry without a package): the
  // failure comes midway through the writes.
  std::vector<scan::Advisory> batch;
  batch.push_back(advisory("CVE-1", {affected_entry("Debian:12", "openssl", "2.0")}, "new"));
  for (int i = 0; i < 5000; ++i)
    batch.push_back(advisory("CVE-NEW-" + std::to_string(i),
                             {affected_entry("Debian:12", "pkg" + std::to_string(i % 50), "1")}));
  batch.push_back(advisory("CVE-BAD", {affected_entry("Debian:12", "", "1")}));
  auto failed = store().import_advisories(batch, 2, "second", 2);
  ASSERT_FALSE(failed.is_ok());

  auto latest = store().latest_advisory_import();
  ASSERT_TRUE(latest.is_ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->version, 1);
  auto stored = store().advisories_for("Debian:12", {"openssl", "pkg0", "pkg49"});
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(entries_of(*stored), (std::vector<std::string>{"CVE-1 Debian:12 openssl 1.0"}));
  EXPECT_EQ((*stored)[0].description, "old");

  // The next good import gets the next version.
  batch.pop_back();
  auto again = store().import_advisories(batch, 3, "third", 3);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->version, 2);
  EXPECT_EQ(again->advisories, 5001);
}

TEST_P(AdvisoryStoreConformance, AnAdvisoryWithoutAnIdFailsTheImport) {
  auto failed = store().import_advisories(
      {advisory("CVE-1", {affected_entry("Debian:12", "a", "1")}), advisory("", {})}, 1, "x", 1);
  ASSERT_FALSE(failed.is_ok());
  EXPECT_FALSE(store().latest_advisory_import()->has_value());
  EXPECT_TRUE(store().advisories_for("Debian:12", {"a"})->empty());
}

TEST_P(AdvisoryStoreConformance, ABulkImportStoresEveryRowAndDuplicatesOnce) {
  // About the size of Debian's DSA and DLA lists: 10,000 advisories with
  // three entries each, in several batches.
  std::vector<scan::Advisory> all;
  for (int i = 0; i < 10000; ++i) {
    const std::string pkg = "pkg" + std::to_string(i % 700);
    all.push_back(advisory("CVE-2020-" + std::to_string(10000 + i),
                           {affected_entry("Debian:11", pkg, "1." + std::to_string(i)),
                            affected_entry("Debian:12", pkg, "2." + std::to_string(i)),
                            affected_entry("Debian:12", pkg, "2." + std::to_string(i))}));
  }
  auto record = store().import_advisories(all, 1, "bulk", 1);
  ASSERT_TRUE(record.is_ok()) << record.status().to_string();
  EXPECT_EQ(record->advisories, 10000);
  EXPECT_EQ(record->affected, 20000) << "the identical third entry of each is stored once";
  std::vector<std::string> every_package;
  for (int i = 0; i < 700; ++i) every_package.push_back("pkg" + std::to_string(i));
  auto d12 = store().advisories_for("Debian:12", every_package);
  ASSERT_TRUE(d12.is_ok()) << d12.status().to_string();
  EXPECT_EQ(d12->size(), 10000u);
  size_t entries = 0;
  for (const scan::Advisory& a : *d12) entries += a.affected.size();
  EXPECT_EQ(entries, 10000u);
  auto one = store().advisories_for("Debian:11", {"pkg7"});
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->size(), 15u);  // i % 700 == 7 for i < 10000
}

}  // namespace berth::conformance
