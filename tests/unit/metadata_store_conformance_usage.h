// The UsageStore conformance suite: bytes per repository and account. Written against the role
// interface (meta/usage_store.h): the role under test is store(); the other roles only arrange
// state. Include it from exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include <tuple>

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

namespace berth::conformance {

TEST_P(UsageStoreConformance, StorageSamplesInARangeCarryTheLastOneBefore) {
  const int64_t h = 3'600'000;
  const int64_t t0 = 1'800'000'000'000;
  ASSERT_TRUE(store()
                  .put_storage_samples({{kAccount, "", t0, 500},
                                        {kAccount, "app", t0, 300},
                                        {kAccount, "app", t0 + h, 400},
                                        {kAccount, "app", t0 + 2 * h, 450},
                                        {kAccount, "db", t0 + 2 * h, 70},
                                        {kOtherAccount, "", t0 + h, 9}})
                  .is_ok());
  // The same key again replaces its bytes.
  ASSERT_TRUE(store().put_storage_samples({{kAccount, "", t0, 510}}).is_ok());

  auto all = store().storage_samples(kAccount, 0, t0 + 10 * h);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  std::vector<std::tuple<std::string, int64_t, int64_t>> got;
  for (const auto& r : *all) {
    EXPECT_EQ(r.account_id, kAccount);
    got.emplace_back(r.repository, r.sampled_at_ms, r.bytes);
  }
  EXPECT_EQ(got, (std::vector<std::tuple<std::string, int64_t, int64_t>>{{"", t0, 510},
                                                                         {"app", t0, 300},
                                                                         {"app", t0 + h, 400},
                                                                         {"app", t0 + 2 * h, 450},
                                                                         {"db", t0 + 2 * h, 70}}));

  // From the middle: per series the last sample before the range still holds.
  auto mid = store().storage_samples(kAccount, t0 + h + 1, t0 + 2 * h);
  ASSERT_TRUE(mid.is_ok()) << mid.status().to_string();
  got.clear();
  for (const auto& r : *mid) got.emplace_back(r.repository, r.sampled_at_ms, r.bytes);
  EXPECT_EQ(got, (std::vector<std::tuple<std::string, int64_t, int64_t>>{{"", t0, 510},
                                                                         {"app", t0 + h, 400}}));

  // Every account.
  auto every = store().storage_samples("", 0, t0 + 10 * h);
  ASSERT_TRUE(every.is_ok());
  EXPECT_EQ(every->size(), 6u);

  // Pruning takes what was sampled before the bound, and only that.
  auto pruned = store().prune_usage(t0 + h);
  ASSERT_TRUE(pruned.is_ok()) << pruned.status().to_string();
  EXPECT_EQ(*pruned, 2u);
  EXPECT_EQ(store().storage_samples(kAccount, 0, t0 + 10 * h)->size(), 3u);
  EXPECT_EQ(store().storage_samples(kOtherAccount, 0, t0 + 10 * h)->size(), 1u);
}

TEST_P(UsageStoreConformance, TransferBucketsAddUp) {
  const int64_t h = 3'600'000;
  const int64_t t0 = 1'800'000'000'000;
  ASSERT_TRUE(store()
                  .add_transfer({{kAccount, "app", t0, 100},
                                 {kAccount, "app", t0, 20},  // the same bucket twice in one call
                                 {kAccount, "app", t0 + h, 7},
                                 {kOtherAccount, "app", t0, 1000}})
                  .is_ok());
  ASSERT_TRUE(
      store().add_transfer({{kAccount, "app", t0, 3}, {kAccount, "db", t0 + 2 * h, 50}}).is_ok());
  ASSERT_TRUE(store().add_transfer({}).is_ok());

  auto rows = store().transfer(kAccount, t0, t0 + 3 * h);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  std::vector<std::tuple<std::string, int64_t, int64_t>> got;
  for (const auto& r : *rows) got.emplace_back(r.repository, r.hour_ms, r.bytes);
  EXPECT_EQ(got, (std::vector<std::tuple<std::string, int64_t, int64_t>>{
                     {"app", t0, 123}, {"app", t0 + h, 7}, {"db", t0 + 2 * h, 50}}));
  // The range is by the hour's start, its end exclusive.
  EXPECT_EQ(store().transfer(kAccount, t0 + h, t0 + 2 * h)->size(), 1u);
  auto every = store().transfer("", t0, t0 + h);
  ASSERT_TRUE(every.is_ok());
  ASSERT_EQ(every->size(), 2u);
  EXPECT_EQ((*every)[0].bytes + (*every)[1].bytes, 1123);

  auto pruned = store().prune_usage(t0 + h);
  ASSERT_TRUE(pruned.is_ok()) << pruned.status().to_string();
  EXPECT_EQ(*pruned, 2u);
  EXPECT_EQ(store().transfer("", 0, t0 + 3 * h)->size(), 2u);
}

}  // namespace berth::conformance
