// ManifestCache: served only at the generation it was filled at, only while
// young enough, never across accounts, repositories or references.
#include "registry/manifest_cache.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

ResolvedManifest manifest(const std::string& bytes, RepositoryId repo = 7) {
  ResolvedManifest r;
  r.repository = repo;
  r.manifest.digest = Digest::of(bytes);
  r.manifest.bytes = bytes;
  r.manifest.media_type = "application/vnd.oci.image.manifest.v1+json";
  return r;
}

TEST(ManifestCacheTest, HitAtTheSameGenerationOnly) {
  ManifestCache cache;
  cache.put("acct", "repo", "latest", manifest("one"), 5, 1000);
  auto hit = cache.get("acct", "repo", "latest", 5, 1000);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->manifest.bytes, "one");
  EXPECT_EQ(hit->repository, 7);
  EXPECT_FALSE(
      cache.get("acct", "repo", "latest", 6, 1000).has_value());  // a write committed since
}

TEST(ManifestCacheTest, KeysDoNotBleedIntoEachOther) {
  ManifestCache cache;
  cache.put("acct", "repo", "latest", manifest("one"), 1, 0);
  EXPECT_FALSE(cache.get("other", "repo", "latest", 1, 0).has_value());
  EXPECT_FALSE(cache.get("acct", "repo2", "latest", 1, 0).has_value());
  EXPECT_FALSE(cache.get("acct", "repo", "v1", 1, 0).has_value());
  // The separator keeps ("a", "bc") apart from ("ab", "c").
  cache.put("a", "bc", "x", manifest("two"), 1, 0);
  EXPECT_FALSE(cache.get("ab", "c", "x", 1, 0).has_value());
}

TEST(ManifestCacheTest, ARacingReadFilledAtAnOlderGenerationIsDropped) {
  ManifestCache cache;
  cache.put("acct", "repo", "new", manifest("new"), 9, 0);
  // A read that began before generation 9 finishes late: it must not be kept.
  cache.put("acct", "repo", "old", manifest("old"), 8, 0);
  EXPECT_FALSE(cache.get("acct", "repo", "old", 8, 0).has_value());
  EXPECT_FALSE(cache.get("acct", "repo", "old", 9, 0).has_value());
  EXPECT_TRUE(cache.get("acct", "repo", "new", 9, 0).has_value());
}

TEST(ManifestCacheTest, EntriesAgeOut) {
  ManifestCache::Options o;
  o.max_age_ms = 100;
  ManifestCache cache(o);
  cache.put("acct", "repo", "latest", manifest("one"), 1, 1000);
  EXPECT_TRUE(cache.get("acct", "repo", "latest", 1, 1100).has_value());
  EXPECT_FALSE(cache.get("acct", "repo", "latest", 1, 1101).has_value());
  EXPECT_FALSE(cache.get("acct", "repo", "latest", 1, 999).has_value());  // a clock that went back
}

TEST(ManifestCacheTest, StaysWithinItsBounds) {
  ManifestCache::Options o;
  o.max_entries = 4;
  o.max_bytes = 1000;
  o.max_manifest_bytes = 100;
  ManifestCache cache(o);
  cache.put("acct", "repo", "big", manifest(std::string(101, 'x')), 1, 0);
  EXPECT_FALSE(cache.get("acct", "repo", "big", 1, 0).has_value());
  for (int i = 0; i < 10; ++i) {
    cache.put("acct", "repo", "t" + std::to_string(i), manifest("m" + std::to_string(i)), 1, 0);
    EXPECT_LE(cache.size(), 4u);
  }
  EXPECT_TRUE(cache.get("acct", "repo", "t9", 1, 0).has_value());  // the newest is kept
}

}  // namespace
}  // namespace berth
