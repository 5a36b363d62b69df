// Advisory readers on the real files of tests/testdata/osv (see its README):
// counts are derived here independently of the parser (plain line and JSON
// walks), and known entries are checked by hand.
#include "scan/advisory_parse.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "scan/version.h"

namespace berth::scan {
namespace {

namespace fs = std::filesystem;

fs::path osv_dir() {
  return fs::path(BERTH_TESTDATA_DIR) / "osv";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<Advisory> parse_file(const fs::path& path, AdvisoryFormat expected) {
  const std::string content = read_file(path);
  EXPECT_FALSE(content.empty()) << path;
  EXPECT_EQ(detect_advisory_format(path.filename().string(), content), expected) << path;
  auto r = parse_advisories(expected, content);
  EXPECT_TRUE(r.is_ok()) << path << ": " << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : std::vector<Advisory>{};
}

const Advisory* find_advisory(const std::vector<Advisory>& all, std::string_view id) {
  for (const auto& a : all)
    if (a.id == id) return &a;
  return nullptr;
}

const AffectedPackage* find_affected(const Advisory& a, std::string_view ecosystem,
                                     std::string_view package) {
  for (const auto& p : a.affected)
    if (p.ecosystem == ecosystem && p.package == package) return &p;
  return nullptr;
}

bool has_alias(const Advisory& a, std::string_view alias) {
  return std::find(a.aliases.begin(), a.aliases.end(), alias) != a.aliases.end();
}

// --- Debian DSA/DLA lists -----------------------------------------------------

fs::path dsa_list() {
  return osv_dir() / "debian-security-tracker/data/DSA/list";
}
fs::path dla_list() {
  return osv_dir() / "debian-security-tracker/data/DLA/list";
}

// The ids (CVEs, or the DSA id when it names none) of the advisories in
// `list` that have a "[release] - " line, by a regex walk of the text.
std::set<std::string> ids_with_release(const std::string& list, const std::string& release) {
  static const std::regex header(R"(^\[[^\]]+\] (D[SL]A-[0-9-]+) )");
  static const std::regex cve(R"(CVE-[0-9]+-[0-9]+)");
  const std::regex release_line("^\\s+\\[" + release + "\\] - ");
  std::set<std::string> ids;
  std::string dsa;
  std::vector<std::string> cves;
  bool has_release = false;
  auto close = [&] {
    if (has_release) {
      if (cves.empty()) ids.insert(dsa);
      ids.insert(cves.begin(), cves.end());
    }
    cves.clear();
    has_release = false;
  };
  for (const auto& line : lines_of(list)) {
    std::smatch m;
    if (std::regex_search(line, m, header)) {
      close();
      dsa = m[1];
    } else if (line.find('{') != std::string::npos && line.find("NOTE") == std::string::npos) {
      for (std::sregex_iterator it(line.begin(), line.end(), cve), end; it != end; ++it)
        cves.push_back(it->str());
    } else if (std::regex_search(line, release_line)) {
      has_release = true;
    }
  }
  close();
  return ids;
}

std::set<std::string> parsed_ids_in(const std::vector<Advisory>& all, std::string_view ecosystem) {
  std::set<std::string> ids;
  for (const auto& a : all)
    for (const auto& p : a.affected)
      if (p.ecosystem == ecosystem) ids.insert(a.id);
  return ids;
}

TEST(AdvisoryParseDebianList, EveryCveOfEveryReleaseLineIsAnAdvisory) {
  const auto all = parse_file(dsa_list(), AdvisoryFormat::kDebianTrackerList);
  const std::string text = read_file(dsa_list());
  for (const auto& [release, ecosystem] :
       std::vector<std::pair<std::string, std::string>>{{"bullseye", "Debian:11"},
                                                        {"buster", "Debian:10"},
                                                        {"stretch", "Debian:9"},
                                                        {"jessie", "Debian:8"},
                                                        {"wheezy", "Debian:7"},
                                                        {"squeeze", "Debian:6"},
                                                        {"lenny", "Debian:5"},
                                                        {"etch", "Debian:4"},
                                                        {"sarge", "Debian:3.1"},
                                                        {"woody", "Debian:3.0"}}) {
    const auto expected = ids_with_release(text, release);
    EXPECT_GT(expected.size(), 100u) << release;
    EXPECT_EQ(parsed_ids_in(all, ecosystem), expected) << release;
  }
  // One advisory per id: no id twice.
  std::set<std::string> ids;
  for (const auto& a : all) EXPECT_TRUE(ids.insert(a.id).second) << a.id;
}

TEST(AdvisoryParseDebianList, DlaListByRelease) {
  const auto all = parse_file(dla_list(), AdvisoryFormat::kDebianTrackerList);
  const std::string text = read_file(dla_list());
  const auto buster = ids_with_release(text, "buster");
  EXPECT_GT(buster.size(), 1000u);
  EXPECT_EQ(parsed_ids_in(all, "Debian:10"), buster);
  EXPECT_EQ(parsed_ids_in(all, "Debian:9"), ids_with_release(text, "stretch"));
}

TEST(AdvisoryParseDebianList, KnownEntries) {
  const auto all = parse_file(dsa_list(), AdvisoryFormat::kDebianTrackerList);
  // [07 Feb 2023] DSA-5343-1 openssl - security update
  //   {CVE-2022-2097 CVE-2022-4304 CVE-2022-4450 CVE-2023-0215 CVE-2023-0286}
  //   [bullseye] - openssl 1.1.1n-0+deb11u4
  for (std::string_view id :
       {"CVE-2022-2097", "CVE-2022-4304", "CVE-2022-4450", "CVE-2023-0215", "CVE-2023-0286"}) {
    const Advisory* a = find_advisory(all, id);
    ASSERT_NE(a, nullptr) << id;
    EXPECT_TRUE(has_alias(*a, "DSA-5343-1")) << id;
    const AffectedPackage* p = find_affected(*a, "Debian:11", "openssl");
    ASSERT_NE(p, nullptr) << id;
    EXPECT_EQ(p->fixed, "1.1.1n-0+deb11u4");
    EXPECT_FALSE(p->not_affected);
    EXPECT_TRUE(p->introduced.empty());
    EXPECT_EQ(a->uri, "https://security-tracker.debian.org/tracker/" + std::string(id));
  }
  // A regression update without CVEs is kept under its own id:
  // [17 Mar 2023] DSA-5356-2 sox - regression update
  //   [bullseye] - sox 14.4.2+git20190427-2+deb11u2
  const Advisory* sox = find_advisory(all, "DSA-5356-2");
  ASSERT_NE(sox, nullptr);
  ASSERT_EQ(sox->affected.size(), 1u);
  EXPECT_EQ(sox->affected[0].ecosystem, "Debian:11");
  EXPECT_EQ(sox->affected[0].package, "sox");
  EXPECT_EQ(sox->affected[0].fixed, "14.4.2+git20190427-2+deb11u2");
  // Epochs are kept as given: DSA-5380-1 xorg-server 2:1.20.11-1+deb11u6.
  const Advisory* xorg = find_advisory(all, "CVE-2023-1393");
  ASSERT_NE(xorg, nullptr);
  EXPECT_EQ(find_affected(*xorg, "Debian:11", "xorg-server")->fixed, "2:1.20.11-1+deb11u6");
  // DSA-4676-1 (salt, stretch 2016.11.2+ds-1+deb9u3) fixed CVE-2020-11651;
  // DSA-4676-2 repeats it with +deb9u4 for a regression: the first fix stays.
  const Advisory* salt = find_advisory(all, "CVE-2020-11651");
  ASSERT_NE(salt, nullptr);
  EXPECT_TRUE(has_alias(*salt, "DSA-4676-1"));
  EXPECT_TRUE(has_alias(*salt, "DSA-4676-2"));
  EXPECT_EQ(find_affected(*salt, "Debian:9", "salt")->fixed, "2016.11.2+ds-1+deb9u3");
}

TEST(AdvisoryParseDebianList, NotAffectedLines) {
  const auto all = parse_file(dsa_list(), AdvisoryFormat::kDebianTrackerList);
  size_t expected = 0;
  for (const auto& line : lines_of(read_file(dsa_list())))
    if (line.find("<not-affected>") != std::string::npos && line.find("NOTE") == std::string::npos)
      ++expected;
  ASSERT_GT(expected, 0u);
  size_t not_affected = 0;
  for (const auto& a : all)
    for (const auto& p : a.affected) {
      if (p.not_affected) {
        ++not_affected;
        EXPECT_TRUE(p.fixed.empty()) << a.id;
      }
    }
  // Each such line names at least one advisory.
  EXPECT_GE(not_affected, expected);
  // [12 Apr 2011] DSA-2218-1 vlc - heap-based buffer overflow
  //   {CVE-2011-1684}
  //   [lenny] - vlc <not-affected> (Vulnerable code not present)
  const Advisory* vlc = find_advisory(all, "CVE-2011-1684");
  ASSERT_NE(vlc, nullptr);
  EXPECT_TRUE(find_affected(*vlc, "Debian:5", "vlc")->not_affected);
}

TEST(AdvisoryParseDebianList, MalformedInputIsAnError) {
  for (std::string_view bad : {
           "DSA-1-1 before any header\n",
           "[01 Jan 2023] DSA-1-1 foo - security update\n\t{CVE-2023-1 \n",
           "[01 Jan 2023] DSA-1-1 foo - security update\n\t[bullseye] foo\n",
           "[01 Jan 2023] DSA-1-1 foo - security update\n\tsomething else\n",
       }) {
    auto r = parse_advisories(AdvisoryFormat::kDebianTrackerList, bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

// --- Debian tracker per-CVE JSON ---------------------------------------------

fs::path tracker_json(std::string_view year, std::string_view id) {
  return osv_dir() / "debian-tracker-vuln-list-debian/tracker/CVE" / year /
         (std::string(id) + ".json");
}

Advisory one_tracker_advisory(std::string_view year, std::string_view id) {
  auto all = parse_file(tracker_json(year, id), AdvisoryFormat::kDebianTrackerJson);
  EXPECT_EQ(all.size(), 1u) << id;
  return all.empty() ? Advisory{} : all[0];
}

TEST(AdvisoryParseDebianJson, OwnLinesAndInheritedUnstableFix) {
  // "- openssl 3.0.12-2", "[bookworm] - openssl 3.0.13-1~deb12u1",
  // "[buster] - openssl <postponed>", bullseye and trixie without lines.
  const Advisory a = one_tracker_advisory("2023", "CVE-2023-5678");
  EXPECT_EQ(a.id, "CVE-2023-5678");
  EXPECT_EQ(a.uri, "https://security-tracker.debian.org/tracker/CVE-2023-5678");
  EXPECT_TRUE(a.description.starts_with("Issue summary: Generating excessively long X9.42"));
  EXPECT_EQ(find_affected(a, "Debian:unstable", "openssl")->fixed, "3.0.12-2");
  EXPECT_EQ(find_affected(a, "Debian:12", "openssl")->fixed, "3.0.13-1~deb12u1");
  const AffectedPackage* buster = find_affected(a, "Debian:10", "openssl");
  ASSERT_NE(buster, nullptr);
  EXPECT_TRUE(buster->fixed.empty());  // postponed: vulnerable, no fix
  EXPECT_FALSE(buster->not_affected);
  // Inherited from unstable: bullseye and trixie.
  EXPECT_EQ(find_affected(a, "Debian:11", "openssl")->fixed, "3.0.12-2");
  EXPECT_EQ(find_affected(a, "Debian:13", "openssl")->fixed, "3.0.12-2");
  EXPECT_EQ(a.affected.size(), 5u);
}

TEST(AdvisoryParseDebianJson, NotAffectedReleasesStayNotAffected) {
  const Advisory a = one_tracker_advisory("2024", "CVE-2024-3094");
  for (std::string_view e : {"Debian:10", "Debian:11", "Debian:12"}) {
    const AffectedPackage* p = find_affected(a, e, "xz-utils");
    ASSERT_NE(p, nullptr) << e;
    EXPECT_TRUE(p->not_affected) << e;
  }
  EXPECT_EQ(find_affected(a, "Debian:unstable", "xz-utils")->fixed, "5.6.1+really5.4.5-1");
  EXPECT_EQ(find_affected(a, "Debian:13", "xz-utils")->fixed, "5.6.1+really5.4.5-1");
}

TEST(AdvisoryParseDebianJson, UnfixedInUnstableIsInheritedAsNoFix) {
  const Advisory a = one_tracker_advisory("2023", "CVE-2023-4911");
  EXPECT_EQ(a.description,
            "buffer overflow in dynamic loader's processing of the GLIBC_TUNABLES environment "
            "variable");
  EXPECT_TRUE(find_affected(a, "Debian:10", "glibc")->not_affected);
  for (std::string_view e : {"Debian:unstable", "Debian:11", "Debian:12", "Debian:13"}) {
    const AffectedPackage* p = find_affected(a, e, "glibc");
    ASSERT_NE(p, nullptr) << e;
    EXPECT_FALSE(p->not_affected) << e;
    EXPECT_TRUE(p->fixed.empty()) << e;
  }
}

TEST(AdvisoryParseDebianJson, XrefsAreAliasesAndEpochsKept) {
  const Advisory a = one_tracker_advisory("2022", "CVE-2022-37434");
  EXPECT_TRUE(has_alias(a, "DSA-5218-1"));
  EXPECT_TRUE(has_alias(a, "DLA-3103-1"));
  EXPECT_EQ(find_affected(a, "Debian:12", "zlib")->fixed, "1:1.2.11.dfsg-4.1");
  // libz-mingw-w64: buster and bullseye no-dsa (vulnerable, no fix).
  EXPECT_TRUE(find_affected(a, "Debian:11", "libz-mingw-w64")->fixed.empty());
  EXPECT_EQ(find_affected(a, "Debian:12", "libz-mingw-w64")->fixed, "1.2.12+dfsg-2");
}

TEST(AdvisoryParseDebianJson, ReleaseLineWinsOverInheritance) {
  const Advisory a = one_tracker_advisory("2023", "CVE-2023-29491");
  EXPECT_TRUE(has_alias(a, "DLA-3682-1"));
  EXPECT_EQ(find_affected(a, "Debian:11", "ncurses")->fixed, "6.2+20201114-2+deb11u2");
  EXPECT_EQ(find_affected(a, "Debian:12", "ncurses")->fixed, "6.4-3");
}

TEST(AdvisoryParseDebianJson, UrgencyGivesSeverity) {
  const std::string doc = R"js({"Header": {"ID": "CVE-2099-1", "Description": "(x)"},
    "Annotations": [
      {"Type": "package", "Package": "foo", "Kind": "unfixed", "Severity": "low"},
      {"Type": "package", "Release": "bookworm", "Package": "foo", "Kind": "no-dsa"}]})js";
  ASSERT_EQ(detect_advisory_format("CVE-2099-1.json", doc), AdvisoryFormat::kDebianTrackerJson);
  auto r = parse_advisories(AdvisoryFormat::kDebianTrackerJson, doc);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].severity, Severity::kLow);
  EXPECT_EQ((*r)[0].description, "x");
}

// --- Alpine secdb ----------------------------------------------------------

// (origin, first word of the entry, secfixes key) of a secdb YAML file, by a
// line walk: "name:" sets the origin; under "secfixes:" a "key:" line sets
// the key and "- entry" lines are entries. An id under several keys of one
// origin keeps the newest key (apk ordering; "0" is the oldest).
std::set<std::tuple<std::string, std::string, std::string>> yaml_entries(const std::string& text) {
  static const std::regex name(R"(^\s+name:\s*(\S+))");
  static const std::regex key(R"(^\s+['"]?([^'"\s:]+)['"]?:\s*$)");
  static const std::regex item(R"(^\s+-\s+['"]?([^'"\s]+))");
  std::map<std::pair<std::string, std::string>, std::string> newest;
  std::string origin, fixed;
  bool in_secfixes = false;
  for (const auto& line : lines_of(text)) {
    std::smatch m;
    if (line.find("- pkg:") != std::string::npos) {
      in_secfixes = false;
    } else if (std::regex_search(line, m, name)) {
      origin = m[1];
      in_secfixes = false;
    } else if (line.find("secfixes:") != std::string::npos) {
      in_secfixes = true;
    } else if (in_secfixes && std::regex_search(line, m, key)) {
      fixed = m[1];
    } else if (in_secfixes && std::regex_search(line, m, item)) {
      auto [it, inserted] = newest.try_emplace({origin, m[1]}, fixed);
      if (!inserted && compare_apk_versions(fixed, it->second) > 0) it->second = fixed;
    }
  }
  std::set<std::tuple<std::string, std::string, std::string>> out;
  for (const auto& [k, v] : newest) out.emplace(k.first, k.second, v);
  return out;
}

TEST(AdvisoryParseAlpine, SecdbYamlEveryEntry) {
  size_t files = 0;
  size_t total = 0;
  for (const auto& dir : fs::directory_iterator(osv_dir() / "alpine-secdb")) {
    for (const auto& file : fs::directory_iterator(dir.path())) {
      ++files;
      const auto all = parse_file(file.path(), AdvisoryFormat::kAlpineSecdb);
      const std::string ecosystem = "Alpine:" + dir.path().filename().string();
      std::set<std::tuple<std::string, std::string, std::string>> parsed;
      for (const auto& a : all)
        for (const auto& p : a.affected) {
          EXPECT_EQ(p.ecosystem, ecosystem) << file.path();
          parsed.emplace(p.package, a.id, p.not_affected ? "0" : p.fixed);
        }
      const auto expected = yaml_entries(read_file(file.path()));
      EXPECT_EQ(parsed, expected) << file.path();
      total += parsed.size();
    }
  }
  EXPECT_EQ(files, 18u);
  EXPECT_GT(total, 10000u);
}

TEST(AdvisoryParseAlpine, NonCveIdsAndAliases) {
  const auto all =
      parse_file(osv_dir() / "alpine-secdb/v3.11/main.yaml", AdvisoryFormat::kAlpineSecdb);
  const Advisory* xsa = find_advisory(all, "XSA-207");
  ASSERT_NE(xsa, nullptr);
  EXPECT_EQ(find_affected(*xsa, "Alpine:v3.11", "xen")->fixed, "4.7.1-r5");
  const Advisory* cve = find_advisory(all, "CVE-2017-8904");
  ASSERT_NE(cve, nullptr);
  EXPECT_TRUE(has_alias(*cve, "XSA-214"));
  EXPECT_EQ(cve->uri, "https://security.alpinelinux.org/vuln/CVE-2017-8904");
  // busybox lists CVE-2019-5747 under 1.29.3-r10 and again under 1.30.1-r2:
  // the newer fix is kept.
  const Advisory* twice = find_advisory(all, "CVE-2019-5747");
  ASSERT_NE(twice, nullptr);
  EXPECT_EQ(find_affected(*twice, "Alpine:v3.11", "busybox")->fixed, "1.30.1-r2");
}

TEST(AdvisoryParseAlpine, VulnListJsonEveryEntry) {
  for (const auto& file : fs::directory_iterator(osv_dir() / "alpine-secdb-vuln-list/3.18/main")) {
    const auto all = parse_file(file.path(), AdvisoryFormat::kAlpineSecdb);
    boost::json::value doc = boost::json::parse(read_file(file.path()));
    const std::string origin(doc.at("name").as_string());
    std::set<std::pair<std::string, std::string>> expected;
    for (const auto& [key, ids] : doc.at("secfixes").as_object())
      for (const auto& id : ids.as_array())
        expected.emplace(std::string(id.as_string()), std::string(key));
    std::set<std::pair<std::string, std::string>> parsed;
    for (const auto& a : all) {
      ASSERT_EQ(a.affected.size(), 1u);
      const AffectedPackage& p = a.affected[0];
      EXPECT_EQ(p.ecosystem, "Alpine:v3.18");
      EXPECT_EQ(p.package, origin);
      EXPECT_EQ(p.not_affected, p.fixed.empty());
      parsed.emplace(a.id, p.not_affected ? "0" : p.fixed);
    }
    EXPECT_EQ(parsed, expected) << file.path();
  }
}

TEST(AdvisoryParseAlpine, KeyZeroIsNotAffected) {
  const auto all = parse_file(osv_dir() / "alpine-secdb-vuln-list/3.18/main/zlib.json",
                              AdvisoryFormat::kAlpineSecdb);
  const Advisory* a = find_advisory(all, "CVE-2023-45853");
  ASSERT_NE(a, nullptr);
  const AffectedPackage* p = find_affected(*a, "Alpine:v3.18", "zlib");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->not_affected);
  EXPECT_EQ(find_affected(*find_advisory(all, "CVE-2022-37434"), "Alpine:v3.18", "zlib")->fixed,
            "1.2.12-r2");
  const auto busybox = parse_file(osv_dir() / "alpine-secdb-vuln-list/3.18/main/busybox.json",
                                  AdvisoryFormat::kAlpineSecdb);
  ASSERT_NE(find_advisory(busybox, "ALPINE-13661"), nullptr);
}

// --- OSV ---------------------------------------------------------------------

fs::path osv_record(std::string_view rel) {
  return osv_dir() / "osv-records" / rel;
}

TEST(AdvisoryParseOsv, DebianRecordTakesItsCveAlias) {
  const auto all = parse_file(osv_record("debian/DSA-3029-1.json"), AdvisoryFormat::kOsv);
  ASSERT_EQ(all.size(), 1u);
  const Advisory& a = all[0];
  EXPECT_EQ(a.id, "CVE-2014-3616");
  EXPECT_TRUE(has_alias(a, "DSA-3029-1"));
  EXPECT_EQ(a.uri, "https://osv.dev/vulnerability/DSA-3029-1");
  ASSERT_EQ(a.affected.size(), 1u);
  EXPECT_EQ(a.affected[0].ecosystem, "Debian:7");
  EXPECT_EQ(a.affected[0].package, "nginx");
  EXPECT_EQ(a.affected[0].fixed, "1.2.1-2.2+wheezy3");
  EXPECT_TRUE(a.affected[0].introduced.empty());
  EXPECT_TRUE(a.description.find("virtual host confusion") != std::string::npos);
}

TEST(AdvisoryParseOsv, UbuntuRecord) {
  const auto all =
      parse_file(osv_record("ubuntu/osv/cve/2021/UBUNTU-CVE-2021-3782.json"), AdvisoryFormat::kOsv);
  ASSERT_EQ(all.size(), 1u);
  const Advisory& a = all[0];
  EXPECT_EQ(a.id, "CVE-2021-3782");
  EXPECT_TRUE(has_alias(a, "UBUNTU-CVE-2021-3782"));
  // CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:H is 6.6 (NVD's score for it).
  EXPECT_EQ(a.cvss_vector, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:H");
  ASSERT_TRUE(a.cvss_score.has_value());
  EXPECT_DOUBLE_EQ(*a.cvss_score, 6.6);
  EXPECT_EQ(a.severity, Severity::kMedium);  // Ubuntu's own priority
  const AffectedPackage* p = find_affected(a, "Ubuntu:18.04", "wayland");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->fixed, "1.16.0-1ubuntu1.1~18.04.4");
  EXPECT_FALSE(p->versions.empty());
  EXPECT_NE(find_affected(a, "Ubuntu:Pro:16.04", "wayland"), nullptr);
}

TEST(AdvisoryParseOsv, EveryRecordNormalisedAndWithdrawnSkipped) {
  size_t records = 0;
  size_t withdrawn = 0;
  for (const auto& entry : fs::recursive_directory_iterator(osv_dir() / "osv-records")) {
    if (!entry.is_regular_file()) continue;
    ++records;
    boost::json::value doc = boost::json::parse(read_file(entry.path()));
    const bool is_withdrawn = doc.as_object().contains("withdrawn");
    withdrawn += is_withdrawn ? 1 : 0;
    const auto all = parse_file(entry.path(), AdvisoryFormat::kOsv);
    EXPECT_EQ(all.size(), is_withdrawn ? 0u : 1u) << entry.path();
    // One entry per affected package with an ECOSYSTEM range (these records
    // have one range each).
    size_t expected = 0;
    for (const auto& aff : doc.at("affected").as_array())
      for (const auto& range : aff.at("ranges").as_array())
        if (range.at("type") == "ECOSYSTEM") ++expected;
    for (const auto& a : all) {
      EXPECT_EQ(a.affected.size(), expected) << entry.path();
      for (const auto& p : a.affected) EXPECT_FALSE(p.ecosystem.ends_with(":LTS")) << p.ecosystem;
    }
  }
  EXPECT_EQ(records, 10u);
  EXPECT_EQ(withdrawn, 3u);
}

TEST(AdvisoryParseOsv, RangesLastAffectedAndCvss) {
  const std::string doc = R"({
    "id": "GHSA-xxxx", "aliases": ["CVE-2099-7"], "summary": "s",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N"}],
    "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"},
      "ranges": [{"type": "ECOSYSTEM", "events": [
        {"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"last_affected": "2.3"}]},
        {"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "abc"}]}]}]})";
  ASSERT_EQ(detect_advisory_format("x.json", doc), AdvisoryFormat::kOsv);
  auto r = parse_advisories(AdvisoryFormat::kOsv, doc);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  const Advisory& a = (*r)[0];
  EXPECT_EQ(a.id, "CVE-2099-7");
  EXPECT_EQ(a.description, "s");
  ASSERT_TRUE(a.cvss_score.has_value());
  EXPECT_DOUBLE_EQ(*a.cvss_score, 5.4);  // the usual stored-XSS vector
  EXPECT_EQ(a.severity, Severity::kMedium);
  ASSERT_EQ(a.affected.size(), 2u);
  EXPECT_EQ(a.affected[0].introduced, "1.0");
  EXPECT_EQ(a.affected[0].fixed, "1.5");
  EXPECT_EQ(a.affected[1].introduced, "2.0");
  EXPECT_TRUE(a.affected[1].fixed.empty());  // last_affected: kept open (conservative)
}

TEST(AdvisoryParseOsv, CvssScoresOfKnownVectors) {
  for (const auto& [vector, score, severity] :
       std::vector<std::tuple<std::string, double, Severity>>{
           {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, Severity::kHigh},
           {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, Severity::kCritical},
           {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity::kCritical},
           {"CVSS:3.0/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 4.0, Severity::kMedium},
           {"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, Severity::kLow},
           {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, Severity::kMedium},
           {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, Severity::kInformational},
       }) {
    const std::string doc =
        R"({"id": "CVE-2099-9", "affected": [{"package": {"ecosystem": "Alpine:v3.18",
        "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
        "severity": [{"type": "CVSS_V3", "score": ")" +
        vector + R"("}]})";
    auto r = parse_advisories(AdvisoryFormat::kOsv, doc);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->size(), 1u);
    ASSERT_TRUE((*r)[0].cvss_score.has_value()) << vector;
    EXPECT_DOUBLE_EQ(*(*r)[0].cvss_score, score) << vector;
    EXPECT_EQ((*r)[0].severity, severity) << vector;
  }
}

TEST(AdvisoryParse, DetectionAndErrors) {
  EXPECT_EQ(detect_advisory_format("x", ""), std::nullopt);
  EXPECT_EQ(detect_advisory_format("x", "{\"foo\": 1}"), std::nullopt);
  EXPECT_EQ(detect_advisory_format("x", "[1, 2]"), std::nullopt);
  EXPECT_EQ(detect_advisory_format("x", "just: yaml\n"), std::nullopt);
  EXPECT_EQ(detect_advisory_format("x", "{not json"), std::nullopt);
  EXPECT_EQ(detect_advisory_format("x", "key: [unclosed\n"), std::nullopt);
  for (auto f :
       {AdvisoryFormat::kDebianTrackerJson, AdvisoryFormat::kAlpineSecdb, AdvisoryFormat::kOsv}) {
    auto r = parse_advisories(f, "{broken");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(parse_advisories(AdvisoryFormat::kAlpineSecdb, "packages: [\n").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(parse_advisories(AdvisoryFormat::kOsv, "{\"affected\": []}").status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::scan
