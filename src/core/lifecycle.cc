#include "core/lifecycle.h"

#include <fmt/core.h>

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <initializer_list>
#include <numeric>
#include <set>
#include <utility>

#include "core/wildcard.h"

namespace berth::lifecycle {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------
// Error messages. Details in quotes are ECR's (or moto's copy of ECR's) words;
// the rest are berth's (ECR-API.md §5.2).

constexpr std::string_view kCouldNotMap = "Could not map policyString into LifecyclePolicy.";
constexpr std::string_view kOneSchema =
    "instance failed to match exactly one schema (matched 0 out of 2)";

Status validation_failure(std::string_view detail) {
  return error(Code::kInvalidArgument,
               fmt::format("Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                           "constraint: 'Lifecycle policy validation failure: {}'",
                           detail));
}

Status length_failure(std::string_view constraint) {
  return error(Code::kInvalidArgument,
               fmt::format("Invalid parameter at 'lifecyclePolicyText' failed to satisfy "
                           "constraint: '{}'",
                           constraint));
}

// ["a", "b"], each name a JSON string literal (names come from user input).
std::string name_list(std::vector<std::string_view> names) {
  std::sort(names.begin(), names.end());
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += json::serialize(json::string(names[i]));
  }
  out += "]";
  return out;
}

// JSON-schema type names as ECR's validator prints them.
std::string_view type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "unknown";
}

Status wrong_type(const json::value& v, std::string_view allowed) {
  return validation_failure(fmt::format(
      "instance type ({}) does not match any allowed primitive type (allowed: [\"{}\"])",
      type_name(v), allowed));
}

Status not_in_enum(std::string_view value, std::string_view possible) {
  return validation_failure(
      fmt::format("instance value ({}) not found in enum :(possible values: {})", value, possible));
}

// ---------------------------------------------------------------------------
// Shape helpers.

// Required members must be present; every member must be in `allowed`; an
// explicit null counts as a member the schema does not allow, except for the
// names in `null_exempt`, which the caller judges itself.
Status check_members(const json::object& obj, std::initializer_list<std::string_view> required,
                     std::initializer_list<std::string_view> allowed,
                     std::initializer_list<std::string_view> null_exempt = {}) {
  auto contains = [](std::initializer_list<std::string_view> set, std::string_view name) {
    return std::find(set.begin(), set.end(), name) != set.end();
  };
  std::vector<std::string_view> missing;
  for (std::string_view name : required) {
    if (!obj.contains(name)) missing.push_back(name);
  }
  if (!missing.empty()) {
    return validation_failure(
        fmt::format("object has missing required properties ({})", name_list(missing)));
  }
  std::vector<std::string_view> not_allowed;
  for (const auto& member : obj) {
    const std::string_view name = member.key();
    const bool null_rejected = member.value().is_null() && !contains(null_exempt, name);
    if (!contains(allowed, name) || null_rejected) not_allowed.push_back(name);
  }
  if (!not_allowed.empty()) {
    return validation_failure(
        fmt::format("object instance has properties which are not allowed by the schema: ({})",
                    name_list(not_allowed)));
  }
  return Status::ok();
}

// A JSON integer >= 1 that fits a Java int, as ECR's schema and mapper need.
Result<int> positive_int(const json::value& v) {
  if (v.is_int64()) {
    const int64_t n = v.get_int64();
    if (n < 1) {
      return validation_failure(fmt::format(
          "numeric instance is lower than the required minimum (minimum: 1, found: {})", n));
    }
    if (n > INT_MAX) return validation_failure(kCouldNotMap);
    return static_cast<int>(n);
  }
  if (v.is_uint64()) return validation_failure(kCouldNotMap);  // beyond int64, so beyond int
  return wrong_type(v, "integer");
}

Result<std::string_view> string_value(const json::value& v) {
  if (!v.is_string()) return wrong_type(v, "string");
  const json::string& s = v.get_string();
  return std::string_view(s.data(), s.size());
}

// tagPrefixList / tagPatternList: a non-empty array of strings.
Result<std::vector<std::string>> string_list(const json::value& v) {
  if (!v.is_array()) return wrong_type(v, "array");
  const json::array& items = v.get_array();
  if (items.empty()) {
    return validation_failure(
        "array is too short: must have at least 1 elements but instance has 0 elements");
  }
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const json::value& item : items) {
    BERTH_ASSIGN_OR_RETURN(std::string_view s, string_value(item));
    out.emplace_back(s);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Document sections.

Result<TagStatus> parse_tag_status(const json::value& v) {
  BERTH_ASSIGN_OR_RETURN(std::string_view s, string_value(v));
  if (s == "tagged") return TagStatus::kTagged;
  if (s == "untagged") return TagStatus::kUntagged;
  if (s == "any") return TagStatus::kAny;
  return not_in_enum(s, R"(["any", "tagged", "untagged"])");
}

// countType and countUnit together: ECR's schema is a oneOf over the count
// types, so a bad countType, a countUnit where none belongs (or null), and a
// missing countUnit all report the same "matched 0 out of 2".
Status parse_count(const json::object& sel, Selection& out) {
  const json::value& type = sel.at("countType");
  if (!type.is_string()) return validation_failure(kOneSchema);
  const std::string_view t(type.get_string().data(), type.get_string().size());
  if (t == "imageCountMoreThan") {
    out.count_type = CountType::kImageCountMoreThan;
  } else if (t == "sinceImagePushed") {
    out.count_type = CountType::kSinceImagePushed;
  } else if (t == "sinceImagePulled") {
    out.count_type = CountType::kSinceImagePulled;
  } else {
    return validation_failure(kOneSchema);
  }

  const json::value* unit = sel.if_contains("countUnit");
  const bool wants_unit = out.count_type != CountType::kImageCountMoreThan;
  if (unit != nullptr && unit->is_null()) return validation_failure(kOneSchema);
  if (wants_unit != (unit != nullptr)) return validation_failure(kOneSchema);
  if (unit != nullptr) {
    BERTH_ASSIGN_OR_RETURN(std::string_view u, string_value(*unit));
    if (u != "days") return not_in_enum(u, R"(["days"])");
    out.count_unit = CountUnit::kDays;
  }

  BERTH_ASSIGN_OR_RETURN(out.count_number, positive_int(sel.at("countNumber")));
  return Status::ok();
}

Status parse_tag_filters(const json::object& sel, Selection& out) {
  if (const json::value* v = sel.if_contains("tagPrefixList")) {
    BERTH_ASSIGN_OR_RETURN(out.tag_prefix_list, string_list(*v));
  }
  if (const json::value* v = sel.if_contains("tagPatternList")) {
    BERTH_ASSIGN_OR_RETURN(out.tag_pattern_list, string_list(*v));
    for (const std::string& pattern : out.tag_pattern_list) {
      if (wildcard_count(pattern) > kMaxWildcardsPerPattern) {
        return validation_failure(
            fmt::format("tagPatternList entry {} has more than {} wildcards ('*')",
                        json::serialize(json::string(pattern)), kMaxWildcardsPerPattern));
      }
    }
  }
  const bool has_prefix = sel.contains("tagPrefixList");
  const bool has_pattern = sel.contains("tagPatternList");
  if (out.tag_status == TagStatus::kTagged) {
    if (!has_prefix && !has_pattern) {
      return validation_failure(
          "tagPrefixList or tagPatternList is required when tagStatus is 'tagged'");
    }
    if (has_prefix && has_pattern) {
      return validation_failure("tagPrefixList and tagPatternList cannot both be specified");
    }
  } else if (has_prefix || has_pattern) {
    return validation_failure(
        "tagPrefixList and tagPatternList are only allowed when tagStatus is 'tagged'");
  }
  return Status::ok();
}

Result<Selection> parse_selection(const json::value& v) {
  if (!v.is_object()) return wrong_type(v, "object");
  const json::object& sel = v.get_object();
  BERTH_RETURN_IF_ERROR(check_members(
      sel, {"countNumber", "countType", "tagStatus"},
      {"countNumber", "countType", "countUnit", "tagPatternList", "tagPrefixList", "tagStatus"},
      /*null_exempt=*/{"countUnit"}));
  Selection out;
  BERTH_ASSIGN_OR_RETURN(out.tag_status, parse_tag_status(sel.at("tagStatus")));
  BERTH_RETURN_IF_ERROR(parse_count(sel, out));
  BERTH_RETURN_IF_ERROR(parse_tag_filters(sel, out));
  return out;
}

Result<ActionType> parse_action(const json::value& v) {
  if (!v.is_object()) return wrong_type(v, "object");
  const json::object& action = v.get_object();
  BERTH_RETURN_IF_ERROR(check_members(action, {"type"}, {"type"}));
  BERTH_ASSIGN_OR_RETURN(std::string_view type, string_value(action.at("type")));
  if (type != "expire") return not_in_enum(type, R"(["expire"])");
  return ActionType::kExpire;
}

Result<LifecycleRule> parse_rule(const json::value& v) {
  if (!v.is_object()) return wrong_type(v, "object");
  const json::object& rule = v.get_object();
  BERTH_RETURN_IF_ERROR(check_members(rule, {"action", "rulePriority", "selection"},
                                      {"action", "description", "rulePriority", "selection"}));
  LifecycleRule out;
  BERTH_ASSIGN_OR_RETURN(out.rule_priority, positive_int(rule.at("rulePriority")));
  if (const json::value* d = rule.if_contains("description")) {
    BERTH_ASSIGN_OR_RETURN(std::string_view description, string_value(*d));
    out.description = std::string(description);
  }
  BERTH_ASSIGN_OR_RETURN(out.selection, parse_selection(rule.at("selection")));
  BERTH_ASSIGN_OR_RETURN(out.action, parse_action(rule.at("action")));
  return out;
}

// The rules that relate rules to each other (§5.2 rows 8-10).
Status check_cross_rule(const std::vector<LifecycleRule>& rules) {
  std::set<int> priorities;
  for (const LifecycleRule& rule : rules) {
    if (!priorities.insert(rule.rule_priority).second) {
      return validation_failure("rulePriority values must be unique");
    }
  }
  const int highest = *priorities.rbegin();
  size_t untagged = 0;
  for (const LifecycleRule& rule : rules) {
    if (rule.selection.tag_status == TagStatus::kAny && rule.rule_priority != highest) {
      return validation_failure("the rule with tagStatus 'any' must have the highest rulePriority");
    }
    if (rule.selection.tag_status == TagStatus::kUntagged) ++untagged;
  }
  if (untagged > 1) return validation_failure("only one rule may select untagged images");
  return Status::ok();
}

// Unicode code points of UTF-8 text: every byte that is not a continuation byte.
size_t code_points(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// ---------------------------------------------------------------------------
// Evaluation helpers.

// now - then > threshold, without signed overflow for any int64 inputs.
bool older_than(int64_t now, int64_t then, int64_t threshold) {
  if (then > now) return false;  // pushed "in the future": negative age
  const uint64_t age = static_cast<uint64_t>(now) - static_cast<uint64_t>(then);
  return age > static_cast<uint64_t>(threshold);
}

// Total age order: true when image a is older than image b.
bool older(const ImageFacts& a, const ImageFacts& b) {
  if (a.pushed_at_seconds != b.pushed_at_seconds) return a.pushed_at_seconds < b.pushed_at_seconds;
  if (a.push_order != b.push_order) return a.push_order < b.push_order;
  return a.digest < b.digest;
}

bool all_satisfied(const std::vector<std::string>& filters, const std::vector<std::string>& tags,
                   bool (*matches)(std::string_view filter, std::string_view tag)) {
  return std::all_of(filters.begin(), filters.end(), [&](const std::string& filter) {
    return std::any_of(tags.begin(), tags.end(),
                       [&](const std::string& tag) { return matches(filter, tag); });
  });
}

bool prefix_matches(std::string_view prefix, std::string_view tag) {
  return tag.starts_with(prefix);
}

// Whether a rule would expire the image ranked `rank` (0 = newest) among the
// images its selection matches, before earlier rules' claims are considered.
bool is_candidate(const Selection& sel, size_t rank, const ImageFacts& image, int64_t now) {
  const int64_t n = std::max(sel.count_number, 0);
  switch (sel.count_type) {
    case CountType::kImageCountMoreThan:
      return rank >= static_cast<uint64_t>(n);
    case CountType::kSinceImagePushed:
      return older_than(now, image.pushed_at_seconds, n * kSecondsPerDay);
    case CountType::kSinceImagePulled:
      return older_than(now, image.last_pulled_at_seconds.value_or(image.pushed_at_seconds),
                        n * kSecondsPerDay);
  }
  return false;
}

}  // namespace

Result<LifecyclePolicy> parse_lifecycle_policy(std::string_view json_text) {
  const size_t length = code_points(json_text);
  if (length < kMinPolicyTextLength) {
    return length_failure(
        fmt::format("must have length greater than or equal to {}", kMinPolicyTextLength));
  }
  if (length > kMaxPolicyTextLength) {
    return length_failure(
        fmt::format("must have length less than or equal to {}", kMaxPolicyTextLength));
  }

  json::error_code ec;
  const json::value doc = json::parse(json_text, ec);
  if (ec || !doc.is_object()) return validation_failure(kCouldNotMap);
  const json::object& root = doc.get_object();

  const json::value* rules = root.if_contains("rules");
  if (rules == nullptr || !rules->is_array()) {
    return validation_failure(R"(object has missing required properties (["rules"]))");
  }
  BERTH_RETURN_IF_ERROR(check_members(root, {"rules"}, {"rules"}));
  const json::array& items = rules->get_array();
  if (items.empty()) {
    return validation_failure(
        "array is too short: must have at least 1 elements but instance has 0 elements");
  }
  if (items.size() > kMaxRules) {
    return validation_failure(
        fmt::format("array is too long: must have at most {} elements but instance has {} elements",
                    kMaxRules, items.size()));
  }

  LifecyclePolicy policy;
  policy.rules.reserve(items.size());
  for (const json::value& item : items) {
    BERTH_ASSIGN_OR_RETURN(LifecycleRule rule, parse_rule(item));
    policy.rules.push_back(std::move(rule));
  }
  BERTH_RETURN_IF_ERROR(check_cross_rule(policy.rules));
  return policy;
}

bool selection_matches(const Selection& selection, const std::vector<std::string>& tags) {
  switch (selection.tag_status) {
    case TagStatus::kUntagged:
      return tags.empty();
    case TagStatus::kAny:
      return true;
    case TagStatus::kTagged:
      break;
  }
  if (tags.empty()) return false;
  if (selection.tag_prefix_list.empty() && selection.tag_pattern_list.empty()) return false;
  return all_satisfied(selection.tag_prefix_list, tags, prefix_matches) &&
         all_satisfied(selection.tag_pattern_list, tags, wildcard_match);
}

std::vector<Expiration> evaluate_lifecycle(const LifecyclePolicy& policy,
                                           const std::vector<ImageFacts>& images,
                                           int64_t now_seconds) {
  std::vector<const LifecycleRule*> rules;
  rules.reserve(policy.rules.size());
  for (const LifecycleRule& rule : policy.rules) rules.push_back(&rule);
  std::stable_sort(rules.begin(), rules.end(), [](const LifecycleRule* a, const LifecycleRule* b) {
    return a->rule_priority < b->rule_priority;
  });

  // Image indices newest first; every rule walks them in this order so that a
  // count rule's matches come out already ordered.
  std::vector<size_t> newest_first(images.size());
  std::iota(newest_first.begin(), newest_first.end(), size_t{0});
  std::sort(newest_first.begin(), newest_first.end(),
            [&](size_t a, size_t b) { return older(images[b], images[a]); });

  std::vector<bool> claimed(images.size(), false);
  std::vector<std::pair<int, size_t>> expired;  // (rule priority, image index)
  std::vector<size_t> matched;
  for (const LifecycleRule* rule : rules) {
    const Selection& sel = rule->selection;
    matched.clear();
    for (size_t i : newest_first) {
      if (selection_matches(sel, images[i].tags)) matched.push_back(i);
    }
    for (size_t rank = 0; rank < matched.size(); ++rank) {
      const size_t index = matched[rank];
      if (!claimed[index] && is_candidate(sel, rank, images[index], now_seconds)) {
        expired.emplace_back(rule->rule_priority, index);
      }
    }
    for (size_t i : matched) claimed[i] = true;
  }

  std::sort(expired.begin(), expired.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    if (older(images[a.second], images[b.second])) return true;
    if (older(images[b.second], images[a.second])) return false;
    return a.second < b.second;  // duplicate digests in the input: keep input order
  });
  std::vector<Expiration> out;
  out.reserve(expired.size());
  for (const auto& [priority, index] : expired) {
    out.push_back(Expiration{images[index].digest, images[index].tags, priority});
  }
  return out;
}

}  // namespace berth::lifecycle
