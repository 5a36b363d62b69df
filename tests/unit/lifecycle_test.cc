#include "core/lifecycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace berth::lifecycle {
namespace {

constexpr int64_t kNow = 1'700'000'000;

// ---------------------------------------------------------------------------
// Helpers.

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Whitespace is insignificant JSON, so short test documents are padded up to
// the API minimum of 100 characters instead of being bloated by hand.
std::string pad(std::string text) {
  if (text.size() < kMinPolicyTextLength) text.append(kMinPolicyTextLength - text.size(), ' ');
  return text;
}

std::string rule_json(int priority, const std::string& selection,
                      const std::string& action = R"({"type":"expire"})") {
  return R"({"rulePriority":)" + std::to_string(priority) + R"(,"selection":)" + selection +
         R"(,"action":)" + action + "}";
}

std::string policy_json(const std::vector<std::string>& rules) {
  std::string out = R"({"rules":[)";
  for (size_t i = 0; i < rules.size(); ++i) out += (i ? "," : "") + rules[i];
  return pad(out + "]}");
}

std::string one_rule(const std::string& selection) {
  return policy_json({rule_json(1, selection)});
}

constexpr const char* kAnyKeep1 =
    R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1})";

LifecyclePolicy parse_ok(const std::string& text) {
  Result<LifecyclePolicy> parsed = parse_lifecycle_policy(text);
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string() << "\n" << text;
  return parsed.is_ok() ? *parsed : LifecyclePolicy{};
}

ImageFacts image(std::string digest, std::vector<std::string> tags, int64_t age_days) {
  return ImageFacts{std::move(digest), std::move(tags), kNow - age_days * kSecondsPerDay,
                    std::nullopt};
}

ImageFacts image_s(std::string digest, std::vector<std::string> tags, int64_t age_seconds) {
  return ImageFacts{std::move(digest), std::move(tags), kNow - age_seconds, std::nullopt};
}

std::map<std::string, int> expired_map(const std::vector<Expiration>& expirations) {
  std::map<std::string, int> out;
  for (const Expiration& e : expirations) {
    EXPECT_TRUE(out.emplace(e.digest, e.rule_priority).second) << "expired twice: " << e.digest;
  }
  return out;
}

std::map<std::string, int> run(const std::string& policy_text,
                               const std::vector<ImageFacts>& images, int64_t now = kNow) {
  return expired_map(evaluate_lifecycle(parse_ok(policy_text), images, now));
}

Selection tagged_prefixes(std::vector<std::string> prefixes) {
  Selection s;
  s.tag_status = TagStatus::kTagged;
  s.tag_prefix_list = std::move(prefixes);
  return s;
}

Selection tagged_patterns(std::vector<std::string> patterns) {
  Selection s;
  s.tag_status = TagStatus::kTagged;
  s.tag_pattern_list = std::move(patterns);
  return s;
}

LifecycleRule rule(int priority, Selection selection, CountType type, int number) {
  selection.count_type = type;
  selection.count_number = number;
  if (type != CountType::kImageCountMoreThan) selection.count_unit = CountUnit::kDays;
  return LifecycleRule{priority, std::nullopt, std::move(selection), ActionType::kExpire};
}

Selection status_only(TagStatus status) {
  Selection s;
  s.tag_status = status;
  return s;
}

// ---------------------------------------------------------------------------
// Parsing: what a valid document turns into.

TEST(LifecycleParseTest, ParsesEveryFieldOfARule) {
  LifecyclePolicy p = parse_ok(R"({"rules":[{"rulePriority":7,"description":"keep prod",
    "selection":{"tagStatus":"tagged","tagPrefixList":["prod","eu"],"countType":"sinceImagePushed",
    "countUnit":"days","countNumber":14},"action":{"type":"expire"}}]})");
  ASSERT_EQ(p.rules.size(), 1u);
  const LifecycleRule& r = p.rules[0];
  EXPECT_EQ(r.rule_priority, 7);
  EXPECT_EQ(r.description, std::optional<std::string>("keep prod"));
  EXPECT_EQ(r.selection.tag_status, TagStatus::kTagged);
  EXPECT_EQ(r.selection.tag_prefix_list, (std::vector<std::string>{"prod", "eu"}));
  EXPECT_TRUE(r.selection.tag_pattern_list.empty());
  EXPECT_EQ(r.selection.count_type, CountType::kSinceImagePushed);
  EXPECT_EQ(r.selection.count_unit, std::optional<CountUnit>(CountUnit::kDays));
  EXPECT_EQ(r.selection.count_number, 14);
  EXPECT_EQ(r.action, ActionType::kExpire);
}

TEST(LifecycleParseTest, DescriptionIsOptionalAndCountUnitAbsentForCounts) {
  LifecyclePolicy p = parse_ok(R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged",
    "tagPatternList":["v*.*"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]})");
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_FALSE(p.rules[0].description.has_value());
  EXPECT_EQ(p.rules[0].selection.tag_pattern_list, (std::vector<std::string>{"v*.*"}));
  EXPECT_TRUE(p.rules[0].selection.tag_prefix_list.empty());
  EXPECT_EQ(p.rules[0].selection.count_type, CountType::kImageCountMoreThan);
  EXPECT_FALSE(p.rules[0].selection.count_unit.has_value());
  EXPECT_EQ(p.rules[0].selection.count_number, 3);
}

TEST(LifecycleParseTest, EmptyDescriptionIsKeptDistinctFromAbsent) {
  LifecyclePolicy p =
      parse_ok(policy_json({R"({"rulePriority":1,"description":"","selection":)" +
                            std::string(kAnyKeep1) + R"(,"action":{"type":"expire"}})"}));
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].description, std::optional<std::string>(""));
}

TEST(LifecycleParseTest, AcceptsSinceImagePulledWithDays) {
  LifecyclePolicy p = parse_ok(one_rule(
      R"({"tagStatus":"untagged","countType":"sinceImagePulled","countUnit":"days","countNumber":30})"));
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].selection.count_type, CountType::kSinceImagePulled);
  EXPECT_EQ(p.rules[0].selection.count_unit, std::optional<CountUnit>(CountUnit::kDays));
  EXPECT_EQ(p.rules[0].selection.count_number, 30);
}

TEST(LifecycleParseTest, KeepsDocumentOrderAndAllowsGapsInPriorities) {
  LifecyclePolicy p = parse_ok(policy_json(
      {rule_json(100, kAnyKeep1),
       rule_json(10,
                 R"({"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5})"),
       rule_json(
           55,
           R"({"tagStatus":"tagged","tagPrefixList":["x"],"countType":"imageCountMoreThan","countNumber":5})")}));
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].rule_priority, 100);
  EXPECT_EQ(p.rules[1].rule_priority, 10);
  EXPECT_EQ(p.rules[2].rule_priority, 55);
  EXPECT_EQ(p.rules[0].selection.tag_status, TagStatus::kAny);
}

TEST(LifecycleParseTest, AcceptsPrettyPrintedJson) {
  LifecyclePolicy p = parse_ok(R"(
    {
      "rules": [
        {
          "rulePriority": 1,
          "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1 },
          "action": { "type": "expire" }
        }
      ]
    }
  )");
  EXPECT_EQ(p.rules.size(), 1u);
}

TEST(LifecycleParseTest, AcceptsTheDocumentedFourWildcardPatterns) {
  LifecyclePolicy p = parse_ok(one_rule(
      R"({"tagStatus":"tagged","tagPatternList":["*test*1*2*3","test*1*2*3*"],"countType":"imageCountMoreThan","countNumber":1})"));
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].selection.tag_pattern_list.size(), 2u);
}

TEST(LifecycleParseTest, AcceptsAnUntaggedRuleAlongsideAnAnyRule) {
  LifecyclePolicy p = parse_ok(policy_json(
      {rule_json(1, R"({"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5})"),
       rule_json(2, kAnyKeep1)}));
  EXPECT_EQ(p.rules.size(), 2u);
}

TEST(LifecycleParseTest, AnyRuleMayAppearFirstInTheDocumentIfItsPriorityIsHighest) {
  LifecyclePolicy p = parse_ok(policy_json(
      {rule_json(9, kAnyKeep1),
       rule_json(
           1,
           R"({"tagStatus":"tagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1})")}));
  EXPECT_EQ(p.rules.size(), 2u);
}

TEST(LifecycleParseTest, AcceptsRulesWithIdenticalTagFilters) {
  const std::string sel =
      R"({"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":3})";
  LifecyclePolicy p = parse_ok(policy_json({rule_json(1, sel), rule_json(2, sel)}));
  EXPECT_EQ(p.rules.size(), 2u);
}

std::string many_rules(size_t count) {
  std::vector<std::string> rules;
  for (size_t i = 0; i < count; ++i) {
    rules.push_back(rule_json(static_cast<int>(i + 1),
                              R"({"tagStatus":"tagged","tagPrefixList":["p)" + std::to_string(i) +
                                  R"("],"countType":"imageCountMoreThan","countNumber":1})"));
  }
  return policy_json(rules);
}

TEST(LifecycleParseTest, AcceptsFiftyRulesAndRejectsFiftyOne) {
  EXPECT_EQ(parse_ok(many_rules(kMaxRules)).rules.size(), kMaxRules);
  Result<LifecyclePolicy> too_many = parse_lifecycle_policy(many_rules(kMaxRules + 1));
  ASSERT_FALSE(too_many.is_ok());
  EXPECT_EQ(too_many.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(too_many.status().message(), "must have at most 50 elements"))
      << too_many.status().message();
}

bool is_length_error(const Result<LifecyclePolicy>& r) {
  return !r.is_ok() && contains(r.status().message(), "'lifecyclePolicyText'") &&
         contains(r.status().message(), "must have length");
}

TEST(LifecycleParseTest, LengthLimitsAreInclusive) {
  // No valid policy is as short as 100 characters, so at the lower limit the
  // length check passes and the JSON check is what fails.
  EXPECT_TRUE(is_length_error(parse_lifecycle_policy(std::string(kMinPolicyTextLength - 1, ' '))));
  Result<LifecyclePolicy> at_min = parse_lifecycle_policy(std::string(kMinPolicyTextLength, ' '));
  ASSERT_FALSE(at_min.is_ok());
  EXPECT_FALSE(is_length_error(at_min)) << at_min.status().message();
  EXPECT_TRUE(
      contains(at_min.status().message(), "Could not map policyString into LifecyclePolicy."));

  const std::string base = policy_json({rule_json(1, kAnyKeep1)});
  ASSERT_LT(base.size(), kMaxPolicyTextLength);
  const std::string at_max = base + std::string(kMaxPolicyTextLength - base.size(), '\n');
  EXPECT_TRUE(parse_lifecycle_policy(at_max).is_ok());

  Result<LifecyclePolicy> too_long = parse_lifecycle_policy(at_max + " ");
  ASSERT_FALSE(too_long.is_ok());
  EXPECT_EQ(too_long.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(too_long.status().message(),
            "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have "
            "length less than or equal to 30720'");
}

TEST(LifecycleParseTest, RejectsTextShorterThanOneHundredCharacters) {
  const std::string compact =
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]})";
  ASSERT_GE(compact.size(), kMinPolicyTextLength);
  EXPECT_TRUE(parse_lifecycle_policy(compact).is_ok());
  Result<LifecyclePolicy> short_text = parse_lifecycle_policy(R"({"rules":[]})");
  ASSERT_FALSE(short_text.is_ok());
  EXPECT_EQ(short_text.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(short_text.status().message(),
            "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have "
            "length greater than or equal to 100'");
  EXPECT_TRUE(is_length_error(parse_lifecycle_policy("")));
}

TEST(LifecycleParseTest, LengthCountsCharactersNotBytes) {
  std::string text = "\"";
  for (size_t i = 0; i + 3 < kMinPolicyTextLength; ++i) text += "\xc3\xa9";  // 97 x é (two bytes)
  const std::string chars_99 = text + "\"";                                  // 99 characters
  ASSERT_GT(chars_99.size(), kMinPolicyTextLength);
  EXPECT_TRUE(is_length_error(parse_lifecycle_policy(chars_99)));
  const std::string chars_100 =
      text + "\xc3\xa9\"";  // 100 characters: a JSON string, not an object
  Result<LifecyclePolicy> r = parse_lifecycle_policy(chars_100);
  ASSERT_FALSE(r.is_ok());
  EXPECT_FALSE(is_length_error(r)) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "Could not map policyString into LifecyclePolicy."));

  // The upper limit counts characters too: 30,720 two-byte characters fit.
  const std::string head = R"({"rules":[{"rulePriority":1,"description":")";
  const std::string tail =
      R"(","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]})";
  std::string desc;
  for (size_t i = head.size() + tail.size(); i < kMaxPolicyTextLength; ++i) desc += "\xc3\xa9";
  Result<LifecyclePolicy> big = parse_lifecycle_policy(head + desc + tail);
  ASSERT_TRUE(big.is_ok()) << big.status().message().substr(0, 200);
  EXPECT_EQ(big->rules[0].description->size(), desc.size());
  EXPECT_TRUE(is_length_error(parse_lifecycle_policy(head + desc + "\xc3\xa9" + tail)));
}

TEST(LifecycleParseTest, RepeatedMemberLastOccurrenceWins) {
  LifecyclePolicy p =
      parse_ok(R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"bogus"}}],)"
               R"("rules":[{"rulePriority":4,"selection":{"tagStatus":"untagged",)"
               R"("countType":"imageCountMoreThan","countNumber":2,"countNumber":9},)"
               R"("action":{"type":"expire"}}]})");
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].rule_priority, 4);
  EXPECT_EQ(p.rules[0].selection.count_number, 9);
}

TEST(LifecycleParseTest, ValidationMessageUsesEcrFraming) {
  Result<LifecyclePolicy> r =
      parse_lifecycle_policy(policy_json({rule_json(1, kAnyKeep1), rule_json(1, kAnyKeep1)}));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle "
            "policy validation failure: rulePriority values must be unique'");
}

TEST(LifecycleParseTest, RuleErrorsAreReportedBeforeCrossRuleErrors) {
  // Rule 2 is malformed and also duplicates rule 1's priority.
  Result<LifecyclePolicy> r = parse_lifecycle_policy(
      policy_json({rule_json(1, kAnyKeep1), rule_json(1, kAnyKeep1, R"({"type":"delete"})")}));
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "instance value (delete) not found in enum"))
      << r.status().message();
}

// ---------------------------------------------------------------------------
// Parsing: every rejection (ECR-API.md §5.2 and example 8).

struct RejectCase {
  const char* name;
  std::string text;
  std::string detail;  // expected fragment of the message
};

std::string sel_with(const std::string& members) {
  return "{" + members + "}";
}

std::vector<RejectCase> reject_cases() {
  const std::string expire = R"({"type":"expire"})";
  const std::string count = R"("countType":"imageCountMoreThan","countNumber":1)";
  const std::string age = R"("countType":"sinceImagePushed","countUnit":"days","countNumber":1)";
  const std::string tagged_prefix = R"("tagStatus":"tagged","tagPrefixList":["a"],)";
  const std::string not_allowed =
      "object instance has properties which are not allowed by the schema: ";
  const std::string missing = "object has missing required properties ";
  const std::string one_schema = "instance failed to match exactly one schema (matched 0 out of 2)";
  const std::string map = "Could not map policyString into LifecyclePolicy.";
  const std::string too_short =
      "array is too short: must have at least 1 elements but instance has 0 elements";
  auto rule_with = [&](const std::string& members) { return policy_json({"{" + members + "}"}); };
  auto sel = [&](const std::string& members) { return one_rule(sel_with(members)); };
  auto prio = [&](const std::string& value) {
    return rule_with(R"("rulePriority":)" + value + R"(,"selection":)" + kAnyKeep1 +
                     R"(,"action":)" + expire);
  };
  auto number = [&](const std::string& value) {
    return sel(R"("tagStatus":"any","countType":"imageCountMoreThan","countNumber":)" + value);
  };
  auto action = [&](const std::string& value) {
    return policy_json({rule_json(1, kAnyKeep1, value)});
  };

  return {
      // Row 1: not JSON / not an object.
      {"NotJson", pad("{\"rules\": ["), map},
      {"TrailingGarbage", policy_json({rule_json(1, kAnyKeep1)}) + "}", map},
      {"TopLevelArray", pad("[" + policy_json({rule_json(1, kAnyKeep1)}) + "]"), map},
      {"TopLevelString", pad(R"("{\"rules\":[]}")"), map},
      {"InvalidUtf8",
       policy_json({R"({"rulePriority":1,"description":"bad)" + std::string("\xff\xfe") +
                    R"(","selection":)" + kAnyKeep1 + R"(,"action":{"type":"expire"}})"}),
       map},
      {"Comment", pad("// c\n" + policy_json({rule_json(1, kAnyKeep1)})), map},
      // Row 2: rules missing or not a list.
      {"RulesMissing", pad(R"({"Rules":[]})"), missing + R"((["rules"]))"},
      {"RulesObject", pad(R"({"rules":{}})"), missing + R"((["rules"]))"},
      {"RulesNull", pad(R"({"rules":null})"), missing + R"((["rules"]))"},
      {"RulesEmpty", pad(R"({"rules":[]})"), too_short},
      {"UnknownTopLevelMember", pad(R"({"version":1,"rules":[)" + rule_json(1, kAnyKeep1) + "]}"),
       not_allowed + R"((["version"]))"},
      // Row 3: required members.
      {"RuleNotObject", pad(R"({"rules":[1]})"),
       R"(instance type (integer) does not match any allowed primitive type (allowed: ["object"]))"},
      {"RuleMissingSelectionAndAction", rule_with(R"("rulePriority":1)"),
       missing + R"((["action", "selection"]))"},
      {"RuleMissingPriority",
       rule_with(R"("selection":)" + std::string(kAnyKeep1) + R"(,"action":)" + expire),
       missing + R"((["rulePriority"]))"},
      {"SelectionMissingCountNumber", sel(R"("tagStatus":"any","countType":"imageCountMoreThan")"),
       missing + R"((["countNumber"]))"},
      {"SelectionEmpty", sel(""), missing + R"((["countNumber", "countType", "tagStatus"]))"},
      {"ActionMissingType", action("{}"), missing + R"((["type"]))"},
      // Row 4: closed schema, explicit nulls.
      {"RuleUnknownMember",
       rule_with(R"("rulePriority":1,"name":"x","selection":)" + std::string(kAnyKeep1) +
                 R"(,"action":)" + expire),
       not_allowed + R"((["name"]))"},
      {"RuleTwoUnknownMembersSorted",
       rule_with(R"("zeta":1,"rulePriority":1,"alpha":2,"selection":)" + std::string(kAnyKeep1) +
                 R"(,"action":)" + expire),
       not_allowed + R"((["alpha", "zeta"]))"},
      {"DescriptionNull",
       rule_with(R"("rulePriority":1,"description":null,"selection":)" + std::string(kAnyKeep1) +
                 R"(,"action":)" + expire),
       not_allowed + R"((["description"]))"},
      {"SelectionUnknownMember", sel(R"("tagStatus":"any","storageClass":"standard",)" + count),
       not_allowed + R"((["storageClass"]))"},
      {"TagPrefixListNull", sel(R"("tagStatus":"tagged","tagPrefixList":null,)" + count),
       not_allowed + R"((["tagPrefixList"]))"},
      {"TagStatusNull", sel(R"("tagStatus":null,)" + count), not_allowed + R"((["tagStatus"]))"},
      {"ActionUnknownMember", action(R"({"type":"expire","targetStorageClass":"archive"})"),
       not_allowed + R"((["targetStorageClass"]))"},
      // Row 5: enums.
      {"TagStatusUpperCase", sel(R"("tagStatus":"TAGGED","tagPrefixList":["a"],)" + count),
       R"(instance value (TAGGED) not found in enum :(possible values: ["any", "tagged", "untagged"]))"},
      {"TagStatusNotString", sel(R"("tagStatus":true,)" + count),
       R"(instance type (boolean) does not match any allowed primitive type (allowed: ["string"]))"},
      {"CountTypeUnknown",
       sel(R"("tagStatus":"any","countType":"imageCountLessThan","countNumber":1)"), one_schema},
      {"CountTypeSinceImageTransitioned",
       sel(R"("tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":1)"),
       one_schema},
      {"CountTypeNotString", sel(R"("tagStatus":"any","countType":1,"countNumber":1)"), one_schema},
      {"CountUnitHours",
       sel(R"("tagStatus":"any","countType":"sinceImagePushed","countUnit":"hours","countNumber":1)"),
       R"(instance value (hours) not found in enum :(possible values: ["days"]))"},
      {"CountUnitUpperCase",
       sel(R"("tagStatus":"any","countType":"sinceImagePushed","countUnit":"DAYS","countNumber":1)"),
       "instance value (DAYS) not found in enum"},
      {"CountUnitNotString",
       sel(R"("tagStatus":"any","countType":"sinceImagePushed","countUnit":1,"countNumber":1)"),
       R"((allowed: ["string"]))"},
      {"ActionDelete", action(R"({"type":"delete"})"),
       R"(instance value (delete) not found in enum :(possible values: ["expire"]))"},
      {"ActionUpperCase", action(R"({"type":"EXPIRE"})"),
       "instance value (EXPIRE) not found in enum"},
      {"ActionTransition", action(R"({"type":"transition"})"),
       "instance value (transition) not found in enum"},
      {"ActionNotObject", action(R"("expire")"),
       R"(instance type (string) does not match any allowed primitive type (allowed: ["object"]))"},
      {"ActionTypeNotString", action(R"({"type":1})"), R"((allowed: ["string"]))"},
      {"SelectionNotObject", rule_with(R"("rulePriority":1,"selection":[],"action":)" + expire),
       R"(instance type (array) does not match any allowed primitive type (allowed: ["object"]))"},
      // Row 6: countUnit against countType.
      {"CountUnitWithImageCount",
       sel(R"("tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":5)"),
       one_schema},
      {"CountUnitMissingWithSincePushed",
       sel(R"("tagStatus":"any","countType":"sinceImagePushed","countNumber":5)"), one_schema},
      {"CountUnitMissingWithSincePulled",
       sel(R"("tagStatus":"any","countType":"sinceImagePulled","countNumber":5)"), one_schema},
      {"CountUnitNullWithSincePushed",
       sel(R"("tagStatus":"any","countType":"sinceImagePushed","countUnit":null,"countNumber":5)"),
       one_schema},
      {"CountUnitNullWithImageCount",
       sel(R"("tagStatus":"any","countType":"imageCountMoreThan","countUnit":null,"countNumber":5)"),
       one_schema},
      // Row 7: integers.
      {"CountNumberZero", number("0"),
       "numeric instance is lower than the required minimum (minimum: 1, found: 0)"},
      {"CountNumberNegative", number("-5"), "(minimum: 1, found: -5)"},
      {"CountNumberFraction", number("2.5"),
       R"(instance type (number) does not match any allowed primitive type (allowed: ["integer"]))"},
      {"CountNumberWholeDouble", number("2.0"), R"(instance type (number) does not match)"},
      {"CountNumberString", number(R"("5")"),
       R"(instance type (string) does not match any allowed primitive type (allowed: ["integer"]))"},
      {"CountNumberBeyondInt", number("2147483648"), map},
      {"RulePriorityZero", prio("0"),
       "numeric instance is lower than the required minimum (minimum: 1, found: 0)"},
      {"RulePriorityNegative", prio("-1"), "(minimum: 1, found: -1)"},
      {"RulePriorityString", prio(R"("1")"), R"((allowed: ["integer"]))"},
      {"RulePriorityFraction", prio("1.5"), R"(instance type (number))"},
      {"RulePriorityBeyondInt", prio("2147483648"), map},
      {"RulePriorityBeyondInt64", prio("18446744073709551615"), map},
      {"DescriptionNotString",
       rule_with(R"("rulePriority":1,"description":5,"selection":)" + std::string(kAnyKeep1) +
                 R"(,"action":)" + expire),
       R"((allowed: ["string"]))"},
      // Row 8: unique priorities.
      {"DuplicatePriority",
       policy_json({rule_json(1, sel_with(tagged_prefix + count)), rule_json(1, kAnyKeep1)}),
       "rulePriority values must be unique"},
      {"DuplicatePriorityNotAdjacent",
       policy_json(
           {rule_json(3, sel_with(tagged_prefix + count)),
            rule_json(5, sel_with(R"("tagStatus":"untagged",)" + count)),
            rule_json(3, sel_with(R"("tagStatus":"tagged","tagPrefixList":["b"],)" + count))}),
       "rulePriority values must be unique"},
      // Row 9: `any` last.
      {"AnyBeforeTagged",
       policy_json({rule_json(1, kAnyKeep1), rule_json(2, sel_with(tagged_prefix + count))}),
       "the rule with tagStatus 'any' must have the highest rulePriority"},
      {"TwoAnyRules", policy_json({rule_json(1, kAnyKeep1), rule_json(2, kAnyKeep1)}),
       "the rule with tagStatus 'any' must have the highest rulePriority"},
      // Row 10: one untagged rule.
      {"TwoUntaggedRules",
       policy_json({rule_json(1, sel_with(R"("tagStatus":"untagged",)" + count)),
                    rule_json(2, sel_with(R"("tagStatus":"untagged",)" + age))}),
       "only one rule may select untagged images"},
      // Row 11: tag lists against tagStatus.
      {"TaggedWithoutList", sel(R"("tagStatus":"tagged",)" + count),
       "tagPrefixList or tagPatternList is required when tagStatus is 'tagged'"},
      {"TaggedWithoutListNorCountUnit",
       sel(R"("tagStatus":"tagged","countType":"sinceImagePushed","countNumber":5)"), ""},
      {"TaggedWithBothLists",
       sel(R"("tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["b*"],)" + count),
       "tagPrefixList and tagPatternList cannot both be specified"},
      {"UntaggedWithPrefixList", sel(R"("tagStatus":"untagged","tagPrefixList":["a"],)" + count),
       "tagPrefixList and tagPatternList are only allowed when tagStatus is 'tagged'"},
      {"AnyWithPatternList", sel(R"("tagStatus":"any","tagPatternList":["a*"],)" + count),
       "tagPrefixList and tagPatternList are only allowed when tagStatus is 'tagged'"},
      {"EmptyPrefixList", sel(R"("tagStatus":"tagged","tagPrefixList":[],)" + count), too_short},
      {"EmptyPatternList", sel(R"("tagStatus":"tagged","tagPatternList":[],)" + count), too_short},
      {"PrefixListNotArray", sel(R"("tagStatus":"tagged","tagPrefixList":"prod",)" + count),
       R"(instance type (string) does not match any allowed primitive type (allowed: ["array"]))"},
      {"PatternEntryNotString", sel(R"("tagStatus":"tagged","tagPatternList":["a*",7],)" + count),
       R"(instance type (integer) does not match any allowed primitive type (allowed: ["string"]))"},
      // Row 12: at most four wildcards per pattern.
      {"FiveWildcards", sel(R"("tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],)" + count),
       R"(tagPatternList entry "a*b*c*d*e*f" has more than 4 wildcards)"},
      {"DocumentedInvalidPattern",
       sel(R"("tagStatus":"tagged","tagPatternList":["ok*","test*1*2*3*4*5*6"],)" + count),
       "has more than 4 wildcards"},
      {"FiveAdjacentStars", sel(R"("tagStatus":"tagged","tagPatternList":["*****"],)" + count),
       "has more than 4 wildcards"},
  };
}

class LifecycleRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(LifecycleRejectTest, IsInvalidParameterWithEcrMessage) {
  const RejectCase& c = GetParam();
  ASSERT_GE(c.text.size(), kMinPolicyTextLength) << "test document too short: " << c.text;
  Result<LifecyclePolicy> r = parse_lifecycle_policy(c.text);
  ASSERT_FALSE(r.is_ok()) << c.text;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(),
                       "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
                       "'Lifecycle policy validation failure: "))
      << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), c.detail))
      << "message: " << r.status().message() << "\nexpected: " << c.detail;
  EXPECT_EQ(r.status().message().back(), '\'');
}

INSTANTIATE_TEST_SUITE_P(AllRules, LifecycleRejectTest, ::testing::ValuesIn(reject_cases()),
                         [](const ::testing::TestParamInfo<RejectCase>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------
// Matching a selection (§5.3).

TEST(LifecycleMatchTest, UntaggedMatchesOnlyImagesWithoutTags) {
  const Selection s = status_only(TagStatus::kUntagged);
  EXPECT_TRUE(selection_matches(s, {}));
  EXPECT_FALSE(selection_matches(s, {"v1"}));
}

TEST(LifecycleMatchTest, AnyMatchesEveryImage) {
  const Selection s = status_only(TagStatus::kAny);
  EXPECT_TRUE(selection_matches(s, {}));
  EXPECT_TRUE(selection_matches(s, {"v1", "latest"}));
}

TEST(LifecycleMatchTest, PrefixMatchesTheStartOfATag) {
  const Selection s = tagged_prefixes({"prod"});
  EXPECT_TRUE(selection_matches(s, {"prod"}));
  EXPECT_TRUE(selection_matches(s, {"prod-1"}));
  EXPECT_TRUE(selection_matches(s, {"production"}));
  EXPECT_FALSE(selection_matches(s, {"xprod"}));
  EXPECT_FALSE(selection_matches(s, {"Prod-1"}));
  EXPECT_FALSE(selection_matches(s, {"pro"}));
  EXPECT_FALSE(selection_matches(s, {}));
}

TEST(LifecycleMatchTest, AnyTagOfTheImageMaySatisfyAPrefix) {
  const Selection s = tagged_prefixes({"prod"});
  EXPECT_TRUE(selection_matches(s, {"latest", "sha-1", "prod-7"}));
  EXPECT_FALSE(selection_matches(s, {"latest", "sha-1"}));
}

TEST(LifecycleMatchTest, EveryListedPrefixMustBeSatisfied) {
  const Selection s = tagged_prefixes({"prod", "eu"});
  EXPECT_TRUE(selection_matches(s, {"prod-1", "eu-west"}));
  EXPECT_TRUE(selection_matches(s, {"eu-west", "x", "prod-1"}));
  EXPECT_FALSE(selection_matches(s, {"prod-eu"}));
  EXPECT_FALSE(selection_matches(s, {"prod-1"}));
  EXPECT_FALSE(selection_matches(s, {"eu-1"}));
}

TEST(LifecycleMatchTest, OneTagMaySatisfySeveralPrefixes) {
  EXPECT_TRUE(selection_matches(tagged_prefixes({"pro", "prod"}), {"prod-1"}));
}

TEST(LifecycleMatchTest, PatternMustMatchAWholeTag) {
  EXPECT_TRUE(selection_matches(tagged_patterns({"latest"}), {"latest"}));
  EXPECT_FALSE(selection_matches(tagged_patterns({"latest"}), {"latest-1"}));
  EXPECT_TRUE(selection_matches(tagged_patterns({"prod*"}), {"prod"}));
  EXPECT_TRUE(selection_matches(tagged_patterns({"prod*"}), {"prod1"}));
  EXPECT_TRUE(selection_matches(tagged_patterns({"*-eu"}), {"build-eu"}));
  EXPECT_FALSE(selection_matches(tagged_patterns({"*-eu"}), {"build-eu-2"}));
}

TEST(LifecycleMatchTest, EveryListedPatternMustMatchSomeTag) {
  const Selection s = tagged_patterns({"prod*", "*-eu"});
  EXPECT_TRUE(selection_matches(s, {"prod-1", "build-eu"}));
  EXPECT_TRUE(selection_matches(s, {"prod-eu"}));  // one tag matching both patterns
  EXPECT_FALSE(selection_matches(s, {"prod-2"}));
  EXPECT_FALSE(selection_matches(s, {"dev-eu"}));
}

TEST(LifecycleMatchTest, TaggedNeverMatchesAnUntaggedImage) {
  EXPECT_FALSE(selection_matches(tagged_prefixes({""}), {}));
  EXPECT_FALSE(selection_matches(tagged_patterns({"*"}), {}));
  EXPECT_TRUE(selection_matches(tagged_prefixes({""}), {"anything"}));
  EXPECT_TRUE(selection_matches(tagged_patterns({"*"}), {"anything"}));
}

TEST(LifecycleMatchTest, UnvalidatedTaggedSelectionsAreConservative) {
  EXPECT_FALSE(selection_matches(status_only(TagStatus::kTagged), {"v1"}));
  Selection both = tagged_prefixes({"v"});
  both.tag_pattern_list = {"*-rc"};
  EXPECT_TRUE(selection_matches(both, {"v1-rc"}));
  EXPECT_FALSE(selection_matches(both, {"v1"}));
  EXPECT_FALSE(selection_matches(both, {"x-rc"}));
}

// ---------------------------------------------------------------------------
// Worked examples (§5.6), each parsed from the reference's own text.

TEST(LifecycleExampleTest, Example1KeepTwoNewestUntagged) {
  const std::string policy =
      R"({"rules":[{"rulePriority":1,"description":"untagged: keep 2","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]})";
  const std::vector<ImageFacts> images{image("U1", {}, 1), image("U2", {}, 2), image("U3", {}, 3),
                                       image("U4", {}, 4), image("T1", {"v1"}, 9)};
  EXPECT_EQ(run(policy, images), (std::map<std::string, int>{{"U3", 1}, {"U4", 1}}));
}

TEST(LifecycleExampleTest, Example2AgeLimitOnATagPattern) {
  const std::string policy =
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["release-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]})";
  const std::vector<ImageFacts> images{image("r1", {"release-1.0"}, 40),
                                       image("r2", {"release-1.1"}, 20),
                                       image("r3", {"release-1.2"}, 5), image("d1", {"dev-7"}, 60)};
  EXPECT_EQ(run(policy, images), (std::map<std::string, int>{{"r1", 1}}));
}

TEST(LifecycleExampleTest, Example3PatternsInOneRuleAreAnded) {
  const std::string policy =
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod*","*-eu"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]})";
  const std::vector<ImageFacts> images{image("A", {"prod-1", "build-eu"}, 10),
                                       image("B", {"prod-2"}, 9), image("C", {"prod-3", "x-eu"}, 8),
                                       image("D", {"dev-eu"}, 7)};
  EXPECT_EQ(run(policy, images), (std::map<std::string, int>{{"A", 1}}));
}

TEST(LifecycleExampleTest, Example4PrefixVersusPattern) {
  const std::vector<ImageFacts> images{image("a", {"v1"}, 5), image("b", {"v10"}, 4),
                                       image("c", {"v1.2"}, 3), image("d", {"v1.3"}, 2)};
  const std::string prefix = one_rule(
      R"({"tagStatus":"tagged","tagPrefixList":["v1"],"countType":"imageCountMoreThan","countNumber":1})");
  EXPECT_EQ(run(prefix, images), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
  const std::string pattern = one_rule(
      R"({"tagStatus":"tagged","tagPatternList":["v1.*"],"countType":"imageCountMoreThan","countNumber":1})");
  EXPECT_EQ(run(pattern, images), (std::map<std::string, int>{{"c", 1}}));
}

const char* kExample5 =
    R"({"rules":[
 {"rulePriority":1,"description":"protect prod","selection":{"tagStatus":"tagged","tagPatternList":["prod-*"],"countType":"imageCountMoreThan","countNumber":9999},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"everything else older than 14 days","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]})";

std::vector<ImageFacts> example5_images() {
  return {image("P1", {"prod-1"}, 100), image("P2", {"prod-2", "latest"}, 30),
          image("D1", {"dev-1"}, 20), image("D2", {"dev-2"}, 3), image("U1", {}, 50)};
}

TEST(LifecycleExampleTest, Example5ProtectProductionAgeOutTheRest) {
  EXPECT_EQ(run(kExample5, example5_images()), (std::map<std::string, int>{{"D1", 2}, {"U1", 2}}));
}

TEST(LifecycleExampleTest, Example5PreviewEntriesCarryTagsAndPriority) {
  const std::vector<Expiration> out =
      evaluate_lifecycle(parse_ok(kExample5), example5_images(), kNow);
  ASSERT_EQ(out.size(), 2u);
  // Same rule, so oldest first: U1 (50 days) before D1 (20 days).
  EXPECT_EQ(out[0].digest, "U1");
  EXPECT_TRUE(out[0].tags.empty());
  EXPECT_EQ(out[0].rule_priority, 2);
  EXPECT_EQ(out[1].digest, "D1");
  EXPECT_EQ(out[1].tags, (std::vector<std::string>{"dev-1"}));
  EXPECT_EQ(out[1].rule_priority, 2);
}

TEST(LifecycleExampleTest, Example6ClaimedImagesStillOccupyCountSlots) {
  const std::string policy = R"({"rules":[
 {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["release"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
 {"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]})";
  const std::vector<ImageFacts> images{image("R1", {"release-1"}, 10),
                                       image("R2", {"release-2"}, 1), image("S1", {"sha-a"}, 5),
                                       image("S2", {"sha-b"}, 4), image("S3", {}, 3)};
  EXPECT_EQ(run(policy, images), (std::map<std::string, int>{{"R1", 1}, {"S1", 2}, {"S2", 2}}));
}

TEST(LifecycleExampleTest, Example7UntaggedPatternAndCatchAll) {
  const std::string policy = R"({"rules":[
 {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
 {"rulePriority":2,"selection":{"tagStatus":"tagged","tagPatternList":["feature-*"],"countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}},
 {"rulePriority":3,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]})";
  const std::vector<ImageFacts> images{image("F1", {"feature-a"}, 9),
                                       image("F2", {"feature-b"}, 6),
                                       image("F3", {"feature-c"}, 2),
                                       image("U1", {}, 8),
                                       image("U2", {}, 1),
                                       image("M1", {"main-1"}, 12),
                                       image("M2", {"main-2"}, 4)};
  EXPECT_EQ(run(policy, images), (std::map<std::string, int>{{"U1", 1}, {"F1", 2}, {"M1", 3}}));
}

TEST(LifecycleExampleTest, Example8PoliciesAreRejected) {
  const std::string count = R"("countType":"imageCountMoreThan","countNumber":1)";
  const std::vector<std::string> rejected{
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":5},"action":{"type":"expire"}}]})",
      one_rule(R"({"tagStatus":"tagged","countType":"sinceImagePushed","countNumber":5})"),
      policy_json({rule_json(1, kAnyKeep1),
                   rule_json(2, R"({"tagStatus":"tagged","tagPrefixList":["a"],)" + count + "}")}),
      policy_json({rule_json(1, R"({"tagStatus":"tagged","tagPrefixList":["a"],)" + count + "}"),
                   rule_json(1, R"({"tagStatus":"tagged","tagPrefixList":["b"],)" + count + "}")}),
      one_rule(R"({"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],)" + count + "}"),
      policy_json({rule_json(1, kAnyKeep1, R"({"type":"delete"})")}),
      one_rule(R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0})"),
  };
  for (const std::string& text : rejected) {
    Result<LifecyclePolicy> r = parse_lifecycle_policy(text);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << text;
  }
}

TEST(LifecycleExampleTest, UserGuidePrefixRulesInBothPriorityOrders) {
  const std::vector<ImageFacts> images{image("A", {"beta-1", "prod-1"}, 10),
                                       image("B", {"beta-2", "prod-2"}, 9),
                                       image("C", {"beta-3"}, 8)};
  const std::string prod =
      R"({"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1})";
  const std::string beta =
      R"({"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1})";
  EXPECT_EQ(run(policy_json({rule_json(1, prod), rule_json(2, beta)}), images),
            (std::map<std::string, int>{{"A", 1}}));
  EXPECT_EQ(run(policy_json({rule_json(1, beta), rule_json(2, prod)}), images),
            (std::map<std::string, int>{{"A", 1}, {"B", 1}}));
}

// ---------------------------------------------------------------------------
// Evaluation semantics (§5.4) beyond the worked examples.

TEST(LifecycleEvalTest, NothingToDoWithoutImagesOrRules) {
  EXPECT_TRUE(evaluate_lifecycle(parse_ok(one_rule(kAnyKeep1)), {}, kNow).empty());
  EXPECT_TRUE(evaluate_lifecycle(LifecyclePolicy{}, {image("a", {}, 100)}, kNow).empty());
}

TEST(LifecycleEvalTest, CountKeepsExactlyNAndExpiresTheRestOldestFirst) {
  const LifecyclePolicy p{
      {rule(1, status_only(TagStatus::kAny), CountType::kImageCountMoreThan, 3)}};
  std::vector<ImageFacts> images;
  for (int i = 1; i <= 3; ++i) images.push_back(image("i" + std::to_string(i), {}, i));
  EXPECT_TRUE(evaluate_lifecycle(p, images, kNow).empty()) << "exactly N images: none expire";
  images.push_back(image("i4", {}, 4));
  images.push_back(image("i5", {}, 5));
  const std::vector<Expiration> out = evaluate_lifecycle(p, images, kNow);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].digest, "i5");
  EXPECT_EQ(out[1].digest, "i4");
}

TEST(LifecycleEvalTest, CountOfOneKeepsOnlyTheNewest) {
  const LifecyclePolicy p{{rule(1, tagged_prefixes({"v"}), CountType::kImageCountMoreThan, 1)}};
  EXPECT_EQ(
      expired_map(evaluate_lifecycle(
          p, {image("old", {"v1"}, 30), image("new", {"v2"}, 1), image("mid", {"v3"}, 10)}, kNow)),
      (std::map<std::string, int>{{"old", 1}, {"mid", 1}}));
}

TEST(LifecycleEvalTest, SincePushedBoundaryIsStrictlyMoreThanNDays) {
  const LifecyclePolicy p{{rule(1, status_only(TagStatus::kAny), CountType::kSinceImagePushed, 7)}};
  const int64_t seven_days = 7 * kSecondsPerDay;
  const std::vector<ImageFacts> images{image_s("younger", {}, seven_days - 1),
                                       image_s("exactly", {}, seven_days),
                                       image_s("older", {}, seven_days + 1)};
  EXPECT_EQ(expired_map(evaluate_lifecycle(p, images, kNow)),
            (std::map<std::string, int>{{"older", 1}}));
}

TEST(LifecycleEvalTest, SincePushedIgnoresPulls) {
  const LifecyclePolicy p{{rule(1, status_only(TagStatus::kAny), CountType::kSinceImagePushed, 7)}};
  ImageFacts busy = image("busy", {"v1"}, 30);
  busy.last_pulled_at_seconds = kNow - 60;
  EXPECT_EQ(expired_map(evaluate_lifecycle(p, {busy}, kNow)),
            (std::map<std::string, int>{{"busy", 1}}));
}

ImageFacts pulled(ImageFacts facts, int64_t pulled_seconds_ago) {
  facts.last_pulled_at_seconds = kNow - pulled_seconds_ago;
  return facts;
}

TEST(LifecycleEvalTest, SincePulledCountsFromTheLastPull) {
  const LifecyclePolicy p{{rule(1, status_only(TagStatus::kAny), CountType::kSinceImagePulled, 7)}};
  const int64_t seven_days = 7 * kSecondsPerDay;
  const std::vector<ImageFacts> images{
      pulled(image("old-but-used", {"v1"}, 300), 60),
      pulled(image("pulled-exactly-7d", {"v2"}, 300), seven_days),
      pulled(image("pulled-7d-and-1s", {"v3"}, 300), seven_days + 1),
  };
  EXPECT_EQ(expired_map(evaluate_lifecycle(p, images, kNow)),
            (std::map<std::string, int>{{"pulled-7d-and-1s", 1}}));
}

TEST(LifecycleEvalTest, SincePulledFallsBackToPushTimeForNeverPulledImages) {
  const LifecyclePolicy p{{rule(1, status_only(TagStatus::kAny), CountType::kSinceImagePulled, 7)}};
  const int64_t seven_days = 7 * kSecondsPerDay;
  const std::vector<ImageFacts> images{image_s("fresh", {}, 60), image_s("exactly", {}, seven_days),
                                       image_s("stale", {}, seven_days + 1)};
  EXPECT_EQ(expired_map(evaluate_lifecycle(p, images, kNow)),
            (std::map<std::string, int>{{"stale", 1}}));
}

TEST(LifecycleEvalTest, ImagesFromTheFutureAreNotExpiredByAge) {
  const LifecyclePolicy p{{rule(1, status_only(TagStatus::kAny), CountType::kSinceImagePushed, 1)}};
  EXPECT_TRUE(evaluate_lifecycle(p, {image("future", {}, -30)}, kNow).empty());
}

TEST(LifecycleEvalTest, ExtremeTimestampsDoNotOverflow) {
  const LifecyclePolicy age{
      {rule(1, status_only(TagStatus::kAny), CountType::kSinceImagePushed, 1)}};
  const std::vector<ImageFacts> images{
      ImageFacts{"ancient", {}, INT64_MIN, std::nullopt},
      ImageFacts{"far-future", {}, INT64_MAX, std::nullopt},
  };
  EXPECT_EQ(expired_map(evaluate_lifecycle(age, images, INT64_MAX)),
            (std::map<std::string, int>{{"ancient", 1}}));
  EXPECT_TRUE(evaluate_lifecycle(age, images, INT64_MIN).empty());
  const LifecyclePolicy count{
      {rule(1, status_only(TagStatus::kAny), CountType::kImageCountMoreThan, INT32_MAX)}};
  EXPECT_TRUE(evaluate_lifecycle(count, images, kNow).empty());
}

TEST(LifecycleEvalTest, MatchingAnEarlierRuleProtectsEvenWhenItExpiresNothing) {
  // Rule 1 matches the young prod image and keeps it; rule 2 would expire it by count.
  const LifecyclePolicy p{
      {rule(1, tagged_prefixes({"prod"}), CountType::kSinceImagePushed, 30),
       rule(2, status_only(TagStatus::kAny), CountType::kImageCountMoreThan, 1)}};
  const std::vector<ImageFacts> images{image("prod-old", {"prod-1"}, 40),
                                       image("prod-young", {"prod-2"}, 10),
                                       image("dev", {"dev-1"}, 5), image("newest", {"dev-2"}, 1)};
  EXPECT_EQ(expired_map(evaluate_lifecycle(p, images, kNow)),
            (std::map<std::string, int>{{"prod-old", 1}, {"dev", 2}}));
}

TEST(LifecycleEvalTest, AnImageIsExpiredByTheFirstMatchingRuleOnly) {
  const LifecyclePolicy p{{rule(1, tagged_prefixes({"v"}), CountType::kSinceImagePushed, 1),
                           rule(2, tagged_prefixes({"v1"}), CountType::kSinceImagePushed, 1)}};
  const std::vector<Expiration> out = evaluate_lifecycle(p, {image("x", {"v1"}, 10)}, kNow);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule_priority, 1);
}

TEST(LifecycleEvalTest, RulesRunInPriorityOrderWhateverTheDocumentOrder) {
  const LifecycleRule beta = rule(1, tagged_prefixes({"beta"}), CountType::kImageCountMoreThan, 1);
  const LifecycleRule prod = rule(2, tagged_prefixes({"prod"}), CountType::kImageCountMoreThan, 1);
  const std::vector<ImageFacts> images{image("A", {"beta-1", "prod-1"}, 10),
                                       image("B", {"beta-2", "prod-2"}, 9),
                                       image("C", {"beta-3"}, 8)};
  const auto forward = expired_map(evaluate_lifecycle(LifecyclePolicy{{beta, prod}}, images, kNow));
  const auto backward =
      expired_map(evaluate_lifecycle(LifecyclePolicy{{prod, beta}}, images, kNow));
  EXPECT_EQ(forward, (std::map<std::string, int>{{"A", 1}, {"B", 1}}));
  EXPECT_EQ(backward, forward);
}

TEST(LifecycleEvalTest, UntaggedRuleNeverTouchesTaggedImages) {
  const LifecyclePolicy p{
      {rule(1, status_only(TagStatus::kUntagged), CountType::kSinceImagePushed, 1)}};
  EXPECT_EQ(
      expired_map(evaluate_lifecycle(p, {image("t", {"v1"}, 100), image("u", {}, 100)}, kNow)),
      (std::map<std::string, int>{{"u", 1}}));
}

TEST(LifecycleEvalTest, AMultiTagImageExpiresWithAllItsTags) {
  const LifecyclePolicy p{{rule(1, tagged_patterns({"dev-*"}), CountType::kSinceImagePushed, 5)}};
  const std::vector<Expiration> out =
      evaluate_lifecycle(p, {image("m", {"dev-1", "latest", "sha-abc"}, 10)}, kNow);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].digest, "m");
  EXPECT_EQ(out[0].tags, (std::vector<std::string>{"dev-1", "latest", "sha-abc"}));
}

TEST(LifecycleEvalTest, EqualPushTimesAreBrokenByDigest) {
  const LifecyclePolicy p{
      {rule(1, status_only(TagStatus::kAny), CountType::kImageCountMoreThan, 1)}};
  std::vector<ImageFacts> images{image("sha256:bbb", {}, 3), image("sha256:aaa", {}, 3),
                                 image("sha256:ccc", {}, 3)};
  // The greatest digest counts as newest and is kept; the rest go, oldest first.
  const std::vector<Expiration> out = evaluate_lifecycle(p, images, kNow);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].digest, "sha256:aaa");
  EXPECT_EQ(out[1].digest, "sha256:bbb");
  std::sort(images.begin(), images.end(),
            [](const ImageFacts& a, const ImageFacts& b) { return a.digest < b.digest; });
  do {
    const std::vector<Expiration> again = evaluate_lifecycle(p, images, kNow);
    ASSERT_EQ(again.size(), out.size());
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(again[i].digest, out[i].digest);
  } while (std::next_permutation(
      images.begin(), images.end(),
      [](const ImageFacts& a, const ImageFacts& b) { return a.digest < b.digest; }));
}

TEST(LifecycleEvalTest, OutputIsOrderedByPriorityThenAge) {
  const LifecyclePolicy p{{rule(5, status_only(TagStatus::kAny), CountType::kSinceImagePushed, 1),
                           rule(2, tagged_prefixes({"x"}), CountType::kSinceImagePushed, 1)}};
  const std::vector<ImageFacts> images{image("any-young", {}, 3), image("x-young", {"x1"}, 2),
                                       image("any-old", {"y"}, 30), image("x-old", {"x2"}, 20)};
  const std::vector<Expiration> out = evaluate_lifecycle(p, images, kNow);
  std::vector<std::pair<int, std::string>> got;
  for (const Expiration& e : out) got.emplace_back(e.rule_priority, e.digest);
  EXPECT_EQ(got, (std::vector<std::pair<int, std::string>>{
                     {2, "x-old"}, {2, "x-young"}, {5, "any-old"}, {5, "any-young"}}));
}

TEST(LifecycleEvalTest, UnvalidatedNonPositiveCountsExpireEveryMatch) {
  const LifecyclePolicy zero{
      {rule(1, status_only(TagStatus::kAny), CountType::kImageCountMoreThan, 0)}};
  const LifecyclePolicy negative{
      {rule(1, status_only(TagStatus::kAny), CountType::kImageCountMoreThan, -3)}};
  const std::vector<ImageFacts> images{image("a", {}, 1), image("b", {"t"}, 2)};
  EXPECT_EQ(evaluate_lifecycle(zero, images, kNow).size(), 2u);
  EXPECT_EQ(evaluate_lifecycle(negative, images, kNow).size(), 2u);
}

// ---------------------------------------------------------------------------
// Randomised check of the §5.4 contract, stated per image instead of per rule:
// an image is expired exactly when the FIRST rule (by priority) whose selection
// matches it has it among its candidates, and then by that rule.

struct RandomCase {
  LifecyclePolicy policy;
  std::vector<ImageFacts> images;
};

RandomCase random_case(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> tag_pool{"prod-1", "prod-2", "dev-1",  "dev-eu", "v1",
                                          "v10",    "v1.2",   "latest", "rc-eu",  "sha-a"};
  const std::vector<std::string> prefix_pool{"prod", "dev", "v1", "v", "rc", "sha", "latest"};
  const std::vector<std::string> pattern_pool{"prod-*", "*-eu", "v1*", "v1.*",
                                              "latest", "*",    "*a*", "dev-?"};
  RandomCase c;
  const int rules = 1 + pick(4);
  std::vector<int> priorities;
  while (static_cast<int>(priorities.size()) < rules) {
    const int prio = 1 + pick(20);
    if (std::find(priorities.begin(), priorities.end(), prio) == priorities.end())
      priorities.push_back(prio);
  }
  for (int prio : priorities) {
    Selection s;
    switch (pick(3)) {
      case 0:
        s = status_only(TagStatus::kUntagged);
        break;
      case 1:
        s = status_only(TagStatus::kAny);
        break;
      default: {
        s.tag_status = TagStatus::kTagged;
        const int n = 1 + pick(2);
        for (int i = 0; i < n; ++i) {
          if (pick(2) == 0)
            s.tag_prefix_list.push_back(prefix_pool[pick(static_cast<int>(prefix_pool.size()))]);
        }
        if (s.tag_prefix_list.empty()) {
          for (int i = 0; i < n; ++i)
            s.tag_pattern_list.push_back(pattern_pool[pick(static_cast<int>(pattern_pool.size()))]);
        }
      }
    }
    const CountType type = static_cast<CountType>(pick(3));
    c.policy.rules.push_back(rule(prio, s, type, 1 + pick(6)));
  }
  const int images = pick(12);
  for (int i = 0; i < images; ++i) {
    std::vector<std::string> tags;
    const int ntags = pick(4);
    for (int t = 0; t < ntags; ++t)
      tags.push_back(tag_pool[pick(static_cast<int>(tag_pool.size()))]);
    // Coarse push times (in days, sometimes exactly on a boundary) to force ties.
    ImageFacts f{"sha256:" + std::to_string(1000 + i), tags,
                 kNow - pick(10) * kSecondsPerDay - pick(2), std::nullopt};
    if (pick(2) == 0) f.last_pulled_at_seconds = kNow - pick(10) * kSecondsPerDay;
    c.images.push_back(f);
  }
  return c;
}

// Whether `img` is a candidate of `r`, computed directly from the definition.
bool is_candidate(const LifecycleRule& r, const ImageFacts& img,
                  const std::vector<ImageFacts>& all) {
  const Selection& s = r.selection;
  const int64_t limit = int64_t{s.count_number} * kSecondsPerDay;
  switch (s.count_type) {
    case CountType::kImageCountMoreThan: {
      // Number of matched images newer than img under the (push time, digest) order.
      int newer = 0;
      for (const ImageFacts& other : all) {
        if (!selection_matches(s, other.tags)) continue;
        if (other.pushed_at_seconds > img.pushed_at_seconds ||
            (other.pushed_at_seconds == img.pushed_at_seconds && other.digest > img.digest)) {
          ++newer;
        }
      }
      return newer >= s.count_number;
    }
    case CountType::kSinceImagePushed:
      return kNow - img.pushed_at_seconds > limit;
    case CountType::kSinceImagePulled:
      return kNow - img.last_pulled_at_seconds.value_or(img.pushed_at_seconds) > limit;
  }
  return false;
}

TEST(LifecyclePropertyTest, MatchesThePerImageContractOnRandomInputs) {
  std::mt19937 rng(20240229);
  size_t total_expired = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    RandomCase c = random_case(rng);
    const std::vector<Expiration> out = evaluate_lifecycle(c.policy, c.images, kNow);
    const std::map<std::string, int> got = expired_map(out);
    total_expired += got.size();

    std::vector<LifecycleRule> by_priority = c.policy.rules;
    std::sort(by_priority.begin(), by_priority.end(),
              [](const LifecycleRule& a, const LifecycleRule& b) {
                return a.rule_priority < b.rule_priority;
              });
    std::map<std::string, int> want;
    for (const ImageFacts& img : c.images) {
      for (const LifecycleRule& r : by_priority) {
        if (!selection_matches(r.selection, img.tags)) continue;
        if (is_candidate(r, img, c.images)) want[img.digest] = r.rule_priority;
        break;  // the first matching rule decides
      }
    }
    ASSERT_EQ(got, want) << "iteration " << iteration;

    // Documented output order: priority, then (push time, digest) ascending.
    auto pushed = [&](const std::string& digest) {
      return std::find_if(c.images.begin(), c.images.end(),
                          [&](const ImageFacts& f) { return f.digest == digest; })
          ->pushed_at_seconds;
    };
    for (size_t i = 1; i < out.size(); ++i) {
      const auto prev =
          std::make_tuple(out[i - 1].rule_priority, pushed(out[i - 1].digest), out[i - 1].digest);
      const auto cur = std::make_tuple(out[i].rule_priority, pushed(out[i].digest), out[i].digest);
      ASSERT_LT(prev, cur) << "iteration " << iteration;
    }

    // The input order of images does not matter.
    std::shuffle(c.images.begin(), c.images.end(), rng);
    const std::vector<Expiration> shuffled = evaluate_lifecycle(c.policy, c.images, kNow);
    ASSERT_EQ(shuffled.size(), out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(shuffled[i].digest, out[i].digest);
      ASSERT_EQ(shuffled[i].rule_priority, out[i].rule_priority);
      ASSERT_EQ(shuffled[i].tags, out[i].tags);
    }
  }
  EXPECT_GT(total_expired, 500u) << "the generator should exercise expiry, not only keeping";
}

}  // namespace
}  // namespace berth::lifecycle
