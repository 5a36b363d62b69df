// The UsageStore conformance suite: bytes per repository and account. Written against the role
// interface (meta/usage_store.h): the role under test is store(); the other roles only arrange
// state. Include it from exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(UsageStoreConformance, UsageCountsSharedBlobsOncePerRepositoryAndOncePerAccount) {
  RepositoryRecord a = repo("usage/a");
  RepositoryRecord b = repo("usage/b");
  RepositoryRecord empty = repo("usage/empty");
  RepositoryRecord foreign = repo("usage/a", kOtherAccount);
  const Digest shared = Digest::of("shared layer");
  const Digest only_a = Digest::of("layer of a");
  const Digest only_b = Digest::of("layer of b");
  ASSERT_TRUE(blob_links().link_blob(a.id, shared, 100, kNow).is_ok());
  ASSERT_TRUE(blob_links().link_blob(a.id, shared, 100, kNow + 1).is_ok());  // relinked: still once
  ASSERT_TRUE(blob_links().link_blob(a.id, only_a, 200, kNow).is_ok());
  ASSERT_TRUE(blob_links().link_blob(b.id, shared, 100, kNow).is_ok());
  ASSERT_TRUE(blob_links().link_blob(b.id, only_b, 50, kNow).is_ok());
  ASSERT_TRUE(blob_links().link_blob(foreign.id, Digest::of("foreign layer"), 1000, kNow).is_ok());
  const std::string body = "a manifest of 27 bytes.....";
  ASSERT_EQ(body.size(), 27u);
  ManifestRecord m = manifest(body);
  ASSERT_TRUE(manifests().put_manifest(request(a, m, "v1", {shared})).is_ok());
  ASSERT_TRUE(manifests().put_manifest(request(b, m, "v1", {shared})).is_ok());

  auto per_repo = store().repository_usage(kAccount);
  ASSERT_TRUE(per_repo.is_ok()) << per_repo.status().to_string();
  std::map<std::string, int64_t> got;
  for (const auto& u : *per_repo) got[u.name] = u.bytes;
  EXPECT_EQ(got, (std::map<std::string, int64_t>{
                     {"usage/a", 100 + 200 + 27}, {"usage/b", 100 + 50 + 27}, {"usage/empty", 0}}));
  EXPECT_EQ(per_repo->size(), 3u);
  auto total = store().account_usage(kAccount);
  ASSERT_TRUE(total.is_ok()) << total.status().to_string();
  EXPECT_EQ(*total, 100 + 200 + 50 + 27);
  EXPECT_EQ(store().account_usage(kOtherAccount).value(), 1000);
  EXPECT_EQ(store().account_usage("333333333333").value(), 0);
  EXPECT_TRUE(store().repository_usage("333333333333")->empty());
  (void)empty;

  // Unlinking and deleting take their bytes away.
  ASSERT_TRUE(blob_links().unlink_blob(a.id, only_a).is_ok());
  ASSERT_TRUE(manifests().delete_manifest(b.id, m.digest).is_ok());
  EXPECT_EQ(store().account_usage(kAccount).value(), 100 + 50 + 27);
}

}  // namespace berth::conformance
