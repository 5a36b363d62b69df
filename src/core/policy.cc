#include "core/policy.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstring>

namespace berth::policy {
namespace {

namespace json = boost::json;

Status malformed(std::string message) {
  return error(Code::kInvalidArgument, std::move(message));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// --- condition operators and keys ------------------------------------------

struct OpName {
  std::string_view name;
  Condition::Op op;
};

constexpr std::array<OpName, 26> kOps = {{
    {"StringEquals", Condition::Op::kStringEquals},
    {"StringNotEquals", Condition::Op::kStringNotEquals},
    {"StringEqualsIgnoreCase", Condition::Op::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", Condition::Op::kStringNotEqualsIgnoreCase},
    {"StringLike", Condition::Op::kStringLike},
    {"StringNotLike", Condition::Op::kStringNotLike},
    {"ArnEquals", Condition::Op::kArnEquals},
    {"ArnNotEquals", Condition::Op::kArnNotEquals},
    {"ArnLike", Condition::Op::kArnLike},
    {"ArnNotLike", Condition::Op::kArnNotLike},
    {"NumericEquals", Condition::Op::kNumericEquals},
    {"NumericNotEquals", Condition::Op::kNumericNotEquals},
    {"NumericLessThan", Condition::Op::kNumericLessThan},
    {"NumericLessThanEquals", Condition::Op::kNumericLessThanEquals},
    {"NumericGreaterThan", Condition::Op::kNumericGreaterThan},
    {"NumericGreaterThanEquals", Condition::Op::kNumericGreaterThanEquals},
    {"DateEquals", Condition::Op::kDateEquals},
    {"DateNotEquals", Condition::Op::kDateNotEquals},
    {"DateLessThan", Condition::Op::kDateLessThan},
    {"DateLessThanEquals", Condition::Op::kDateLessThanEquals},
    {"DateGreaterThan", Condition::Op::kDateGreaterThan},
    {"DateGreaterThanEquals", Condition::Op::kDateGreaterThanEquals},
    {"Bool", Condition::Op::kBool},
    {"IpAddress", Condition::Op::kIpAddress},
    {"NotIpAddress", Condition::Op::kNotIpAddress},
    {"Null", Condition::Op::kNull},
}};

bool is_negated(Condition::Op op) {
  using O = Condition::Op;
  switch (op) {
    case O::kStringNotEquals:
    case O::kStringNotEqualsIgnoreCase:
    case O::kStringNotLike:
    case O::kArnNotEquals:
    case O::kArnNotLike:
    case O::kNumericNotEquals:
    case O::kDateNotEquals:
    case O::kNotIpAddress:
      return true;
    default:
      return false;
  }
}

bool is_numeric(Condition::Op op) {
  return op >= Condition::Op::kNumericEquals && op <= Condition::Op::kNumericGreaterThanEquals;
}
bool is_date(Condition::Op op) {
  return op >= Condition::Op::kDateEquals && op <= Condition::Op::kDateGreaterThanEquals;
}
bool is_ip(Condition::Op op) {
  return op == Condition::Op::kIpAddress || op == Condition::Op::kNotIpAddress;
}

constexpr std::array<std::string_view, 9> kPlainKeys = {
    "aws:SourceIp",  "aws:PrincipalAccount", "aws:PrincipalArn",  "aws:username", "aws:CurrentTime",
    "aws:EpochTime", "aws:SecureTransport",  "aws:PrincipalType", "aws:TagKeys",
};
constexpr std::string_view kAwsTagPrefix = "aws:ResourceTag/";
constexpr std::string_view kEcrTagPrefix = "ecr:ResourceTag/";

bool is_tag_key(std::string_view key) {
  return (istarts_with(key, kAwsTagPrefix) && key.size() > kAwsTagPrefix.size()) ||
         (istarts_with(key, kEcrTagPrefix) && key.size() > kEcrTagPrefix.size());
}

constexpr std::string_view kRequestTagPrefix = "aws:RequestTag/";

bool is_known_key(std::string_view key) {
  if (is_tag_key(key)) return true;
  if (istarts_with(key, kRequestTagPrefix) && key.size() > kRequestTagPrefix.size()) return true;
  return std::any_of(kPlainKeys.begin(), kPlainKeys.end(),
                     [&](std::string_view k) { return iequals(k, key); });
}

// --- values ----------------------------------------------------------------

// Seconds since the epoch from an ISO 8601 date ("2026-01-02", "...T03:04:05Z",
// fractions and "+hh:mm" offsets) or a plain epoch number.
std::optional<int64_t> parse_date(std::string_view s) {
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    if (pos + n > s.size()) return std::nullopt;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
  }
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
  if (!y || !mo || !d || s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31) return std::nullopt;
  int hh = 0, mm = 0, ss = 0;
  size_t pos = 10;
  int64_t offset = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't') return std::nullopt;
    auto h = digits(pos + 1, 2), m = digits(pos + 4, 2);
    if (!h || !m || pos + 3 >= s.size() || s[pos + 3] != ':') return std::nullopt;
    hh = *h;
    mm = *m;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      auto sec = digits(pos + 1, 2);
      if (!sec) return std::nullopt;
      ss = *sec;
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t start = pos;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
        if (pos == start) return std::nullopt;
      }
    }
    if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
    if (pos < s.size()) {
      if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
        pos = s.size();
      } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
        auto oh = digits(pos + 1, 2), om = digits(pos + 4, 2);
        if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
        offset = (*oh * 3600 + *om * 60) * (s[pos] == '+' ? 1 : -1);
        pos = s.size();
      } else {
        return std::nullopt;
      }
    }
  }
  // Days from the civil date (Howard Hinnant's algorithm).
  int64_t yy = *y - (*mo <= 2 ? 1 : 0);
  int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + hh * 3600 + mm * 60 + ss - offset;
}

std::optional<double> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

struct Cidr {
  int family = 0;
  std::array<unsigned char, 16> addr{};
  int bits = 0;
};

std::optional<Cidr> parse_ip(std::string_view text, bool allow_prefix) {
  Cidr c;
  std::string_view host = text;
  int bits = -1;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    if (!allow_prefix) return std::nullopt;
    host = text.substr(0, slash);
    std::string_view b = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || ec != std::errc() || p != b.data() + b.size() || bits < 0) return std::nullopt;
  }
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), c.addr.data()) == 1) {
    c.family = AF_INET;
    if (bits > 32) return std::nullopt;
    c.bits = bits < 0 ? 32 : bits;
  } else if (inet_pton(AF_INET6, h.c_str(), c.addr.data()) == 1) {
    c.family = AF_INET6;
    if (bits > 128) return std::nullopt;
    c.bits = bits < 0 ? 128 : bits;
  } else {
    return std::nullopt;
  }
  return c;
}

bool in_cidr(const Cidr& net, const Cidr& ip) {
  if (net.family != ip.family) return false;
  int full = net.bits / 8, rest = net.bits % 8;
  if (std::memcmp(net.addr.data(), ip.addr.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (net.addr[static_cast<size_t>(full)] & mask) ==
         (ip.addr[static_cast<size_t>(full)] & mask);
}

// --- parsing ---------------------------------------------------------------

// A string or a non-empty list of strings.
Result<std::vector<std::string>> string_list(const json::value& v, std::string_view element) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.emplace_back(v.as_string());
    return out;
  }
  if (v.is_array() && !v.as_array().empty()) {
    for (const auto& e : v.as_array()) {
      if (!e.is_string())
        return malformed(fmt::format("Syntax errors in policy. {} must hold strings.", element));
      out.emplace_back(e.as_string());
    }
    return out;
  }
  return malformed(
      fmt::format("Syntax errors in policy. {} must be a string or a list of strings.", element));
}

// Condition values may be strings, numbers or booleans (or a list of them).
Result<std::vector<std::string>> condition_values(const json::value& v) {
  std::vector<std::string> out;
  auto one = [&](const json::value& e) -> Status {
    if (e.is_string()) {
      out.emplace_back(e.as_string());
    } else if (e.is_bool()) {
      out.emplace_back(e.as_bool() ? "true" : "false");
    } else if (e.is_number()) {
      out.push_back(json::serialize(e));
    } else {
      return malformed(
          "Syntax errors in policy. Condition values must be strings, numbers or booleans.");
    }
    return Status::ok();
  };
  if (v.is_array()) {
    if (v.as_array().empty())
      return malformed("Syntax errors in policy. A Condition key needs a value.");
    for (const auto& e : v.as_array()) BERTH_RETURN_IF_ERROR(one(e));
  } else {
    BERTH_RETURN_IF_ERROR(one(v));
  }
  return out;
}

Status check_action(std::string_view a) {
  if (a == "*") return Status::ok();
  auto colon = a.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == a.size()) {
    return malformed(
        fmt::format("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. "
                    "Offending action: {}",
                    a));
  }
  return Status::ok();
}

Status check_resource(std::string_view r) {
  if (r == "*" || r.substr(0, 4) == "arn:") return Status::ok();
  return malformed(fmt::format("Resource {} must be in ARN format or \"*\".", r));
}

std::optional<std::string> principal_arn_of(std::string_view p) {
  if (p == "*") return std::string("*");
  if (p.size() == 12 &&
      std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fmt::format("arn:aws:iam::{}:root", p);
  }
  constexpr std::string_view kIam = "arn:aws:iam::";
  if (p.substr(0, kIam.size()) != kIam) return std::nullopt;
  std::string_view rest = p.substr(kIam.size());
  auto colon = rest.find(':');
  if (colon != 12) return std::nullopt;
  std::string_view acct = rest.substr(0, 12);
  if (!std::all_of(acct.begin(), acct.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::string_view what = rest.substr(13);
  if (what == "root" || what.substr(0, 5) == "user/" || what.substr(0, 5) == "role/" ||
      what.substr(0, 15) == "assumed-role/") {
    if (what.find('*') != std::string_view::npos) return std::nullopt;
    return std::string(p);
  }
  return std::nullopt;
}

Status parse_principal(const json::value& v, Statement& st) {
  if (v.is_string()) {
    if (v.as_string() != "*")
      return malformed("Invalid principal in policy: use \"*\" or {\"AWS\": ...}");
    st.any_principal = true;
    return Status::ok();
  }
  if (!v.is_object() || v.as_object().empty()) return malformed("Invalid principal in policy");
  for (const auto& [k, val] : v.as_object()) {
    if (k != "AWS") {
      return malformed(fmt::format(
          "Invalid principal in policy: berth knows only \"AWS\" principals, not \"{}\"",
          std::string_view(k)));
    }
    BERTH_ASSIGN_OR_RETURN(auto list, string_list(val, "Principal"));
    for (const auto& p : list) {
      auto arn = principal_arn_of(p);
      if (!arn) return malformed(fmt::format("Invalid principal in policy: \"AWS\":\"{}\"", p));
      if (*arn == "*") {
        st.any_principal = true;
      } else {
        st.principals.push_back(std::move(*arn));
      }
    }
  }
  return Status::ok();
}

Status parse_conditions(const json::value& v, Statement& st, bool& uses_tags) {
  if (!v.is_object()) return malformed("Syntax errors in policy. Condition must be an object.");
  for (const auto& [op_key, block] : v.as_object()) {
    std::string_view name = op_key;
    Condition base;
    if (istarts_with(name, "ForAnyValue:")) {
      base.qualifier = Condition::Qualifier::kForAnyValue;
      name.remove_prefix(12);
    } else if (istarts_with(name, "ForAllValues:")) {
      base.qualifier = Condition::Qualifier::kForAllValues;
      name.remove_prefix(13);
    }
    constexpr std::string_view kIfExists = "IfExists";
    if (name.size() > kIfExists.size() &&
        name.substr(name.size() - kIfExists.size()) == kIfExists) {
      base.if_exists = true;
      name.remove_suffix(kIfExists.size());
    }
    auto it =
        std::find_if(kOps.begin(), kOps.end(), [&](const OpName& o) { return o.name == name; });
    if (it == kOps.end() || (base.if_exists && it->op == Condition::Op::kNull)) {
      return malformed(fmt::format("Invalid Condition operator: {}", std::string_view(op_key)));
    }
    base.op = it->op;
    if (!block.is_object() || block.as_object().empty()) {
      return malformed(
          fmt::format("Syntax errors in policy. Condition operator {} needs an object of keys.",
                      std::string_view(op_key)));
    }
    for (const auto& [key, values] : block.as_object()) {
      if (!is_known_key(key)) {
        return malformed(
            fmt::format("Invalid Condition key: {} is not a condition key berth supports",
                        std::string_view(key)));
      }
      Condition c = base;
      c.key = std::string(key);
      BERTH_ASSIGN_OR_RETURN(c.values, condition_values(values));
      for (const auto& val : c.values) {
        bool ok = true;
        if (is_numeric(c.op)) ok = parse_number(val).has_value();
        if (is_date(c.op)) ok = parse_date(val).has_value();
        if (is_ip(c.op)) ok = parse_ip(val, true).has_value();
        if (c.op == Condition::Op::kBool || c.op == Condition::Op::kNull)
          ok = iequals(val, "true") || iequals(val, "false");
        if (!ok) {
          return malformed(fmt::format("Invalid Condition value: {} is not valid for operator {}",
                                       val, std::string_view(op_key)));
        }
      }
      if (is_tag_key(c.key)) uses_tags = true;
      st.conditions.push_back(std::move(c));
    }
  }
  return Status::ok();
}

Result<Statement> parse_statement(const json::value& v, Kind kind, bool& uses_tags) {
  if (!v.is_object()) return malformed("Syntax errors in policy. A Statement must be an object.");
  const json::object& o = v.as_object();
  Statement st;
  bool has_effect = false, has_action = false, has_principal = false;
  for (const auto& [k, val] : o) {
    std::string_view key = k;
    if (key == "Sid") {
      if (!val.is_string()) return malformed("Syntax errors in policy. Sid must be a string.");
      st.sid = std::string(val.as_string());
    } else if (key == "Effect") {
      if (!val.is_string() || (val.as_string() != "Allow" && val.as_string() != "Deny")) {
        return malformed(fmt::format("Invalid effect: {}", val.is_string()
                                                               ? std::string(val.as_string())
                                                               : json::serialize(val)));
      }
      st.effect = val.as_string() == "Allow" ? Effect::kAllow : Effect::kDeny;
      has_effect = true;
    } else if (key == "Action" || key == "NotAction") {
      if (has_action)
        return malformed("Syntax errors in policy. A statement has Action or NotAction, not both.");
      has_action = true;
      st.not_action = key == "NotAction";
      BERTH_ASSIGN_OR_RETURN(st.actions, string_list(val, key));
      for (const auto& a : st.actions) BERTH_RETURN_IF_ERROR(check_action(a));
    } else if (key == "Resource" || key == "NotResource") {
      if (st.has_resource)
        return malformed(
            "Syntax errors in policy. A statement has Resource or NotResource, not both.");
      st.has_resource = true;
      st.not_resource = key == "NotResource";
      BERTH_ASSIGN_OR_RETURN(st.resources, string_list(val, key));
      for (const auto& r : st.resources) BERTH_RETURN_IF_ERROR(check_resource(r));
    } else if (key == "Principal" || key == "NotPrincipal") {
      if (kind == Kind::kIdentity)
        return malformed("Policy document should not specify a principal.");
      if (has_principal)
        return malformed(
            "Syntax errors in policy. A statement has Principal or NotPrincipal, not both.");
      has_principal = true;
      st.not_principal = key == "NotPrincipal";
      BERTH_RETURN_IF_ERROR(parse_principal(val, st));
    } else if (key == "Condition") {
      BERTH_RETURN_IF_ERROR(parse_conditions(val, st, uses_tags));
    } else {
      return malformed(fmt::format("Syntax errors in policy. Unknown element {}.", key));
    }
  }
  if (!has_effect) return malformed("Missing required field Effect");
  if (!has_action) return malformed("Policy statement must contain actions.");
  if (kind == Kind::kIdentity && !st.has_resource)
    return malformed("Policy statement must contain resources.");
  if (kind == Kind::kResource && !has_principal)
    return malformed("Missing required field Principal");
  return st;
}

// --- evaluation ------------------------------------------------------------

// glob_match, where `literal` (when given, one flag per pattern character)
// marks the characters that match only themselves, even '*' and '?'.
bool glob_match_masked(std::string_view pattern, const std::vector<bool>* literal,
                       std::string_view text, bool ignore_case) {
  auto eq = [ignore_case](char a, char b) {
    if (!ignore_case) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  auto wild = [&](size_t i, char c) {
    return pattern[i] == c && (literal == nullptr || !(*literal)[i]);
  };
  // Iterative with one backtrack point: the last '*' seen.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (wild(p, '?') || (!wild(p, '*') && eq(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && wild(p, '*')) {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && wild(p, '*')) ++p;
  return p == pattern.size();
}

// --- policy variables -------------------------------------------------------

bool is_string_op(Condition::Op op) {
  return op >= Condition::Op::kStringEquals && op <= Condition::Op::kArnNotLike;
}

// A value with its policy variables replaced for one request; `literal` has a
// flag per character of `text`, set where a variable put it.
struct Expanded {
  std::string text;
  std::vector<bool> literal;
};

// The body of one ${...}: a key with an optional default, or one of * ? $.
struct Variable {
  std::string_view key;
  std::optional<std::string> fallback;
};

// Parses the variable starting at value[at] == '$' (value[at+1] == '{').
// Sets `end` past its closing brace. None when malformed.
std::optional<Variable> parse_variable(std::string_view value, size_t at, size_t& end) {
  size_t i = at + 2;
  auto skip_spaces = [&] {
    while (i < value.size() && value[i] == ' ') ++i;
  };
  skip_spaces();
  const size_t key_start = i;
  while (i < value.size() && value[i] != '}' && value[i] != ',' && value[i] != ' ') ++i;
  Variable v;
  v.key = value.substr(key_start, i - key_start);
  if (v.key.empty()) return std::nullopt;
  skip_spaces();
  if (i < value.size() && value[i] == ',') {
    ++i;
    skip_spaces();
    if (i >= value.size() || value[i] != '\'') return std::nullopt;
    ++i;
    std::string fallback;
    while (true) {
      if (i >= value.size()) return std::nullopt;
      if (value[i] == '\'') {
        if (i + 1 < value.size() && value[i + 1] == '\'') {
          fallback += '\'';
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      fallback += value[i++];
    }
    v.fallback = std::move(fallback);
    skip_spaces();
  }
  if (i >= value.size() || value[i] != '}') return std::nullopt;
  end = i + 1;
  return v;
}

std::optional<std::vector<std::string>> context_values(const RequestContext& r,
                                                       std::string_view key);

// `value` with its variables replaced from `r`; none when one cannot be.
std::optional<Expanded> expand(std::string_view value, const RequestContext& r) {
  Expanded out;
  auto add = [&](std::string_view s, bool literal) {
    out.text.append(s);
    out.literal.insert(out.literal.end(), s.size(), literal);
  };
  size_t i = 0;
  while (i < value.size()) {
    const size_t at = value.find("${", i);
    if (at == std::string_view::npos) {
      add(value.substr(i), false);
      break;
    }
    add(value.substr(i, at - i), false);
    size_t end = 0;
    auto var = parse_variable(value, at, end);
    if (!var) return std::nullopt;
    if (!var->fallback && (var->key == "*" || var->key == "?" || var->key == "$")) {
      add(var->key, true);
    } else if (auto got = context_values(r, var->key); got && got->size() == 1) {
      add(got->front(), true);
    } else if (var->fallback) {
      add(*var->fallback, true);
    } else {
      return std::nullopt;
    }
    i = end;
  }
  return out;
}

// Whether `value` names a resource tag in one of its variables.
bool variables_read_tags(std::string_view value) {
  for (size_t at = value.find("${"); at != std::string_view::npos; at = value.find("${", at + 2)) {
    size_t end = 0;
    auto var = parse_variable(value, at, end);
    if (var && (istarts_with(var->key, kAwsTagPrefix) || istarts_with(var->key, kEcrTagPrefix)))
      return true;
  }
  return false;
}

// A statement's values with its variables replaced for one request: the
// resources, and per condition the values of string and ARN operators (empty
// for other operators, whose values are used as written).
struct Resolved {
  std::vector<Expanded> resources;
  std::vector<std::vector<Expanded>> conditions;
};

std::optional<Resolved> resolve(const Statement& st, const RequestContext& r) {
  Resolved out;
  for (const auto& p : st.resources) {
    auto e = expand(p, r);
    if (!e) return std::nullopt;
    out.resources.push_back(std::move(*e));
  }
  for (const auto& c : st.conditions) {
    std::vector<Expanded> values;
    if (is_string_op(c.op)) {
      for (const auto& v : c.values) {
        auto e = expand(v, r);
        if (!e) return std::nullopt;
        values.push_back(std::move(*e));
      }
    }
    out.conditions.push_back(std::move(values));
  }
  return out;
}

// The values of `key` in the request, or none when the request lacks it.
std::optional<std::vector<std::string>> context_values(const RequestContext& r,
                                                       std::string_view key) {
  auto one = [](std::string v) {
    return std::optional<std::vector<std::string>>(std::vector<std::string>{std::move(v)});
  };
  if (iequals(key, "aws:SourceIp")) return r.source_ip.empty() ? std::nullopt : one(r.source_ip);
  if (iequals(key, "aws:PrincipalAccount")) return one(r.principal_account);
  if (iequals(key, "aws:PrincipalArn")) return one(r.principal_arn);
  if (iequals(key, "aws:username")) return one(r.user_name);
  if (iequals(key, "aws:PrincipalType")) return one("User");
  if (iequals(key, "aws:SecureTransport")) return one(r.secure_transport ? "true" : "false");
  if (iequals(key, "aws:EpochTime") || iequals(key, "aws:CurrentTime"))
    return one(std::to_string(r.now_epoch_seconds));
  if (iequals(key, "aws:TagKeys")) {
    if (r.tag_keys.empty()) return std::nullopt;
    return r.tag_keys;
  }
  if (istarts_with(key, kRequestTagPrefix)) {
    const std::string_view wanted = key.substr(kRequestTagPrefix.size());
    for (const auto& [k, v] : r.request_tags) {
      if (k == wanted) return one(v);
    }
    return std::nullopt;
  }
  std::string_view tag;
  if (istarts_with(key, kAwsTagPrefix)) tag = key.substr(kAwsTagPrefix.size());
  if (istarts_with(key, kEcrTagPrefix)) tag = key.substr(kEcrTagPrefix.size());
  if (!tag.empty()) {
    for (const auto& [k, v] : r.resource_tags) {
      if (k == tag) return one(v);
    }
  }
  return std::nullopt;
}

// The positive form of `op` (StringNotEquals -> StringEquals) on one pair.
bool value_matches(Condition::Op op, std::string_view policy_value,
                   std::string_view context_value) {
  using O = Condition::Op;
  switch (op) {
    case O::kStringEquals:
    case O::kStringNotEquals:
    case O::kArnEquals:
    case O::kArnNotEquals:
      return policy_value == context_value;
    case O::kStringEqualsIgnoreCase:
    case O::kStringNotEqualsIgnoreCase:
      return iequals(policy_value, context_value);
    case O::kStringLike:
    case O::kStringNotLike:
    case O::kArnLike:
    case O::kArnNotLike:
      return glob_match(policy_value, context_value, false);
    case O::kBool:
      return iequals(policy_value, context_value);
    case O::kIpAddress:
    case O::kNotIpAddress: {
      auto net = parse_ip(policy_value, true);
      auto ip = parse_ip(context_value, false);
      return net && ip && in_cidr(*net, *ip);
    }
    case O::kNull:
      return false;  // handled by the caller
    default:
      break;
  }
  if (is_numeric(op)) {
    auto p = parse_number(policy_value), c = parse_number(context_value);
    if (!p || !c) return false;
    switch (op) {
      case O::kNumericEquals:
      case O::kNumericNotEquals:
        return *c == *p;
      case O::kNumericLessThan:
        return *c < *p;
      case O::kNumericLessThanEquals:
        return *c <= *p;
      case O::kNumericGreaterThan:
        return *c > *p;
      default:
        return *c >= *p;
    }
  }
  auto p = parse_date(policy_value), c = parse_date(context_value);
  if (!p || !c) return false;
  switch (op) {
    case O::kDateEquals:
    case O::kDateNotEquals:
      return *c == *p;
    case O::kDateLessThan:
      return *c < *p;
    case O::kDateLessThanEquals:
      return *c <= *p;
    case O::kDateGreaterThan:
      return *c > *p;
    default:
      return *c >= *p;
  }
}

// value_matches for a replaced value: a Like operator honours its mask.
bool expanded_matches(Condition::Op op, const Expanded& policy_value,
                      std::string_view context_value) {
  using O = Condition::Op;
  if (op == O::kStringLike || op == O::kStringNotLike || op == O::kArnLike ||
      op == O::kArnNotLike) {
    return glob_match_masked(policy_value.text, &policy_value.literal, context_value, false);
  }
  return value_matches(op, policy_value.text, context_value);
}

// `replaced`: the condition's values with variables replaced, or null to use
// them as written.
bool condition_holds(const Condition& c, const RequestContext& r,
                     const std::vector<Expanded>* replaced) {
  auto ctx = context_values(r, c.key);
  if (c.op == Condition::Op::kNull) {
    // "true": the key must be absent; "false": present.
    bool want_absent = iequals(c.values.front(), "true");
    return want_absent == !ctx.has_value();
  }
  if (!ctx) {
    if (c.if_exists) return true;
    if (c.qualifier == Condition::Qualifier::kForAllValues) return true;
    // A negated operator over a missing key holds (nothing matched).
    return is_negated(c.op);
  }
  auto any_policy_value = [&](const std::string& cv) {
    if (replaced != nullptr && !replaced->empty()) {
      return std::any_of(replaced->begin(), replaced->end(),
                         [&](const Expanded& pv) { return expanded_matches(c.op, pv, cv); });
    }
    return std::any_of(c.values.begin(), c.values.end(),
                       [&](const std::string& pv) { return value_matches(c.op, pv, cv); });
  };
  // Values of one key OR; a negated operator holds when no value matches.
  auto one_context_value = [&](const std::string& cv) {
    return is_negated(c.op) ? !any_policy_value(cv) : any_policy_value(cv);
  };
  if (c.qualifier == Condition::Qualifier::kForAllValues) {
    return std::all_of(ctx->begin(), ctx->end(), one_context_value);
  }
  return std::any_of(ctx->begin(), ctx->end(), one_context_value);
}

bool action_matches(const Statement& st, std::string_view action) {
  bool m = std::any_of(st.actions.begin(), st.actions.end(),
                       [&](const std::string& a) { return glob_match(a, action, true); });
  return st.not_action ? !m : m;
}

bool resource_matches(const Statement& st, std::string_view resource, const Resolved* resolved) {
  if (!st.has_resource) return true;
  bool m = resolved != nullptr
               ? std::any_of(resolved->resources.begin(), resolved->resources.end(),
                             [&](const Expanded& p) {
                               return glob_match_masked(p.text, &p.literal, resource, false);
                             })
               : std::any_of(st.resources.begin(), st.resources.end(),
                             [&](const std::string& p) { return glob_match(p, resource, false); });
  return st.not_resource ? !m : m;
}

enum class PrincipalMatch { kNone, kAccount, kSpecific };

PrincipalMatch principal_matches(const Statement& st, const RequestContext& r) {
  PrincipalMatch m = PrincipalMatch::kNone;
  if (st.any_principal) {
    m = PrincipalMatch::kSpecific;
  } else {
    const std::string root = fmt::format("arn:aws:iam::{}:root", r.principal_account);
    for (const auto& p : st.principals) {
      if (p == r.principal_arn) {
        m = PrincipalMatch::kSpecific;
        break;
      }
      if (p == root) m = PrincipalMatch::kAccount;
    }
  }
  if (st.not_principal)
    return m == PrincipalMatch::kNone ? PrincipalMatch::kSpecific : PrincipalMatch::kNone;
  return m;
}

bool conditions_hold(const Statement& st, const RequestContext& r, const Resolved* resolved) {
  for (size_t i = 0; i < st.conditions.size(); ++i) {
    const std::vector<Expanded>* replaced = resolved ? &resolved->conditions[i] : nullptr;
    if (!condition_holds(st.conditions[i], r, replaced)) return false;
  }
  return true;
}

// Whether `st` applies to `r` by action, resource and conditions (not by
// principal), with its policy variables replaced first.
bool statement_applies(const Statement& st, const RequestContext& r) {
  if (!action_matches(st, r.action)) return false;
  std::optional<Resolved> resolved;
  if (st.variables) {
    resolved = resolve(st, r);
    if (!resolved) return false;  // a variable the request cannot fill
  }
  const Resolved* res = resolved ? &*resolved : nullptr;
  return resource_matches(st, r.resource, res) && conditions_hold(st, r, res);
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case) {
  return glob_match_masked(pattern, nullptr, text, ignore_case);
}

std::string user_arn(std::string_view account, std::string_view user) {
  return fmt::format("arn:aws:iam::{}:user/{}", account, user);
}

Result<Document> parse(std::string_view text, Kind kind) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return malformed("Syntax errors in policy. The document is not valid JSON.");
  if (!v.is_object())
    return malformed("Syntax errors in policy. The document must be a JSON object.");
  Document doc;
  doc.kind = kind;
  bool has_statement = false;
  for (const auto& [k, val] : v.as_object()) {
    std::string_view key = k;
    if (key == "Version") {
      if (!val.is_string() ||
          (val.as_string() != "2012-10-17" && val.as_string() != "2008-10-17")) {
        return malformed(
            "The policy failed legacy parsing: Version must be \"2012-10-17\" or \"2008-10-17\".");
      }
      doc.version = std::string(val.as_string());
    } else if (key == "Id") {
      if (!val.is_string()) return malformed("Syntax errors in policy. Id must be a string.");
    } else if (key == "Statement") {
      has_statement = true;
      if (val.is_array()) {
        if (val.as_array().empty())
          return malformed("Syntax errors in policy. Statement must not be empty.");
        for (const auto& s : val.as_array()) {
          BERTH_ASSIGN_OR_RETURN(auto st, parse_statement(s, kind, doc.uses_resource_tags));
          doc.statements.push_back(std::move(st));
        }
      } else {
        BERTH_ASSIGN_OR_RETURN(auto st, parse_statement(val, kind, doc.uses_resource_tags));
        doc.statements.push_back(std::move(st));
      }
    } else {
      return malformed(fmt::format("Syntax errors in policy. Unknown element {}.", key));
    }
  }
  if (!has_statement)
    return malformed("Syntax errors in policy. Missing required field Statement.");
  if (doc.version == "2012-10-17") {
    // Variables exist only in this version (the Version may follow the
    // statements in the text, so this is decided once all is read).
    auto has_variable = [](const std::string& v) { return v.find("${") != std::string::npos; };
    for (auto& st : doc.statements) {
      for (const auto& p : st.resources) {
        if (!has_variable(p)) continue;
        st.variables = true;
        if (variables_read_tags(p)) doc.uses_resource_tags = true;
      }
      for (const auto& c : st.conditions) {
        if (!is_string_op(c.op)) continue;
        for (const auto& v : c.values) {
          if (!has_variable(v)) continue;
          st.variables = true;
          if (variables_read_tags(v)) doc.uses_resource_tags = true;
        }
      }
    }
  }
  return doc;
}

Decision evaluate(const PolicySet& policies, const RequestContext& r) {
  bool identity_allow = false, resource_allow = false, resource_allow_account = false;
  for (const Document* doc : policies.identity) {
    for (const auto& st : doc->statements) {
      if (!statement_applies(st, r)) continue;
      if (st.effect == Effect::kDeny) return Decision::kExplicitDeny;
      identity_allow = true;
    }
  }
  if (const Document* doc = policies.resource) {
    for (const auto& st : doc->statements) {
      PrincipalMatch pm = principal_matches(st, r);
      if (pm == PrincipalMatch::kNone) continue;
      if (!statement_applies(st, r)) continue;
      if (st.effect == Effect::kDeny) return Decision::kExplicitDeny;
      if (pm == PrincipalMatch::kSpecific) {
        resource_allow = true;
      } else {
        resource_allow_account = true;
      }
    }
  }
  if (r.principal_account == r.resource_account) {
    return identity_allow || resource_allow ? Decision::kAllow : Decision::kImplicitDeny;
  }
  return identity_allow && (resource_allow || resource_allow_account) ? Decision::kAllow
                                                                      : Decision::kImplicitDeny;
}

}  // namespace berth::policy
