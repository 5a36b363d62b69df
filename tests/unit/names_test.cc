// Repository name and tag grammar, per the OCI distribution-spec v1.1 ("Pulling
// manifests"):
//   <name>  [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//   <tag>   [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
// berth limits names to 255 characters.
#include "core/names.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

void expect_name_ok(const std::string& name) {
  Status s = validate_repository_name(name);
  EXPECT_TRUE(s.is_ok()) << "rejected '" << name << "': " << s.to_string();
}

void expect_name_invalid(const std::string& name) {
  Status s = validate_repository_name(name);
  EXPECT_FALSE(s.is_ok()) << "accepted '" << name << "'";
  EXPECT_EQ(s.code(), Code::kNameInvalid) << name;
}

void expect_tag_ok(const std::string& tag) {
  Status s = validate_tag(tag);
  EXPECT_TRUE(s.is_ok()) << "rejected '" << tag << "': " << s.to_string();
}

void expect_tag_invalid(const std::string& tag) {
  Status s = validate_tag(tag);
  EXPECT_FALSE(s.is_ok()) << "accepted '" << tag << "'";
  EXPECT_EQ(s.code(), Code::kTagInvalid) << tag;
}

// --- repository names ------------------------------------------------------------

TEST(RepositoryNameTest, SimpleComponents) {
  expect_name_ok("a");
  expect_name_ok("0");
  expect_name_ok("library");
  expect_name_ok("ubuntu22");
  expect_name_ok("123");
}

TEST(RepositoryNameTest, EverySeparatorKindBetweenAlnumRuns) {
  expect_name_ok("a.b");
  expect_name_ok("a_b");
  expect_name_ok("a__b");
  expect_name_ok("a-b");
  expect_name_ok("a--b");
  expect_name_ok("a-----b");
  expect_name_ok("a.b_c__d-e--f");
  expect_name_ok("my-app.v2_final__x");
}

TEST(RepositoryNameTest, TripleUnderscoreAndMixedSeparatorsAreInvalid) {
  expect_name_invalid("a___b");
  expect_name_invalid("a____b");
  expect_name_invalid("a..b");
  expect_name_invalid("a._b");
  expect_name_invalid("a_.b");
  expect_name_invalid("a.-b");
  expect_name_invalid("a-.b");
  expect_name_invalid("a-_b");
  expect_name_invalid("a_-b");
  expect_name_invalid("a__-b");
}

TEST(RepositoryNameTest, LeadingOrTrailingSeparatorsAreInvalid) {
  for (const char* sep : {".", "_", "__", "-", "--"}) {
    expect_name_invalid(std::string(sep) + "a");
    expect_name_invalid(std::string("a") + sep);
    expect_name_invalid(std::string("a/") + sep + "b");
    expect_name_invalid(std::string("a") + sep + "/b");
    expect_name_invalid(sep);
  }
}

TEST(RepositoryNameTest, UpperCaseAndOtherCharactersAreInvalid) {
  expect_name_invalid("A");
  expect_name_invalid("Library");
  expect_name_invalid("libRary");
  expect_name_invalid("a/B");
  for (char c : std::string(" :@+~!$%&*()=[]{}|\\;'\",<>?#\t\n")) {
    expect_name_invalid(std::string("a") + c + "b");
  }
  expect_name_invalid("caf\xc3\xa9");  // non-ASCII
  expect_name_invalid(std::string("a\0b", 3));
}

TEST(RepositoryNameTest, EmptyNameAndEmptyComponentsAreInvalid) {
  expect_name_invalid("");
  expect_name_invalid("/");
  expect_name_invalid("/a");
  expect_name_invalid("a/");
  expect_name_invalid("a//b");
  expect_name_invalid("a/b//c");
  expect_name_invalid("//");
  expect_name_invalid("a/./b");
  expect_name_invalid("a/../b");
}

TEST(RepositoryNameTest, NestedComponents) {
  expect_name_ok("a/b");
  expect_name_ok("a/b/c");
  expect_name_ok("org/team/project/service/image");
  expect_name_ok("my-org/my_team/app.v2");
  expect_name_ok("a__b/c--d/e.f");
  // Path words of the API are ordinary components.
  expect_name_ok("a/blobs/uploads");
  expect_name_ok("manifests/tags/list");
}

TEST(RepositoryNameTest, LengthLimitIs255) {
  const std::string single255(255, 'a');
  expect_name_ok(single255);
  expect_name_invalid(single255 + "a");

  // 255 and 256 characters made of several components.
  std::string nested;
  while (nested.size() + 2 <= 255) nested += nested.empty() ? "ab" : "/a";
  ASSERT_LE(nested.size(), 255u);
  nested += std::string(255 - nested.size(), 'z');
  ASSERT_EQ(nested.size(), 255u);
  expect_name_ok(nested);
  expect_name_invalid(nested + "z");
  EXPECT_EQ(kMaxRepositoryNameLength, 255u);
}

TEST(RepositoryNameTest, ErrorMessageIsNotEmpty) {
  Status s = validate_repository_name("Bad");
  ASSERT_FALSE(s.is_ok());
  EXPECT_FALSE(s.message().empty());
}

// --- tags ------------------------------------------------------------------------

TEST(TagTest, AllowedCharacters) {
  expect_tag_ok("latest");
  expect_tag_ok("v1.2.3");
  expect_tag_ok("V1.2.3-RC.1");
  expect_tag_ok("release_2024-01-01");
  expect_tag_ok("_underscore_first");
  expect_tag_ok("0");
  expect_tag_ok("a");
  expect_tag_ok("A");
  expect_tag_ok("a.");  // a trailing '.' or '-' is fine
  expect_tag_ok("a-");
  expect_tag_ok("a..b--c__d");
  expect_tag_ok("sha256-0123456789abcdef");  // the referrers tag schema form
}

TEST(TagTest, FirstCharacterMustBeWordCharacter) {
  expect_tag_invalid(".hidden");
  expect_tag_invalid("-dash");
  expect_tag_invalid(".");
  expect_tag_invalid("-");
}

TEST(TagTest, OtherCharactersAreInvalid) {
  for (char c : std::string(" :/@+~!$%&*()=[]{}|\\;'\",<>?#\t\n")) {
    expect_tag_invalid(std::string("a") + c + "b");
    expect_tag_invalid(std::string(1, c));
  }
  expect_tag_invalid("sha256:abc");
  expect_tag_invalid("caf\xc3\xa9");
  expect_tag_invalid(std::string("a\0b", 3));
}

TEST(TagTest, LengthIsOneTo128) {
  expect_tag_invalid("");
  expect_tag_ok(std::string(128, 'a'));
  expect_tag_invalid(std::string(129, 'a'));
  expect_tag_ok("_" + std::string(127, '.'));
  expect_tag_invalid("_" + std::string(128, '-'));
  EXPECT_EQ(kMaxTagLength, 128u);
}

TEST(ReferenceTest, DigestReferencesContainAColon) {
  EXPECT_TRUE(reference_is_digest("sha256:abc"));
  EXPECT_TRUE(reference_is_digest(":"));
  EXPECT_FALSE(reference_is_digest("latest"));
  EXPECT_FALSE(reference_is_digest(""));
  // Every valid tag is read as a tag.
  EXPECT_FALSE(reference_is_digest("v1.0_rc-1"));
}

}  // namespace
}  // namespace berth
