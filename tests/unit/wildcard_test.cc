#include "core/wildcard.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth {
namespace {

// An independent reference: the textbook dynamic-programming glob matcher.
bool dp_match(const std::string& pattern, const std::string& text) {
  const size_t p = pattern.size(), t = text.size();
  // m[i][j]: pattern[0, i) matches text[0, j).
  std::vector<std::vector<bool>> m(p + 1, std::vector<bool>(t + 1, false));
  m[0][0] = true;
  for (size_t i = 1; i <= p; ++i) {
    for (size_t j = 0; j <= t; ++j) {
      if (pattern[i - 1] == '*') {
        m[i][j] = m[i - 1][j] || (j > 0 && m[i][j - 1]);
      } else {
        m[i][j] = j > 0 && m[i - 1][j - 1] && pattern[i - 1] == text[j - 1];
      }
    }
  }
  return m[p][t];
}

// Every string of length 0..max_len over `alphabet`.
std::vector<std::string> all_strings(const std::string& alphabet, size_t max_len) {
  std::vector<std::string> out{""};
  size_t begin = 0;
  for (size_t len = 1; len <= max_len; ++len) {
    const size_t end = out.size();
    for (size_t i = begin; i < end; ++i) {
      for (char c : alphabet) out.push_back(out[i] + c);
    }
    begin = end;
  }
  return out;
}

TEST(WildcardTest, WithoutStarIsExactAndCaseSensitive) {
  EXPECT_TRUE(wildcard_match("latest", "latest"));
  EXPECT_FALSE(wildcard_match("latest", "latest-1"));
  EXPECT_FALSE(wildcard_match("latest", "mylatest"));
  EXPECT_FALSE(wildcard_match("latest", "Latest"));
  EXPECT_FALSE(wildcard_match("latest", ""));
  EXPECT_TRUE(wildcard_match("", ""));
  EXPECT_FALSE(wildcard_match("", "a"));
}

TEST(WildcardTest, LoneStarMatchesEverythingIncludingEmpty) {
  EXPECT_TRUE(wildcard_match("*", ""));
  EXPECT_TRUE(wildcard_match("*", "anything-at.all_1"));
  EXPECT_TRUE(wildcard_match("**", ""));
  EXPECT_TRUE(wildcard_match("***", "x"));
}

TEST(WildcardTest, TrailingStarIsAPrefixMatch) {
  EXPECT_TRUE(wildcard_match("prod*", "prod"));
  EXPECT_TRUE(wildcard_match("prod*", "prod1"));
  EXPECT_TRUE(wildcard_match("prod*", "production"));
  EXPECT_FALSE(wildcard_match("prod*", "xprod"));
  EXPECT_FALSE(wildcard_match("prod*", "pro"));
  EXPECT_FALSE(wildcard_match("prod*", "PROD1"));
}

TEST(WildcardTest, LeadingStarIsASuffixMatch) {
  EXPECT_TRUE(wildcard_match("*-eu", "build-eu"));
  EXPECT_TRUE(wildcard_match("*-eu", "-eu"));
  EXPECT_FALSE(wildcard_match("*-eu", "build-eu1"));
  EXPECT_FALSE(wildcard_match("*-eu", "eu"));
}

TEST(WildcardTest, InnerStarsMatchSegmentsInOrder) {
  EXPECT_TRUE(wildcard_match("a*b*c", "abc"));
  EXPECT_TRUE(wildcard_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(wildcard_match("a*b*c", "acb"));
  EXPECT_FALSE(wildcard_match("a*b*c", "abcX"));
  EXPECT_TRUE(wildcard_match("v1.*", "v1.2"));
  EXPECT_TRUE(wildcard_match("v1.*", "v1."));
  EXPECT_FALSE(wildcard_match("v1.*", "v10"));
}

TEST(WildcardTest, HeadAndTailMayNotOverlap) {
  EXPECT_FALSE(wildcard_match("ab*ba", "aba"));
  EXPECT_TRUE(wildcard_match("ab*ba", "abba"));
  EXPECT_TRUE(wildcard_match("ab*ba", "abXba"));
  EXPECT_FALSE(wildcard_match("a*a", "a"));
  EXPECT_TRUE(wildcard_match("a*a", "aa"));
}

TEST(WildcardTest, LeftmostSegmentChoiceDoesNotMissLaterMatches) {
  EXPECT_TRUE(wildcard_match("*a*ab", "aab"));
  EXPECT_TRUE(wildcard_match("*aab", "aaab"));
  EXPECT_TRUE(wildcard_match("*ab*abc*", "xxababcx"));
  EXPECT_FALSE(wildcard_match("*abc*abc", "abcab"));
}

TEST(WildcardTest, StarIsTheOnlyMetaCharacter) {
  EXPECT_FALSE(wildcard_match("v?", "v1"));
  EXPECT_TRUE(wildcard_match("v?", "v?"));
  EXPECT_FALSE(wildcard_match("v.1", "vx1"));
  EXPECT_FALSE(wildcard_match("[ab]", "a"));
  EXPECT_TRUE(wildcard_match("a*", "a*"));  // '*' in the text is an ordinary byte
}

TEST(WildcardTest, DocumentedEcrPatternsWithFourWildcards) {
  EXPECT_TRUE(wildcard_match("*test*1*2*3", "mytest-1-2-3"));
  EXPECT_TRUE(wildcard_match("test*1*2*3*", "test_1_2_3_final"));
  EXPECT_FALSE(wildcard_match("test*1*2*3*", "test_1_3_2"));
}

TEST(WildcardTest, AgreesWithDynamicProgrammingOnEveryShortInput) {
  const std::vector<std::string> patterns = all_strings("ab*", 5);
  const std::vector<std::string> texts = all_strings("ab", 6);
  size_t checked = 0;
  for (const std::string& pattern : patterns) {
    for (const std::string& text : texts) {
      ASSERT_EQ(wildcard_match(pattern, text), dp_match(pattern, text))
          << "pattern '" << pattern << "' text '" << text << "'";
      ++checked;
    }
  }
  EXPECT_EQ(checked, patterns.size() * texts.size());
}

TEST(WildcardTest, PathologicalInputsFinishWithoutRecursion) {
  // Exponential-time backtracking matchers (and recursive ones) fall over here.
  const std::string text(200'000, 'a');
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "*a";
  EXPECT_TRUE(wildcard_match(pattern + "*", text));
  EXPECT_FALSE(wildcard_match(pattern + "*b", text));
  EXPECT_FALSE(wildcard_match("*" + std::string(20, 'a') + "b*", text));
}

TEST(WildcardTest, CountsStars) {
  EXPECT_EQ(wildcard_count(""), 0u);
  EXPECT_EQ(wildcard_count("latest"), 0u);
  EXPECT_EQ(wildcard_count("*test*1*2*3"), 4u);
  EXPECT_EQ(wildcard_count("a*b*c*d*e*f"), 5u);
  EXPECT_EQ(wildcard_count("**"), 2u);
}

}  // namespace
}  // namespace berth
