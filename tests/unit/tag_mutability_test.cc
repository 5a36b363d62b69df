#include "core/tag_mutability.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth {
namespace {

constexpr TagMutability kAllModes[] = {TagMutability::kMutable, TagMutability::kImmutable,
                                       TagMutability::kMutableWithExclusion,
                                       TagMutability::kImmutableWithExclusion};

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

void expect_invalid(const Status& status, std::string_view member, std::string_view fragment) {
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.to_string();
  EXPECT_TRUE(contains(status.message(), "Invalid parameter at '" + std::string(member) +
                                             "' failed to satisfy constraint: '"))
      << status.message();
  EXPECT_TRUE(contains(status.message(), fragment)) << status.message();
}

TEST(TagMutabilityTest, FormatsEcrStrings) {
  EXPECT_EQ(format_tag_mutability(TagMutability::kMutable), "MUTABLE");
  EXPECT_EQ(format_tag_mutability(TagMutability::kImmutable), "IMMUTABLE");
  EXPECT_EQ(format_tag_mutability(TagMutability::kMutableWithExclusion), "MUTABLE_WITH_EXCLUSION");
  EXPECT_EQ(format_tag_mutability(TagMutability::kImmutableWithExclusion),
            "IMMUTABLE_WITH_EXCLUSION");
}

TEST(TagMutabilityTest, ParseRoundTripsEveryMode) {
  for (TagMutability mode : kAllModes) {
    Result<TagMutability> parsed = parse_tag_mutability(format_tag_mutability(mode));
    ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
    EXPECT_EQ(*parsed, mode);
  }
}

TEST(TagMutabilityTest, ParseRejectsAnythingElse) {
  for (std::string_view bad : {"", "mutable", "Immutable", "MUTABLE ", " IMMUTABLE",
                               "IMMUTABLE_WITH", "WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSIONS"}) {
    Result<TagMutability> parsed = parse_tag_mutability(bad);
    ASSERT_FALSE(parsed.is_ok()) << "'" << bad << "'";
    expect_invalid(parsed.status(), "imageTagMutability", "Member must satisfy enum value set: [");
    EXPECT_TRUE(contains(parsed.status().message(), "IMMUTABLE_WITH_EXCLUSION"));
  }
}

TEST(TagMutabilityTest, OnlyExclusionModesUseFilters) {
  EXPECT_FALSE(uses_exclusion_filters(TagMutability::kMutable));
  EXPECT_FALSE(uses_exclusion_filters(TagMutability::kImmutable));
  EXPECT_TRUE(uses_exclusion_filters(TagMutability::kMutableWithExclusion));
  EXPECT_TRUE(uses_exclusion_filters(TagMutability::kImmutableWithExclusion));
}

TEST(TagMutabilityTest, FilterTypeMustBeWildcard) {
  EXPECT_TRUE(validate_exclusion_filter_type("WILDCARD").is_ok());
  for (std::string_view bad : {"", "wildcard", "REGEX", "PREFIX", "WILDCARD "}) {
    Status st = validate_exclusion_filter_type(bad);
    expect_invalid(st, "imageTagMutabilityExclusionFilters", "Invalid value for 'filterType'");
  }
}

TEST(TagMutabilityTest, FilterSyntaxAcceptsTheDocumentedAlphabet) {
  for (std::string_view good : {"latest", "dev-*", "*", "release_1.2-*", "A-Z.a_z-0*9", "***"}) {
    EXPECT_TRUE(validate_exclusion_filter(good).is_ok()) << good;
  }
  EXPECT_TRUE(validate_exclusion_filter(std::string(kMaxExclusionFilterLength, 'x')).is_ok());
}

TEST(TagMutabilityTest, FilterSyntaxRejectsLengthAndCharacters) {
  Status too_long = validate_exclusion_filter(std::string(kMaxExclusionFilterLength + 1, 'x'));
  expect_invalid(too_long, "imageTagMutabilityExclusionFilters", "^[0-9a-zA-Z._*-]{1,128}$");
  Status empty = validate_exclusion_filter("");
  expect_invalid(empty, "imageTagMutabilityExclusionFilters", "regular expression");
  for (std::string_view bad : {"dev/*", "a b", "v1:2", "x@y", "tag?", "caf\xc3\xa9", "a+b"}) {
    EXPECT_EQ(validate_exclusion_filter(bad).code(), Code::kInvalidArgument) << bad;
  }
}

TEST(TagMutabilityTest, PlainModesAcceptNoFilters) {
  EXPECT_TRUE(validate_tag_mutability_config({TagMutability::kMutable, {}}).is_ok());
  EXPECT_TRUE(validate_tag_mutability_config({TagMutability::kImmutable, {}}).is_ok());
}

TEST(TagMutabilityTest, PlainModesForbidFilters) {
  for (TagMutability mode : {TagMutability::kMutable, TagMutability::kImmutable}) {
    Status st = validate_tag_mutability_config({mode, {"latest"}});
    expect_invalid(st, "imageTagMutabilityExclusionFilters",
                   std::string(format_tag_mutability(mode)));
  }
}

TEST(TagMutabilityTest, ExclusionModesRequireFilters) {
  for (TagMutability mode :
       {TagMutability::kMutableWithExclusion, TagMutability::kImmutableWithExclusion}) {
    Status st = validate_tag_mutability_config({mode, {}});
    expect_invalid(st, "imageTagMutabilityExclusionFilters",
                   "ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is "
                   "set as " +
                       std::string(format_tag_mutability(mode)));
  }
}

TEST(TagMutabilityTest, ExclusionModesAcceptOneToFiveFilters) {
  std::vector<std::string> filters;
  for (size_t n = 1; n <= kMaxExclusionFilters; ++n) {
    filters.push_back("f" + std::to_string(n) + "*");
    EXPECT_TRUE(
        validate_tag_mutability_config({TagMutability::kImmutableWithExclusion, filters}).is_ok())
        << n;
  }
  filters.push_back("one-too-many");
  Status st = validate_tag_mutability_config({TagMutability::kMutableWithExclusion, filters});
  expect_invalid(st, "imageTagMutabilityExclusionFilters",
                 "Member must have length less than or equal to 5");
}

TEST(TagMutabilityTest, EveryFilterIsSyntaxChecked) {
  Status st = validate_tag_mutability_config(
      {TagMutability::kImmutableWithExclusion, {"latest", "ok-*", "not/ok"}});
  expect_invalid(st, "imageTagMutabilityExclusionFilters", "'not/ok'");
}

TEST(TagMutabilityTest, MakeConfigParsesAndValidates) {
  Result<TagMutabilityConfig> ok =
      make_tag_mutability_config("IMMUTABLE_WITH_EXCLUSION", {"latest", "dev-*"});
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->mode, TagMutability::kImmutableWithExclusion);
  EXPECT_EQ(ok->exclusion_filters, (std::vector<std::string>{"latest", "dev-*"}));

  Result<TagMutabilityConfig> bad_mode = make_tag_mutability_config("FROZEN", {});
  ASSERT_FALSE(bad_mode.is_ok());
  EXPECT_TRUE(contains(bad_mode.status().message(), "'imageTagMutability'"));

  Result<TagMutabilityConfig> bad_combo = make_tag_mutability_config("IMMUTABLE", {"latest"});
  ASSERT_FALSE(bad_combo.is_ok());
  EXPECT_TRUE(contains(bad_combo.status().message(), "'imageTagMutabilityExclusionFilters'"));
}

TEST(TagMutabilityTest, PlainModesDecideForEveryTag) {
  for (std::string_view tag : {"latest", "v1", "dev-3"}) {
    EXPECT_FALSE(is_tag_immutable({TagMutability::kMutable, {}}, tag)) << tag;
    EXPECT_TRUE(is_tag_immutable({TagMutability::kImmutable, {}}, tag)) << tag;
  }
}

TEST(TagMutabilityTest, ImmutableWithExclusionKeepsMatchingTagsMutable) {
  const TagMutabilityConfig config{TagMutability::kImmutableWithExclusion, {"latest", "dev-*"}};
  EXPECT_FALSE(is_tag_immutable(config, "latest"));
  EXPECT_FALSE(is_tag_immutable(config, "dev-1"));
  EXPECT_FALSE(is_tag_immutable(config, "dev-"));
  EXPECT_TRUE(is_tag_immutable(config, "v1.0"));
  EXPECT_TRUE(is_tag_immutable(config, "latest-1"));  // whole-tag match only
  EXPECT_TRUE(is_tag_immutable(config, "mydev-1"));
  EXPECT_TRUE(is_tag_immutable(config, "LATEST"));  // case-sensitive
}

TEST(TagMutabilityTest, MutableWithExclusionMakesMatchingTagsImmutable) {
  const TagMutabilityConfig config{TagMutability::kMutableWithExclusion, {"release-*", "v*.*.*"}};
  EXPECT_TRUE(is_tag_immutable(config, "release-2024"));
  EXPECT_TRUE(is_tag_immutable(config, "v1.2.3"));
  EXPECT_FALSE(is_tag_immutable(config, "v1.2"));
  EXPECT_FALSE(is_tag_immutable(config, "latest"));
  EXPECT_FALSE(is_tag_immutable(config, "pre-release-1"));
}

TEST(TagMutabilityTest, ExclusionModesAreComplementsOfEachOther) {
  const std::vector<std::string> filters{"latest", "*-rc*", "nightly"};
  for (std::string_view tag : {"latest", "v1-rc2", "nightly", "v1", "rc", "latest2"}) {
    EXPECT_NE(is_tag_immutable({TagMutability::kMutableWithExclusion, filters}, tag),
              is_tag_immutable({TagMutability::kImmutableWithExclusion, filters}, tag))
        << tag;
  }
}

TEST(TagMutabilityTest, PlainModesIgnoreFiltersOfAnUnvalidatedConfig) {
  EXPECT_FALSE(is_tag_immutable({TagMutability::kMutable, {"latest"}}, "latest"));
  EXPECT_TRUE(is_tag_immutable({TagMutability::kImmutable, {"latest"}}, "latest"));
}

}  // namespace
}  // namespace berth
