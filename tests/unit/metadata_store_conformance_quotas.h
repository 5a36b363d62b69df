// The QuotaStore conformance suite: storage quotas and their enforcement in the writes that add
// bytes (link_blob, complete_upload, put_manifest). Written against the role interface
// (meta/quota_store.h): the role under test is store(); the other roles arrange state and do the
// writes the quotas guard. Include it from exactly one translation unit, after
// metadata_store_conformance.h.
#pragma once

#include <atomic>

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(QuotaStoreConformance, SetListAndClearPerAccountAndRepository) {
  ASSERT_TRUE(store().set_quota(kAccount, "app/x", 100).is_ok());
  ASSERT_TRUE(store().set_quota(kAccount, std::nullopt, 1000).is_ok());
  ASSERT_TRUE(store().set_quota(kOtherAccount, "app/x", 5).is_ok());
  ASSERT_TRUE(store().set_quota(kAccount, "app/x", 200).is_ok());  // replaces
  EXPECT_EQ(store().set_quota(kAccount, "app/y", -1).code(), Code::kInvalidArgument);

  auto mine = store().list_quotas(std::string_view(kAccount));
  ASSERT_TRUE(mine.is_ok()) << mine.status().to_string();
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_FALSE((*mine)[0].repository.has_value());  // the account's own first
  EXPECT_EQ((*mine)[0].bytes, 1000);
  EXPECT_EQ((*mine)[1].repository, std::optional<std::string>("app/x"));
  EXPECT_EQ((*mine)[1].bytes, 200);
  auto all = store().list_quotas(std::nullopt);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].account_id, kOtherAccount);

  ASSERT_TRUE(store().clear_quota(kAccount, "app/x").is_ok());
  EXPECT_EQ(store().clear_quota(kAccount, "app/x").code(), Code::kNotFound);
  ASSERT_TRUE(store().clear_quota(kAccount, std::nullopt).is_ok());
  EXPECT_TRUE(store().list_quotas(std::string_view(kAccount))->empty());
}

TEST_P(QuotaStoreConformance, RepositoryQuotaAllowsExactlyItsBytesAndFreesOnDelete) {
  RepositoryRecord r = repo("app/x");
  RepositoryRecord other = repo("app/other");
  ASSERT_TRUE(store().set_quota(kAccount, "app/x", 100).is_ok());
  const Digest a = Digest::of("a"), b = Digest::of("b"), c = Digest::of("c");
  ASSERT_TRUE(blob_links().link_blob(r.id, a, 60, kNow).is_ok());
  // 60 + 41 is one byte over: refused, with the quota named, and nothing stored.
  Status over = blob_links().link_blob(r.id, b, 41, kNow);
  EXPECT_EQ(over.code(), Code::kLimitExceeded) << over.to_string();
  EXPECT_EQ(over.message(),
            "storage quota of repository app/x exceeded: 100 bytes allowed, 101 would be stored");
  EXPECT_EQ(blob_links().get_blob_link(r.id, b).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(store().check_blob_quota(r.id, b, 41).code(), Code::kLimitExceeded);
  EXPECT_TRUE(store().check_blob_quota(r.id, b, 40).is_ok());
  // Another repository has no quota.
  EXPECT_TRUE(blob_links().link_blob(other.id, b, 41, kNow).is_ok());
  // Equal to the quota is allowed; a blob already there adds nothing, even at the limit.
  ASSERT_TRUE(blob_links().link_blob(r.id, b, 40, kNow).is_ok());
  EXPECT_TRUE(blob_links().link_blob(r.id, a, 60, kNow + 1).is_ok());
  EXPECT_TRUE(store().check_blob_quota(r.id, a, 60).is_ok());
  EXPECT_EQ(blob_links().link_blob(r.id, c, 1, kNow).code(), Code::kLimitExceeded);
  // A manifest counts its bytes, as UsageStore does.
  ManifestRecord m = manifest("m");
  EXPECT_EQ(manifests().put_manifest(request(r, m, "v1", {a})).code(), Code::kLimitExceeded);
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
  // Unlinking frees exactly what it took: the measure is the live one.
  ASSERT_TRUE(blob_links().unlink_blob(r.id, b).is_ok());
  ASSERT_TRUE(manifests().put_manifest(request(r, m, "v1", {a})).is_ok());  // 60 + 1
  ASSERT_TRUE(blob_links().link_blob(r.id, c, 39, kNow).is_ok());           // 100
  EXPECT_EQ(usage().repository_usage(kAccount)->front().bytes, 41);         // app/other
  ASSERT_TRUE(manifests().put_manifest(request(r, m, "v2", {a})).is_ok());  // same manifest: free
  // Deleting the manifest frees its byte.
  ASSERT_TRUE(manifests().delete_manifest(r.id, m.digest).is_ok());
  EXPECT_TRUE(store().check_blob_quota(r.id, Digest::of("d"), 1).is_ok());
  EXPECT_EQ(store().check_blob_quota(r.id, Digest::of("d"), 2).code(), Code::kLimitExceeded);
}

TEST_P(QuotaStoreConformance, QuotaFollowsTheRepositoryName) {
  // Set before the repository exists; the upload completion path is guarded too.
  ASSERT_TRUE(store().set_quota(kAccount, "later", 10).is_ok());
  RepositoryRecord r = repo("later");
  const Digest d = Digest::of("eleven bytes");
  ASSERT_TRUE(uploads().create_upload(UploadRecord{"u1", r.id, kNow}).is_ok());
  EXPECT_EQ(uploads().complete_upload(r.id, d, 11, "u1", kNow).code(), Code::kLimitExceeded);
  EXPECT_TRUE(uploads().get_upload("u1").is_ok());  // nothing changed
  EXPECT_TRUE(uploads().complete_upload(r.id, d, 10, "u1", kNow).is_ok());
  // The same name in another account is not limited.
  RepositoryRecord foreign = repo("later", kOtherAccount);
  EXPECT_TRUE(blob_links().link_blob(foreign.id, d, 11, kNow).is_ok());
}

TEST_P(QuotaStoreConformance, AccountQuotaCountsASharedBlobOnce) {
  RepositoryRecord a = repo("acct/a");
  RepositoryRecord b = repo("acct/b");
  ASSERT_TRUE(store().set_quota(kAccount, std::nullopt, 100).is_ok());
  const Digest shared = Digest::of("shared");
  ASSERT_TRUE(blob_links().link_blob(a.id, shared, 70, kNow).is_ok());
  ASSERT_TRUE(blob_links().link_blob(b.id, shared, 70, kNow).is_ok());  // already in the account
  ASSERT_TRUE(blob_links().link_blob(b.id, Digest::of("own"), 30, kNow).is_ok());  // 100
  Status over = blob_links().link_blob(a.id, Digest::of("more"), 1, kNow);
  EXPECT_EQ(over.code(), Code::kLimitExceeded);
  EXPECT_EQ(over.message(),
            "storage quota of account 111111111111 exceeded: 100 bytes allowed, 101 would be "
            "stored");
  // A manifest present in one repository is already in the account.
  ASSERT_TRUE(blob_links().unlink_blob(b.id, Digest::of("own")).is_ok());
  ManifestRecord m = manifest(std::string(30, 'm'));
  ASSERT_TRUE(manifests().put_manifest(request(a, m, "v1", {shared})).is_ok());  // 100
  EXPECT_TRUE(manifests().put_manifest(request(b, m, "v1", {shared})).is_ok());
  EXPECT_EQ(usage().account_usage(kAccount).value(), 100);
  // Another account's quota does not apply.
  RepositoryRecord foreign = repo("acct/a", kOtherAccount);
  EXPECT_TRUE(blob_links().link_blob(foreign.id, Digest::of("x"), 1000, kNow).is_ok());
  // Both quotas apply together: the repository's is the tighter here.
  ASSERT_TRUE(store().set_quota(kAccount, std::nullopt, 1000).is_ok());
  ASSERT_TRUE(store().set_quota(kAccount, "acct/b", 110).is_ok());
  EXPECT_EQ(blob_links().link_blob(b.id, Digest::of("y"), 11, kNow).code(), Code::kLimitExceeded);
  EXPECT_TRUE(blob_links().link_blob(b.id, Digest::of("y"), 10, kNow).is_ok());
}

TEST_P(QuotaStoreConformance, ConcurrentPushesCannotTogetherExceedTheQuota) {
  RepositoryRecord a = repo("race/a");
  RepositoryRecord b = repo("race/b");
  ASSERT_TRUE(store().set_quota(kAccount, std::nullopt, 50).is_ok());
  constexpr int kThreads = 8;
  std::atomic<int> linked{0};
  std::atomic<int> refused{0};
  gc_helpers::race(kThreads, [&](int i) {
    // Each adds 10 distinct bytes to one of two repositories: only 5 fit.
    const RepositoryRecord& r = i % 2 == 0 ? a : b;
    Status s = blob_links().link_blob(r.id, Digest::of("race " + std::to_string(i)), 10, kNow);
    if (s.is_ok()) {
      ++linked;
    } else {
      EXPECT_EQ(s.code(), Code::kLimitExceeded) << s.to_string();
      ++refused;
    }
  });
  EXPECT_EQ(linked.load(), 5);
  EXPECT_EQ(refused.load(), kThreads - 5);
  EXPECT_EQ(usage().account_usage(kAccount).value(), 50);
}

}  // namespace berth::conformance
