#include "scan/version.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace berth::scan {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}

int sign(int v) {
  return (v > 0) - (v < 0);
}

// Compares two runs of decimal digits by value, of any length (no overflow):
// leading zeros ignored, then the longer is larger, then digit by digit.
int compare_digit_runs(std::string_view a, std::string_view b) {
  while (!a.empty() && a.front() == '0') a.remove_prefix(1);
  while (!b.empty() && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

std::string_view take_digits(std::string_view s, size_t& pos) {
  const size_t start = pos;
  while (pos < s.size() && is_digit(s[pos])) ++pos;
  return s.substr(start, pos - start);
}

// ---- dpkg ------------------------------------------------------------------

// deb-version(7): the weight of a character in a non-digit run; the end of
// the run weighs 0, '~' less than the end, letters less than other symbols.
int dpkg_order(char c) {
  if (is_digit(c)) return 0;
  if (is_alpha(c)) return static_cast<unsigned char>(c);
  if (c == '~') return -1;
  return static_cast<unsigned char>(c) + 256;
}

// dpkg's verrevcmp: alternating non-digit and digit runs.
int dpkg_compare_part(std::string_view a, std::string_view b) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      const int ac = i < a.size() ? dpkg_order(a[i]) : 0;
      const int bc = j < b.size() ? dpkg_order(b[j]) : 0;
      if (ac != bc) return sign(ac - bc);
      ++i;
      ++j;
    }
    const int d = compare_digit_runs(take_digits(a, i), take_digits(b, j));
    if (d != 0) return d;
  }
  return 0;
}

struct DpkgVersion {
  std::string_view epoch;     // "" means 0
  std::string_view upstream;  // everything between the epoch and the last '-'
  std::string_view revision;  // "" when there is no '-' (compares equal to "0")
};

DpkgVersion split_dpkg(std::string_view v) {
  DpkgVersion out;
  if (const size_t colon = v.find(':'); colon != std::string_view::npos) {
    out.epoch = v.substr(0, colon);
    v.remove_prefix(colon + 1);
  }
  if (const size_t dash = v.rfind('-'); dash != std::string_view::npos) {
    out.revision = v.substr(dash + 1);
    v = v.substr(0, dash);
  }
  out.upstream = v;
  return out;
}

// ---- apk -------------------------------------------------------------------
//
// An apk version is number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}.
// It is read into those parts; what does not fit is kept as a remainder that
// orders the version before the same version without one. A version whose
// end is not a "-r" build part at all is invalid; two invalid versions order
// as plain strings, an invalid and a valid one part by part.

struct ApkSuffix {
  int weight = 0;  // alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p
  std::string_view number;
};

constexpr int kNoSuffixWeight = 4;

struct ApkVersion {
  std::string_view original;
  std::vector<std::string_view> numbers;
  char letter = 0;
  std::vector<ApkSuffix> suffixes;
  std::string_view build;  // digits after "-r", "" when absent or empty
  std::string_view remainder;
  bool invalid = false;
};

// The known suffix names, in the order a leftmost-first match tries them
// ("pre" before "p").
struct SuffixName {
  std::string_view name;
  int weight;
};
constexpr SuffixName kSuffixes[] = {{"alpha", 0}, {"beta", 1}, {"pre", 2}, {"rc", 3}, {"cvs", 5},
                                    {"svn", 6},   {"git", 7},  {"hg", 8},  {"p", 9}};

ApkVersion parse_apk(std::string_view s) {
  ApkVersion v;
  v.original = s;
  size_t pos = 0;
  // number{.number}...; a '.' not followed by a digit ends the list with an
  // empty number.
  while (pos < s.size() && is_digit(s[pos])) {
    v.numbers.push_back(take_digits(s, pos));
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      if (pos >= s.size() || !is_digit(s[pos])) {
        v.numbers.emplace_back();
        break;
      }
    }
  }
  if (pos < s.size() && is_lower(s[pos])) v.letter = s[pos++];
  while (pos < s.size() && s[pos] == '_') {
    const std::string_view rest = s.substr(pos + 1);
    const SuffixName* found = nullptr;
    for (const auto& suffix : kSuffixes) {
      if (rest.starts_with(suffix.name)) {
        found = &suffix;
        break;
      }
    }
    if (found == nullptr) break;
    pos += 1 + found->name.size();
    v.suffixes.push_back({found->weight, take_digits(s, pos)});
  }
  if (pos + 1 < s.size() && s[pos] == '~' &&
      (is_digit(s[pos + 1]) || (s[pos + 1] >= 'a' && s[pos + 1] <= 'f'))) {
    ++pos;
    while (pos < s.size() && (is_digit(s[pos]) || (s[pos] >= 'a' && s[pos] <= 'f'))) ++pos;
  }
  if (pos < s.size()) {
    if (s.substr(pos).starts_with("-r")) {
      pos += 2;
      v.build = take_digits(s, pos);
    } else {
      v.invalid = true;
    }
  }
  v.remainder = s.substr(pos);
  return v;
}

int compare_apk_numbers(const ApkVersion& a, const ApkVersion& b) {
  const size_t n = std::max(a.numbers.size(), b.numbers.size());
  for (size_t i = 0; i < n; ++i) {
    const bool a_has = i < a.numbers.size();
    const bool b_has = i < b.numbers.size();
    const std::string_view an = a_has ? a.numbers[i] : std::string_view("0");
    const std::string_view bn = b_has ? b.numbers[i] : std::string_view("0");
    int d = 0;
    // After the first number, a number with a leading zero is a fraction:
    // the two compare as strings ("1.02" < "1.1"), as apk does.
    if (i > 0 && a_has && b_has && (an.starts_with('0') || bn.starts_with('0'))) {
      d = sign(an.compare(bn));
    } else {
      d = compare_digit_runs(an, bn);
    }
    if (d != 0) return d;
  }
  return 0;
}

int compare_apk_parsed(const ApkVersion& a, const ApkVersion& b) {
  if (a.invalid && b.invalid) return sign(a.original.compare(b.original));
  if (const int d = compare_apk_numbers(a, b); d != 0) return d;
  if (a.letter != b.letter) {
    if (a.letter == 0) return -1;
    if (b.letter == 0) return 1;
    return a.letter < b.letter ? -1 : 1;
  }
  const size_t n = std::max(a.suffixes.size(), b.suffixes.size());
  for (size_t i = 0; i < n; ++i) {
    const ApkSuffix as = i < a.suffixes.size() ? a.suffixes[i] : ApkSuffix{kNoSuffixWeight, {}};
    const ApkSuffix bs = i < b.suffixes.size() ? b.suffixes[i] : ApkSuffix{kNoSuffixWeight, {}};
    if (as.weight != bs.weight) return as.weight < bs.weight ? -1 : 1;
    if (const int d = compare_digit_runs(as.number, bs.number); d != 0) return d;
  }
  // The commit hash is not ordered (apk cannot order it either).
  if (const int d = compare_digit_runs(a.build, b.build); d != 0) return d;
  if (a.remainder.empty() != b.remainder.empty()) return a.remainder.empty() ? 1 : -1;
  return 0;
}

}  // namespace

int compare_dpkg_versions(std::string_view a, std::string_view b) {
  const DpkgVersion va = split_dpkg(a);
  const DpkgVersion vb = split_dpkg(b);
  if (const int d = dpkg_compare_part(va.epoch, vb.epoch); d != 0) return d;
  if (const int d = dpkg_compare_part(va.upstream, vb.upstream); d != 0) return d;
  return dpkg_compare_part(va.revision, vb.revision);
}

bool valid_dpkg_version(std::string_view v) {
  if (v.empty()) return false;
  const bool has_colon = v.find(':') != std::string_view::npos;
  const bool has_dash = v.find('-') != std::string_view::npos;
  const DpkgVersion parts = split_dpkg(v);
  if (has_colon &&
      (parts.epoch.empty() || !std::all_of(parts.epoch.begin(), parts.epoch.end(), is_digit))) {
    return false;
  }
  if (parts.upstream.empty() || !is_digit(parts.upstream.front())) return false;
  for (const char c : parts.upstream) {
    if (!is_digit(c) && !is_alpha(c) &&
        std::string_view(".+~-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  if (has_dash && parts.revision.empty()) return false;
  for (const char c : parts.revision) {
    if (!is_digit(c) && !is_alpha(c) && std::string_view(".+~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

int compare_apk_versions(std::string_view a, std::string_view b) {
  return compare_apk_parsed(parse_apk(a), parse_apk(b));
}

bool valid_apk_version(std::string_view v) {
  const ApkVersion parsed = parse_apk(v);
  if (parsed.invalid || !parsed.remainder.empty() || parsed.numbers.empty()) return false;
  if (std::any_of(parsed.numbers.begin(), parsed.numbers.end(),
                  [](std::string_view n) { return n.empty(); })) {
    return false;
  }
  // "-r" must carry its number.
  return !(v.find("-r") != std::string_view::npos && parsed.build.empty());
}

}  // namespace berth::scan
