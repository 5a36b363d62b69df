// The GcStore conformance suite: garbage-collection candidates and claims. Written against the role
// interface (meta/gc_store.h): the role under test is store(); the other roles only arrange state.
// Include it from exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(GcStoreConformance, LinkingQueuesACandidateOnceAtTheFirstLinkTime) {
  RepositoryRecord r = repo("gc/link");
  const Digest d = linked_blob(r, "a new layer");
  ASSERT_TRUE(blob_links().link_blob(r.id, d, 11, kNow + 50).is_ok());
  auto before = store().gc_candidates(kNow, 100);
  ASSERT_TRUE(before.is_ok());
  EXPECT_FALSE(gc_helpers::has_candidate(*before, d)) << "queued_before is exclusive";
  auto got = store().gc_candidates(kNow + 1, 100);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].digest, d);
  EXPECT_EQ((*got)[0].since, kNow);
}

TEST_P(GcStoreConformance, GcEnqueueIsIdempotentAndCandidatesHonourTheLimit) {
  std::vector<Digest> ds;
  for (int i = 0; i < 5; ++i) ds.push_back(Digest::of("stored " + std::to_string(i)));
  ASSERT_TRUE(store().gc_enqueue(ds, kNow).is_ok());
  ASSERT_TRUE(store().gc_enqueue({ds[0], ds[1]}, kNow + 10).is_ok());
  ASSERT_TRUE(store().gc_enqueue({}, kNow).is_ok());
  auto all = store().gc_candidates(kNow + 100, 100);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 5u);
  for (const auto& c : *all) EXPECT_EQ(c.since, kNow) << c.digest.str();
  auto two = store().gc_candidates(kNow + 100, 2);
  ASSERT_TRUE(two.is_ok());
  EXPECT_EQ(two->size(), 2u);
  EXPECT_TRUE(store().gc_candidates(kNow, 100)->empty());
}

// Calls that take no time (unlink_blob, delete_manifest, expire_manifest,
// delete_repository) queue candidates as of time 0, which every pass sees,
// whatever its clock says.
TEST_P(GcStoreConformance, WhatGoesQueuesItsBlobsAtTimeZero) {
  RepositoryRecord r = repo("gc/goes");
  RepositoryRecord holder = repo("gc/holder");
  ManifestRecord deleted = put_image(r, "deleted");
  ManifestRecord expired = put_image(r, "expired");
  put_image(holder, "unlinked");  // keeps the blob referenced while it is linked in r too
  const Digest unlinked = Digest::of("config of unlinked");
  ASSERT_TRUE(blob_links().link_blob(r.id, unlinked, 18, kNow).is_ok());
  RepositoryRecord doomed = repo("gc/doomed");
  put_image(doomed, "in doomed");
  // Drain the queue: everything queued so far is referenced.
  auto drained = store().gc_drop_referenced([&] {
    std::vector<Digest> all;
    for (const auto& c : gc_helpers::candidates(store())) all.push_back(c.digest);
    return all;
  }());
  ASSERT_TRUE(drained.is_ok());
  ASSERT_TRUE(gc_helpers::candidates(store()).empty());

  ASSERT_TRUE(manifests().delete_manifest(r.id, deleted.digest).is_ok());
  ASSERT_TRUE(lifecycle().expire_manifest(r.id, expired.digest, {}).is_ok());
  ASSERT_TRUE(blob_links().unlink_blob(r.id, unlinked).is_ok());
  ASSERT_TRUE(repositories().delete_repository(doomed.id, true).is_ok());
  auto seen = store().gc_candidates(1, 100);
  ASSERT_TRUE(seen.is_ok());
  for (const Digest& d : {Digest::of("config of deleted"), Digest::of("config of expired"),
                          unlinked, Digest::of("config of in doomed")}) {
    EXPECT_TRUE(gc_helpers::has_candidate(*seen, d)) << d.str();
  }
  for (const auto& c : *seen) EXPECT_EQ(c.since, 0) << c.digest.str();
}

TEST_P(GcStoreConformance, ClaimKeepsABlobAnyManifestRefersTo) {
  RepositoryRecord a = repo("gc/ref-a");
  RepositoryRecord b = repo("gc/ref-b");
  ManifestRecord m = put_image(b, "image in b");
  const Digest cfg = Digest::of("config of image in b");
  ASSERT_TRUE(blob_links().link_blob(a.id, cfg, 20, kNow).is_ok());  // linked, unreferenced, in a
  EXPECT_EQ(gc_helpers::claim_now(store(), cfg), std::nullopt);
  EXPECT_TRUE(gc_helpers::linked(blob_links(), a, cfg));
  EXPECT_TRUE(gc_helpers::linked(blob_links(), b, cfg));
  EXPECT_FALSE(gc_helpers::is_candidate(store(), cfg))
      << "a referenced blob stops being a candidate";
  EXPECT_FALSE(gc_helpers::is_pending(store(), cfg));
  (void)m;
}

TEST_P(GcStoreConformance, ClaimLeavesYoungLinksAloneAndKeepsThemQueued) {
  RepositoryRecord r = repo("gc/young");
  const Digest d = linked_blob(r, "young layer");  // linked at kNow
  auto young = store().gc_claim(d, kNow, kNow + 1'000'000, false, kNow);
  ASSERT_TRUE(young.is_ok());
  EXPECT_EQ(*young, std::nullopt) << "linked at linked_before counts as young";
  EXPECT_TRUE(gc_helpers::linked(blob_links(), r, d));
  EXPECT_TRUE(gc_helpers::is_candidate(store(), d))
      << "it must be looked at again once its grace ends";
  auto old = store().gc_claim(d, kNow + 1, kNow + 1'000'000, false, kNow);
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(*old, std::optional<int64_t>(11));
}

TEST_P(GcStoreConformance, ClaimTakesAnUnreferencedOldBlobFromEveryRepository) {
  RepositoryRecord a = repo("gc/old-a");
  RepositoryRecord b = repo("gc/old-b");
  const Digest d = Digest::of("orphaned layer");
  ASSERT_TRUE(blob_links().link_blob(a.id, d, 14, kNow).is_ok());
  ASSERT_TRUE(blob_links().link_blob(b.id, d, 14, kNow).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(14));
  EXPECT_FALSE(gc_helpers::linked(blob_links(), a, d));
  EXPECT_FALSE(gc_helpers::linked(blob_links(), b, d));
  EXPECT_FALSE(gc_helpers::is_candidate(store(), d));
  EXPECT_TRUE(gc_helpers::is_pending(store(), d));
  EXPECT_TRUE(blob_links().repositories_with_blob(kAccount, d)->empty());

  // While pending deletion, nothing may bring it back.
  EXPECT_EQ(blob_links().link_blob(a.id, d, 14, kNow + 1).code(), Code::kUnavailable);
  EXPECT_EQ(uploads().begin_blob_write(d, kNow + 1).code(), Code::kUnavailable);
  ASSERT_TRUE(uploads().create_upload(UploadRecord{"while-pending", a.id, kNow}).is_ok());
  EXPECT_EQ(uploads().complete_upload(a.id, d, 14, "while-pending", kNow + 1).code(),
            Code::kUnavailable);
  EXPECT_TRUE(uploads().get_upload("while-pending").is_ok())
      << "a refused complete_upload changes nothing";
  EXPECT_FALSE(gc_helpers::linked(blob_links(), a, d));

  // Released, the digest is an ordinary one again.
  ASSERT_TRUE(store().gc_release(d).is_ok());
  EXPECT_FALSE(gc_helpers::is_pending(store(), d));
  EXPECT_TRUE(store().gc_release(d).is_ok()) << "releasing twice is fine";
  EXPECT_TRUE(blob_links().link_blob(a.id, d, 14, kNow + 2).is_ok());
  EXPECT_TRUE(uploads().begin_blob_write(d, kNow + 2).is_ok());
  EXPECT_TRUE(uploads().end_blob_write(d).is_ok());
}

TEST_P(GcStoreConformance, ClaimOfAnUnlinkedCandidateReturnsZero) {
  const Digest d = Digest::of("stored but never linked");
  ASSERT_TRUE(store().gc_enqueue({d}, kNow).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(0));
  EXPECT_TRUE(gc_helpers::is_pending(store(), d));
}

TEST_P(GcStoreConformance, AClaimRecordsTheCallersTimeNotTheWallClock) {
  RepositoryRecord r = repo("gc/when");
  const Digest d = linked_blob(r, "claimed at a fixed time");
  ASSERT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(23));
  auto pending = store().gc_pending();
  ASSERT_TRUE(pending.is_ok()) << pending.status().to_string();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].digest, d);
  EXPECT_EQ((*pending)[0].claimed_at, gc_helpers::kClaimTime);
}

TEST_P(GcStoreConformance, DryRunClaimReportsButChangesNothing) {
  RepositoryRecord r = repo("gc/dry");
  const Digest d = linked_blob(r, "dry layer");
  EXPECT_EQ(gc_helpers::claim_now(store(), d, /*dry_run=*/true), std::optional<int64_t>(9));
  EXPECT_TRUE(gc_helpers::linked(blob_links(), r, d));
  EXPECT_TRUE(gc_helpers::is_candidate(store(), d));
  EXPECT_FALSE(gc_helpers::is_pending(store(), d));
  EXPECT_TRUE(blob_links().link_blob(r.id, d, 9, kNow).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(9));
}

TEST_P(GcStoreConformance, OnlyACandidateCanBeClaimed) {
  RepositoryRecord r = repo("gc/once");
  const Digest d = linked_blob(r, "claimed once");
  ASSERT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(12));
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::nullopt) << "already claimed";
  ASSERT_TRUE(store().gc_release(d).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::nullopt) << "released and never queued again";
}

TEST_P(GcStoreConformance, ConcurrentClaimsOfOneCandidateHaveExactlyOneWinner) {
  constexpr int kBlobs = 16;
  constexpr int kThreads = 6;
  RepositoryRecord r = repo("gc/raced");
  std::vector<Digest> ds;
  for (int i = 0; i < kBlobs; ++i) ds.push_back(linked_blob(r, "raced layer " + std::to_string(i)));
  std::vector<std::vector<std::optional<int64_t>>> got(
      kBlobs, std::vector<std::optional<int64_t>>(kThreads));
  std::atomic<int> errors{0};
  gc_helpers::race(kThreads, [&](int t) {
    for (int i = 0; i < kBlobs; ++i) {
      auto c = store().gc_claim(ds[i], kNow + 1, kNow + 1, false, kNow);
      if (!c.is_ok()) {
        ++errors;
        continue;
      }
      got[i][t] = *c;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kBlobs; ++i) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (got[i][t]) {
        ++winners;
        EXPECT_EQ(*got[i][t], static_cast<int64_t>(("raced layer " + std::to_string(i)).size()));
      }
    }
    EXPECT_EQ(winners, 1) << "blob " << i;
    EXPECT_TRUE(gc_helpers::is_pending(store(), ds[i]));
  }
}

TEST_P(GcStoreConformance, GcDropReferencedDropsExactlyTheReferencedCandidates) {
  RepositoryRecord r = repo("gc/drop");
  put_image(r, "kept image");
  const Digest referenced = Digest::of("config of kept image");
  const Digest loose = linked_blob(r, "loose layer");
  const Digest never_queued = Digest::of("never queued");
  auto dropped = store().gc_drop_referenced({referenced, loose, never_queued});
  ASSERT_TRUE(dropped.is_ok()) << dropped.status().to_string();
  EXPECT_EQ(*dropped, std::vector<Digest>{referenced});
  EXPECT_FALSE(gc_helpers::is_candidate(store(), referenced));
  EXPECT_TRUE(gc_helpers::is_candidate(store(), loose));
  EXPECT_TRUE(gc_helpers::linked(blob_links(), r, referenced))
      << "dropping a candidate touches no link";
  auto again = store().gc_drop_referenced({referenced});
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->empty()) << "no longer a candidate";
}

}  // namespace berth::conformance
