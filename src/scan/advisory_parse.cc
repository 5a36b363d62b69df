// The four advisory formats, each normalised into scan::Advisory values.
// Nothing here throws: Boost.JSON is used through error codes and if_*
// accessors, and yaml-cpp's exceptions are caught at the one call that can
// raise them.
#include "scan/advisory_parse.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "scan/version.h"

namespace berth::scan {
namespace {

namespace json = boost::json;

constexpr std::string_view kDebianTrackerUri = "https://security-tracker.debian.org/tracker/";
constexpr std::string_view kAlpineUri = "https://security.alpinelinux.org/vuln/";
constexpr std::string_view kOsvUri = "https://osv.dev/vulnerability/";

// --- Small text helpers -----------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) words.push_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

bool starts_with_cve(std::string_view s) {
  return s.starts_with("CVE-");
}

// "(text)" or "[text]" without the brackets; other text as given.
std::string_view strip_brackets(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 &&
      ((s.front() == '(' && s.back() == ')') || (s.front() == '[' && s.back() == ']')))
    s = trim(s.substr(1, s.size() - 2));
  return s;
}

// --- Collecting advisories ----------------------------------------------------

// Advisories keyed by id, in first-seen order; the callers keep one
// AffectedPackage per (ecosystem, package) within an advisory.
class AdvisorySet {
 public:
  Advisory& get(const std::string& id) {
    auto [it, inserted] = index_.try_emplace(id, items_.size());
    if (inserted) {
      items_.emplace_back();
      items_.back().id = id;
    }
    return items_[it->second];
  }

  static void add_alias(Advisory& a, std::string_view alias) {
    if (alias.empty() || alias == a.id) return;
    if (std::find(a.aliases.begin(), a.aliases.end(), alias) == a.aliases.end())
      a.aliases.emplace_back(alias);
  }

  // The entry of `a` for (ecosystem, package), or nullptr.
  static AffectedPackage* find(Advisory& a, const std::string& ecosystem,
                               const std::string& package) {
    for (auto& p : a.affected)
      if (p.ecosystem == ecosystem && p.package == package) return &p;
    return nullptr;
  }

  // The advisories that name at least one affected package.
  std::vector<Advisory> take() && {
    std::vector<Advisory> out;
    out.reserve(items_.size());
    for (auto& a : items_)
      if (!a.affected.empty()) out.push_back(std::move(a));
    return out;
  }

 private:
  std::map<std::string, size_t> index_;
  std::vector<Advisory> items_;
};

// --- Debian ----------------------------------------------------------------

// Debian's release code names and the numbers OSV's "Debian:<N>" uses.
std::optional<std::string_view> debian_release_number(std::string_view codename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kReleases{{
      {"buzz", "1.1"},
      {"rex", "1.2"},
      {"bo", "1.3"},
      {"hamm", "2.0"},
      {"slink", "2.1"},
      {"potato", "2.2"},
      {"woody", "3.0"},
      {"sarge", "3.1"},
      {"etch", "4"},
      {"lenny", "5"},
      {"squeeze", "6"},
      {"wheezy", "7"},
      {"jessie", "8"},
      {"stretch", "9"},
      {"buster", "10"},
      {"bullseye", "11"},
      {"bookworm", "12"},
      {"trixie", "13"},
  }};
  for (const auto& [name, number] : kReleases)
    if (name == codename) return number;
  return std::nullopt;
}

// "Debian:<N>" for a known code name, "Debian:unstable" for sid, otherwise
// "Debian:<codename>" so that nothing is silently renamed.
std::string debian_ecosystem(std::string_view codename) {
  if (codename.empty() || codename == "sid" || codename == "unstable") return "Debian:unstable";
  if (auto n = debian_release_number(codename)) return "Debian:" + std::string(*n);
  return "Debian:" + std::string(codename);
}

// The tracker's state of one package in one release: a fixed version, or
// <not-affected>, or any other <kind> (unfixed, no-dsa, postponed, ignored,
// end-of-life, ...), which all leave the release vulnerable without a fix.
void set_debian_state(AffectedPackage& p, std::string_view kind, std::string_view version) {
  if (kind == "not-affected") {
    p.not_affected = true;
  } else if (kind == "fixed" && !version.empty()) {
    p.fixed = std::string(version);
  }
}

// (number, revision) of "DSA-5343-1" / "DLA-0001-1" / "DSA-185", for "which
// advisory came first"; large values for anything else.
std::pair<long, long> debian_advisory_order(std::string_view id) {
  auto number_at = [](std::string_view s, size_t& pos) {
    long v = 0;
    auto r = std::from_chars(s.data() + pos, s.data() + s.size(), v);
    if (r.ec != std::errc()) return std::numeric_limits<long>::max();
    pos = static_cast<size_t>(r.ptr - s.data());
    return v;
  };
  size_t pos = 4;  // after "DSA-"
  if (id.size() <= pos) return {std::numeric_limits<long>::max(), 0};
  long number = number_at(id, pos);
  long revision = 0;
  if (pos < id.size() && id[pos] == '-') {
    ++pos;
    revision = number_at(id, pos);
  }
  return {number, revision};
}

bool is_debian_list_header(std::string_view line) {
  // "[07 Feb 2023] DSA-5343-1 openssl - security update"
  if (line.empty() || line.front() != '[') return false;
  size_t close = line.find(']');
  if (close == std::string_view::npos) return false;
  std::string_view rest = trim(line.substr(close + 1));
  return rest.starts_with("DSA-") || rest.starts_with("DLA-");
}

Result<std::vector<Advisory>> parse_debian_list(std::string_view content) {
  AdvisorySet set;
  // For each (vulnerability id, ecosystem, package): the DSA/DLA that gave
  // its entry. When several name the same release and package (regression
  // updates repeat the CVEs), the earliest advisory's version is the fix.
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<long, long>> source;

  struct Current {
    std::string id;
    std::string description;
    std::vector<std::string> cves;
    std::vector<AffectedPackage> affected;
  };
  std::optional<Current> cur;

  auto flush = [&] {
    if (!cur) return;
    std::vector<std::string> ids = cur->cves;
    if (ids.empty()) ids.push_back(cur->id);
    const auto order = debian_advisory_order(cur->id);
    for (const auto& id : ids) {
      Advisory& a = set.get(id);
      if (a.uri.empty()) a.uri = std::string(kDebianTrackerUri) + id;
      if (a.description.empty()) a.description = cur->description;
      AdvisorySet::add_alias(a, cur->id);
      for (const auto& p : cur->affected) {
        auto key = std::make_tuple(id, p.ecosystem, p.package);
        AffectedPackage* existing = AdvisorySet::find(a, p.ecosystem, p.package);
        if (existing == nullptr) {
          a.affected.push_back(p);
          source[key] = order;
        } else if (order < source[key]) {
          *existing = p;
          source[key] = order;
        }
      }
    }
    cur.reset();
  };

  size_t line_no = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view raw = content.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty()) continue;
    auto bad = [&](std::string_view why) {
      return error(Code::kInvalidArgument, "Debian tracker list, line " + std::to_string(line_no) +
                                               ": " + std::string(why));
    };
    if (!raw.empty() && raw.front() == '[') {
      if (!is_debian_list_header(line)) return bad("expected \"[date] DSA-n-r package - text\"");
      flush();
      cur.emplace();
      auto words = split_words(trim(line.substr(line.find(']') + 1)));
      cur->id = std::string(words[0]);
      std::string_view rest = trim(trim(line.substr(line.find(']') + 1)).substr(words[0].size()));
      cur->description = std::string(rest);
      continue;
    }
    if (!cur) return bad("text before the first advisory");
    if (line.starts_with("NOTE:")) continue;
    if (line.front() == '{') {
      size_t close = line.find('}');
      if (close == std::string_view::npos) return bad("unterminated {...}");
      for (auto w : split_words(line.substr(1, close - 1)))
        if (std::find(cur->cves.begin(), cur->cves.end(), w) == cur->cves.end())
          cur->cves.emplace_back(w);
      continue;
    }
    if (line.front() == '[') {
      // "[bullseye] - openssl 1.1.1n-0+deb11u4" or "[lenny] - vlc <not-affected> (why)"
      size_t close = line.find(']');
      if (close == std::string_view::npos) return bad("unterminated [release]");
      std::string_view release = line.substr(1, close - 1);
      auto words = split_words(line.substr(close + 1));
      if (words.size() < 3 || words[0] != "-")
        return bad("expected \"[release] - package version\"");
      AffectedPackage p;
      p.ecosystem = debian_ecosystem(release);
      p.package = std::string(words[1]);
      std::string_view state = words[2];
      if (state.size() >= 2 && state.front() == '<' && state.back() == '>')
        set_debian_state(p, state.substr(1, state.size() - 2), "");
      else
        set_debian_state(p, "fixed", state);
      cur->affected.push_back(std::move(p));
      continue;
    }
    return bad("unrecognised line");
  }
  flush();
  return std::move(set).take();
}

const json::object* object_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : it->value().if_object();
}
const json::array* array_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : it->value().if_array();
}
std::string_view string_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  const json::string* s = it->value().if_string();
  return s == nullptr ? std::string_view() : std::string_view(*s);
}

Severity debian_urgency(std::string_view urgency) {
  if (urgency.starts_with("unimportant")) return Severity::kInformational;
  if (urgency.starts_with("low")) return Severity::kLow;
  if (urgency.starts_with("medium")) return Severity::kMedium;
  if (urgency.starts_with("high")) return Severity::kHigh;
  return Severity::kUndefined;
}

// The stable releases that inherit unstable's line when they have none of
// their own: those the tracker followed while its per-CVE JSON (vuln-list-
// debian) has existed. Older releases are only ever given their own lines.
constexpr std::array<std::string_view, 4> kInheritingReleases{"buster", "bullseye", "bookworm",
                                                              "trixie"};

// One CVE of the tracker's data/CVE/list as vuln-list-debian writes it.
//
// Inheritance rule (Debian's tracker semantics, kept conservative): an
// annotation without "Release" is unstable's and is recorded as
// "Debian:unstable". A release of kInheritingReleases with no line of its own
// for that package inherits unstable's state: the same fixed version (the
// tracker counts such a release fixed exactly when its version is at least
// unstable's fix, which is what comparing the installed version with the
// inherited fix decides), <not-affected> when unstable is not affected, and
// "no fix" when unstable has none (unfixed, or any other kind).
Result<std::vector<Advisory>> parse_debian_json(std::string_view content) {
  json::error_code ec;
  json::value root = json::parse(content, ec);
  if (ec) return error(Code::kInvalidArgument, "Debian tracker JSON: " + ec.message());
  const json::object* o = root.if_object();
  const json::object* header = o ? object_at(*o, "Header") : nullptr;
  const json::array* annotations = o ? array_at(*o, "Annotations") : nullptr;
  if (header == nullptr || annotations == nullptr)
    return error(Code::kInvalidArgument, "Debian tracker JSON: no Header or Annotations");
  Advisory a;
  a.id = std::string(string_at(*header, "ID"));
  if (a.id.empty()) return error(Code::kInvalidArgument, "Debian tracker JSON: no Header.ID");
  a.description = std::string(strip_brackets(string_at(*header, "Description")));
  a.uri = std::string(kDebianTrackerUri) + a.id;

  // package -> (release or "" for unstable) -> state
  std::map<std::string, std::map<std::string, AffectedPackage>> by_package;
  for (const auto& v : *annotations) {
    const json::object* an = v.if_object();
    if (an == nullptr) continue;
    std::string_view type = string_at(*an, "Type");
    if (type == "xref") {
      if (const json::array* bugs = array_at(*an, "Bugs"))
        for (const auto& b : *bugs)
          if (const json::string* s = b.if_string()) AdvisorySet::add_alias(a, *s);
      continue;
    }
    if (type != "package") continue;
    std::string package(string_at(*an, "Package"));
    if (package.empty()) continue;
    std::string_view kind = string_at(*an, "Kind");
    if (kind == "itp") continue;  // not (yet) in Debian
    std::string release(string_at(*an, "Release"));
    AffectedPackage p;
    p.ecosystem = debian_ecosystem(release);
    p.package = package;
    set_debian_state(p, kind, string_at(*an, "Version"));
    by_package[package].insert_or_assign(release, std::move(p));
    a.severity = std::max(a.severity, debian_urgency(string_at(*an, "Severity")));
  }
  for (auto& [package, releases] : by_package) {
    auto sid = releases.find("");
    if (sid != releases.end()) {
      for (std::string_view r : kInheritingReleases) {
        if (releases.count(std::string(r)) != 0) continue;
        AffectedPackage inherited = sid->second;
        inherited.ecosystem = debian_ecosystem(r);
        a.affected.push_back(std::move(inherited));
      }
    }
    for (auto& [release, p] : releases) a.affected.push_back(std::move(p));
  }
  std::sort(a.affected.begin(), a.affected.end(),
            [](const AffectedPackage& x, const AffectedPackage& y) {
              return std::tie(x.package, x.ecosystem) < std::tie(y.package, y.ecosystem);
            });
  std::vector<Advisory> out;
  if (!a.affected.empty()) out.push_back(std::move(a));
  return out;
}

// --- Alpine secdb ------------------------------------------------------------

std::string alpine_ecosystem(std::string_view distroversion) {
  std::string v(trim(distroversion));
  if (!v.empty() && v.front() != 'v') v.insert(v.begin(), 'v');
  return "Alpine:" + v;
}

// One secfixes entry: "CVE-2017-8904 XSA-214" names one vulnerability, the
// first word its id and the others aliases.
void add_alpine_fix(AdvisorySet& set, const std::string& ecosystem, const std::string& origin,
                    std::string_view fixed_key, std::string_view entry) {
  auto words = split_words(entry);
  if (words.empty() || origin.empty()) return;
  Advisory& a = set.get(std::string(words[0]));
  if (a.uri.empty()) a.uri = std::string(kAlpineUri) + a.id;
  for (size_t i = 1; i < words.size(); ++i) AdvisorySet::add_alias(a, words[i]);
  AffectedPackage p;
  p.ecosystem = ecosystem;
  p.package = origin;
  fixed_key = trim(fixed_key);
  if (fixed_key == "0")
    p.not_affected = true;
  else
    p.fixed = std::string(fixed_key);
  // An id listed under several keys of one origin (secdb re-lists fixes that
  // were redone) keeps the newest fixed version, the conservative reading;
  // "0" counts as older than any version.
  AffectedPackage* existing = AdvisorySet::find(a, p.ecosystem, p.package);
  if (existing == nullptr) {
    a.affected.push_back(std::move(p));
  } else if (!p.not_affected &&
             (existing->not_affected || compare_apk_versions(p.fixed, existing->fixed) > 0)) {
    *existing = std::move(p);
  }
}

void add_alpine_json_package(AdvisorySet& set, const std::string& ecosystem,
                             const json::object& pkg) {
  std::string origin(string_at(pkg, "name"));
  const json::object* secfixes = object_at(pkg, "secfixes");
  if (secfixes == nullptr) return;
  for (const auto& [key, ids] : *secfixes) {
    if (const json::array* list = ids.if_array()) {
      for (const auto& id : *list)
        if (const json::string* s = id.if_string()) add_alpine_fix(set, ecosystem, origin, key, *s);
    } else if (const json::string* s = ids.if_string()) {
      add_alpine_fix(set, ecosystem, origin, key, *s);
    }
  }
}

Result<std::vector<Advisory>> parse_alpine_json(const json::object& root) {
  std::string_view dv = string_at(root, "distroversion");
  if (dv.empty()) return error(Code::kInvalidArgument, "Alpine secdb: no distroversion");
  const std::string ecosystem = alpine_ecosystem(dv);
  AdvisorySet set;
  if (const json::array* packages = array_at(root, "packages")) {
    for (const auto& v : *packages) {
      const json::object* entry = v.if_object();
      const json::object* pkg = entry ? object_at(*entry, "pkg") : nullptr;
      if (pkg != nullptr) add_alpine_json_package(set, ecosystem, *pkg);
    }
  } else {
    add_alpine_json_package(set, ecosystem, root);
  }
  return std::move(set).take();
}

Result<std::vector<Advisory>> parse_alpine_yaml(std::string_view content) {
  AdvisorySet set;
  try {
    YAML::Node root = YAML::Load(std::string(content));
    if (!root.IsMap()) return error(Code::kInvalidArgument, "Alpine secdb: not a YAML mapping");
    YAML::Node dv = root["distroversion"];
    if (!dv.IsScalar()) return error(Code::kInvalidArgument, "Alpine secdb: no distroversion");
    const std::string ecosystem = alpine_ecosystem(dv.Scalar());
    YAML::Node packages = root["packages"];
    if (!packages.IsSequence()) return std::move(set).take();
    for (const auto& entry : packages) {
      if (!entry.IsMap()) continue;
      YAML::Node pkg = entry["pkg"];
      if (!pkg.IsMap()) continue;
      YAML::Node name = pkg["name"];
      YAML::Node secfixes = pkg["secfixes"];
      if (!name.IsScalar() || !secfixes.IsMap()) continue;
      const std::string origin = name.Scalar();
      for (const auto& fix : secfixes) {
        if (!fix.first.IsScalar()) continue;
        const std::string key = fix.first.Scalar();
        if (fix.second.IsSequence()) {
          for (const auto& id : fix.second)
            if (id.IsScalar()) add_alpine_fix(set, ecosystem, origin, key, id.Scalar());
        } else if (fix.second.IsScalar()) {
          add_alpine_fix(set, ecosystem, origin, key, fix.second.Scalar());
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return error(Code::kInvalidArgument, std::string("Alpine secdb YAML: ") + e.what());
  }
  return std::move(set).take();
}

// --- OSV -------------------------------------------------------------------

// CVSS v3.x base score from its vector, nullopt when the vector is not a
// complete v3.0/v3.1 base vector. (FIRST's CVSS v3.1 specification, 7.1 and
// Appendix A's Roundup.)
std::optional<double> cvss3_base_score(std::string_view vector) {
  if (!vector.starts_with("CVSS:3.0/") && !vector.starts_with("CVSS:3.1/")) return std::nullopt;
  std::map<std::string, std::string, std::less<>> m;
  std::string_view rest = vector.substr(9);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    size_t colon = part.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    m.emplace(std::string(part.substr(0, colon)), std::string(part.substr(colon + 1)));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  auto metric = [&](std::string_view key,
                    std::initializer_list<std::pair<std::string_view, double>> values)
      -> std::optional<double> {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    for (const auto& [name, weight] : values)
      if (name == it->second) return weight;
    return std::nullopt;
  };
  auto scope = m.find("S");
  if (scope == m.end() || (scope->second != "U" && scope->second != "C")) return std::nullopt;
  const bool changed = scope->second == "C";
  auto av = metric("AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}});
  auto ac = metric("AC", {{"L", 0.77}, {"H", 0.44}});
  auto pr = metric("PR", {{"N", 0.85}, {"L", changed ? 0.68 : 0.62}, {"H", changed ? 0.5 : 0.27}});
  auto ui = metric("UI", {{"N", 0.85}, {"R", 0.62}});
  auto c = metric("C", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}});
  auto i = metric("I", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}});
  auto a = metric("A", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}});
  if (!av || !ac || !pr || !ui || !c || !i || !a) return std::nullopt;
  auto roundup = [](double x) {
    const long long n = std::llround(x * 100000.0);
    if (n % 10000 == 0) return static_cast<double>(n) / 100000.0;
    return static_cast<double>(n / 10000 + 1) / 10.0;
  };
  const double iss = 1.0 - (1.0 - *c) * (1.0 - *i) * (1.0 - *a);
  const double impact =
      changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  const double exploitability = 8.22 * *av * *ac * *pr * *ui;
  if (impact <= 0) return 0.0;
  if (changed) return roundup(std::min(1.08 * (impact + exploitability), 10.0));
  return roundup(std::min(impact + exploitability, 10.0));
}

Severity severity_of_score(double score) {
  if (score >= 9.0) return Severity::kCritical;
  if (score >= 7.0) return Severity::kHigh;
  if (score >= 4.0) return Severity::kMedium;
  if (score > 0.0) return Severity::kLow;
  return Severity::kInformational;
}

// A distribution's own priority word (Ubuntu: negligible..critical).
Severity severity_of_word(std::string_view w) {
  if (w == "negligible" || w == "untriaged") return Severity::kInformational;
  if (w == "low") return Severity::kLow;
  if (w == "medium") return Severity::kMedium;
  if (w == "high") return Severity::kHigh;
  if (w == "critical") return Severity::kCritical;
  return Severity::kUndefined;
}

// "Ubuntu:22.04:LTS" -> "Ubuntu:22.04" (and "Ubuntu:Pro:16.04:LTS" ->
// "Ubuntu:Pro:16.04", which no plain image's ecosystem names).
std::string normalise_ecosystem(std::string_view e) {
  if (e.starts_with("Ubuntu:") && e.ends_with(":LTS")) e.remove_suffix(4);
  return std::string(e);
}

// The CVE id an OSV record is about, if it names exactly one: the id itself,
// a single CVE alias, or the CVE inside a distribution's "UBUNTU-CVE-..." id.
std::string osv_vulnerability_id(std::string_view id, const std::vector<std::string>& aliases) {
  if (starts_with_cve(id)) return std::string(id);
  std::vector<std::string> cves;
  for (const auto& a : aliases)
    if (starts_with_cve(a)) cves.push_back(a);
  if (cves.size() == 1) return cves.front();
  size_t at = id.find("-CVE-");
  if (cves.empty() && at != std::string_view::npos) return std::string(id.substr(at + 1));
  return std::string(id);
}

Result<std::vector<Advisory>> parse_osv(const json::object& root) {
  std::string_view id = string_at(root, "id");
  if (id.empty()) return error(Code::kInvalidArgument, "OSV: no id");
  std::vector<Advisory> out;
  if (auto it = root.find("withdrawn"); it != root.end() && !it->value().is_null()) return out;

  std::vector<std::string> aliases;
  if (const json::array* al = array_at(root, "aliases"))
    for (const auto& v : *al)
      if (const json::string* s = v.if_string()) aliases.emplace_back(*s);

  Advisory a;
  a.id = osv_vulnerability_id(id, aliases);
  AdvisorySet::add_alias(a, id);
  for (const auto& al : aliases) AdvisorySet::add_alias(a, al);
  a.uri = std::string(kOsvUri) + std::string(id);
  std::string_view summary = string_at(root, "summary");
  std::string_view details = trim(string_at(root, "details"));
  a.description = std::string(details.empty() ? summary : details);

  Severity distro_severity = Severity::kUndefined;
  if (const json::array* sev = array_at(root, "severity")) {
    for (const auto& v : *sev) {
      const json::object* s = v.if_object();
      if (s == nullptr) continue;
      std::string_view type = string_at(*s, "type");
      std::string_view score = string_at(*s, "score");
      if (type.starts_with("CVSS_")) {
        // A v3 vector is preferred, the only kind scored here; otherwise the
        // first vector (v2, v4) is kept as given.
        if (type == "CVSS_V3" ? !a.cvss_score.has_value() : a.cvss_vector.empty()) {
          a.cvss_vector = std::string(score);
          a.cvss_score = cvss3_base_score(score);
        }
      } else {
        distro_severity = std::max(distro_severity, severity_of_word(score));
      }
    }
  }
  a.severity = distro_severity;
  if (a.severity == Severity::kUndefined && a.cvss_score)
    a.severity = severity_of_score(*a.cvss_score);

  if (const json::array* affected = array_at(root, "affected")) {
    for (const auto& v : *affected) {
      const json::object* entry = v.if_object();
      const json::object* pkg = entry ? object_at(*entry, "package") : nullptr;
      if (pkg == nullptr) continue;
      AffectedPackage base;
      base.ecosystem = normalise_ecosystem(string_at(*pkg, "ecosystem"));
      base.package = std::string(string_at(*pkg, "name"));
      if (base.ecosystem.empty() || base.package.empty()) continue;
      if (const json::array* versions = array_at(*entry, "versions"))
        for (const auto& ver : *versions)
          if (const json::string* s = ver.if_string()) base.versions.emplace_back(*s);
      bool any_range = false;
      if (const json::array* ranges = array_at(*entry, "ranges")) {
        for (const auto& rv : *ranges) {
          const json::object* range = rv.if_object();
          if (range == nullptr || string_at(*range, "type") != "ECOSYSTEM") continue;
          const json::array* events = array_at(*range, "events");
          if (events == nullptr) continue;
          // Each "introduced" opens an interval that the next "fixed" closes.
          // "last_affected" cannot be expressed as a first fixed version, so
          // such an interval is kept open (affected, no known fix): the
          // conservative reading.
          std::optional<AffectedPackage> open;
          for (const auto& ev : *events) {
            const json::object* e = ev.if_object();
            if (e == nullptr) continue;
            if (auto intro = string_at(*e, "introduced"); !intro.empty()) {
              if (open) a.affected.push_back(std::move(*open));
              open = base;
              open->introduced = intro == "0" ? std::string() : std::string(intro);
            } else if (auto fixed = string_at(*e, "fixed"); !fixed.empty() && open) {
              open->fixed = std::string(fixed);
              a.affected.push_back(std::move(*open));
              open.reset();
            } else if (!string_at(*e, "last_affected").empty() && open) {
              a.affected.push_back(std::move(*open));
              open.reset();
            }
          }
          if (open) a.affected.push_back(std::move(*open));
          any_range = true;
        }
      }
      // Only an explicit version list: affected exactly at those versions is
      // not expressible without a range, so it is kept as "every version".
      if (!any_range && !base.versions.empty()) a.affected.push_back(std::move(base));
    }
  }
  if (!a.affected.empty()) out.push_back(std::move(a));
  return out;
}

// --- Detection -------------------------------------------------------------

std::optional<AdvisoryFormat> classify_json(const json::object& o) {
  if (o.contains("Header") && o.contains("Annotations")) return AdvisoryFormat::kDebianTrackerJson;
  if (o.contains("distroversion") && (o.contains("secfixes") || o.contains("packages")))
    return AdvisoryFormat::kAlpineSecdb;
  if (o.contains("id") &&
      (o.contains("affected") || o.contains("schema_version") || o.contains("modified")))
    return AdvisoryFormat::kOsv;
  return std::nullopt;
}

std::string_view skip_bom_and_space(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  return trim(s);
}

}  // namespace

std::optional<AdvisoryFormat> detect_advisory_format(std::string_view /*file_name*/,
                                                     std::string_view content) {
  std::string_view s = skip_bom_and_space(content);
  if (s.empty()) return std::nullopt;
  if (s.front() == '[') {
    if (is_debian_list_header(s.substr(0, s.find('\n')))) return AdvisoryFormat::kDebianTrackerList;
    return std::nullopt;
  }
  if (s.front() == '{') {
    json::error_code ec;
    json::value v = json::parse(s, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return classify_json(v.get_object());
  }
  // YAML: Alpine's secdb is the only YAML format; its top-level keys decide.
  try {
    YAML::Node root = YAML::Load(std::string(s));
    if (root.IsMap() && root["distroversion"].IsScalar() && root["packages"])
      return AdvisoryFormat::kAlpineSecdb;
  } catch (const YAML::Exception&) {
  }
  return std::nullopt;
}

Result<std::vector<Advisory>> parse_advisories(AdvisoryFormat format, std::string_view content) {
  content = skip_bom_and_space(content);
  switch (format) {
    case AdvisoryFormat::kDebianTrackerList:
      return parse_debian_list(content);
    case AdvisoryFormat::kDebianTrackerJson:
      return parse_debian_json(content);
    case AdvisoryFormat::kAlpineSecdb:
    case AdvisoryFormat::kOsv: {
      if (!content.empty() && content.front() == '{') {
        json::error_code ec;
        json::value v = json::parse(content, ec);
        if (ec) return error(Code::kInvalidArgument, "advisory JSON: " + ec.message());
        const json::object* o = v.if_object();
        if (o == nullptr) return error(Code::kInvalidArgument, "advisory JSON: not an object");
        return format == AdvisoryFormat::kOsv ? parse_osv(*o) : parse_alpine_json(*o);
      }
      if (format == AdvisoryFormat::kOsv)
        return error(Code::kInvalidArgument, "OSV: not a JSON object");
      return parse_alpine_yaml(content);
    }
  }
  return error(Code::kInvalidArgument, "unknown advisory format");
}

}  // namespace berth::scan
