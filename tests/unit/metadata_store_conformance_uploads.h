// The UploadStore conformance suite: upload sessions, leases, blob writes and complete_upload.
// Written against the role interface (meta/upload_store.h): the role under test is store(); the
// other roles only arrange state. Include it from exactly one translation unit, after
// metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(UploadStoreConformance, Uploads) {
  RepositoryRecord r = repo("uploads");
  ASSERT_TRUE(store().create_upload(UploadRecord{"u-old", r.id, kNow - 100}).is_ok());
  ASSERT_TRUE(store().create_upload(UploadRecord{"u-mid", r.id, kNow - 50}).is_ok());
  ASSERT_TRUE(store().create_upload(UploadRecord{"u-new", r.id, kNow}).is_ok());

  auto got = store().get_upload("u-mid");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, "u-mid");
  EXPECT_EQ(got->repository, r.id);
  EXPECT_EQ(got->started_at, kNow - 50);
  EXPECT_EQ(store().get_upload("u-none").status().code(), Code::kBlobUploadUnknown);

  auto ids = [&](int64_t when) {
    auto before = store().uploads_started_before(when);
    EXPECT_TRUE(before.is_ok());
    std::set<std::string> out;
    for (const auto& u : *before) out.insert(u.id);
    return out;
  };
  EXPECT_EQ(ids(kNow - 100), std::set<std::string>{});  // strictly before
  EXPECT_EQ(ids(kNow - 99), std::set<std::string>{"u-old"});
  EXPECT_EQ(ids(kNow), (std::set<std::string>{"u-old", "u-mid"}));
  EXPECT_EQ(ids(kNow + 1), (std::set<std::string>{"u-old", "u-mid", "u-new"}));

  ASSERT_TRUE(store().delete_upload("u-mid").is_ok());
  EXPECT_EQ(store().get_upload("u-mid").status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(ids(kNow + 1), (std::set<std::string>{"u-old", "u-new"}));
  EXPECT_TRUE(store().get_upload("u-old").is_ok());
}

TEST_P(UploadStoreConformance, UploadLeaseIsExclusiveUntilReleasedOrExpired) {
  RepositoryRecord r = repo("leases");
  ASSERT_TRUE(store().create_upload(UploadRecord{"lease-1", r.id, kNow}).is_ok());

  ASSERT_TRUE(store().acquire_upload_lease("lease-1", "A", kNow, kNow + 60).is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "B", kNow + 1, kNow + 61).code(),
            Code::kBlobUploadInvalid);
  // The holder extends its own lease.
  ASSERT_TRUE(store().acquire_upload_lease("lease-1", "A", kNow + 50, kNow + 120).is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "B", kNow + 100, kNow + 160).code(),
            Code::kBlobUploadInvalid)
      << "the lease was extended to kNow+120";
  // Releasing someone else's lease changes nothing.
  ASSERT_TRUE(store().release_upload_lease("lease-1", "B").is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "B", kNow + 101, kNow + 161).code(),
            Code::kBlobUploadInvalid);
  // Once expired, anyone may take it, and the former holder has lost it.
  ASSERT_TRUE(store().acquire_upload_lease("lease-1", "B", kNow + 121, kNow + 180).is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "A", kNow + 122, kNow + 182).code(),
            Code::kBlobUploadInvalid);
  // Released by its holder, it is free at once.
  ASSERT_TRUE(store().release_upload_lease("lease-1", "B").is_ok());
  EXPECT_TRUE(store().acquire_upload_lease("lease-1", "C", kNow + 123, kNow + 183).is_ok());
  // Leases are per upload.
  ASSERT_TRUE(store().create_upload(UploadRecord{"lease-2", r.id, kNow}).is_ok());
  EXPECT_TRUE(store().acquire_upload_lease("lease-2", "A", kNow + 124, kNow + 184).is_ok());
}

TEST_P(UploadStoreConformance, UploadLeaseOnAnUnknownUploadIsBlobUploadUnknown) {
  RepositoryRecord r = repo("leases-unknown");
  EXPECT_EQ(store().acquire_upload_lease("never", "A", kNow, kNow + 60).code(),
            Code::kBlobUploadUnknown);
  ASSERT_TRUE(store().create_upload(UploadRecord{"gone", r.id, kNow}).is_ok());
  ASSERT_TRUE(store().acquire_upload_lease("gone", "A", kNow, kNow + 60).is_ok());
  ASSERT_TRUE(store().delete_upload("gone").is_ok());
  EXPECT_EQ(store().acquire_upload_lease("gone", "B", kNow + 1, kNow + 60).code(),
            Code::kBlobUploadUnknown);
  (void)store().release_upload_lease("never", "A");
  EXPECT_EQ(store().get_upload("never").status().code(), Code::kBlobUploadUnknown);
}

TEST_P(UploadStoreConformance, ConcurrentLeaseAcquisitionHasExactlyOneWinner) {
  constexpr int kUploads = 12;
  constexpr int kThreads = 6;
  RepositoryRecord r = repo("leases-raced");
  for (int u = 0; u < kUploads; ++u) {
    ASSERT_TRUE(
        store().create_upload(UploadRecord{"race-" + std::to_string(u), r.id, kNow}).is_ok());
  }
  std::vector<std::vector<Code>> codes(kUploads, std::vector<Code>(kThreads, Code::kOk));
  gc_helpers::race(kThreads, [&](int t) {
    for (int u = 0; u < kUploads; ++u) {
      codes[u][t] = store()
                        .acquire_upload_lease("race-" + std::to_string(u),
                                              "holder-" + std::to_string(t), kNow, kNow + 60)
                        .code();
    }
  });
  for (int u = 0; u < kUploads; ++u) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (codes[u][t] == Code::kOk) {
        ++winners;
      } else {
        EXPECT_EQ(codes[u][t], Code::kBlobUploadInvalid) << "upload " << u << " thread " << t;
      }
    }
    EXPECT_EQ(winners, 1) << "upload " << u;
  }
}

TEST_P(UploadStoreConformance, BlobWritesProtectADigestUntilTheLastOneEnds) {
  RepositoryRecord r = repo("gc/writes");
  const Digest d = Digest::of("being written");
  ASSERT_TRUE(gc().gc_enqueue({d}, kNow - 100).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());  // a second writer of the same digest
  auto claim = [&] { return gc().gc_claim(d, kNow + 1'000, kNow, false, kNow); };
  EXPECT_EQ(claim().value(), std::nullopt) << "written since writes_after";
  EXPECT_TRUE(gc_helpers::is_candidate(gc(), d)) << "a blob being written stays queued";
  ASSERT_TRUE(store().end_blob_write(d).is_ok());
  EXPECT_EQ(claim().value(), std::nullopt) << "the other writer has not finished";
  ASSERT_TRUE(store().end_blob_write(d).is_ok());
  EXPECT_EQ(claim().value(), std::optional<int64_t>(0));
  (void)r;
}

TEST_P(UploadStoreConformance, AStaleBlobWriteNoLongerProtects) {
  const Digest d = Digest::of("abandoned write");
  ASSERT_TRUE(gc().gc_enqueue({d}, kNow - 100).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow - 50).is_ok());  // its writer crashed
  EXPECT_EQ(gc().gc_claim(d, kNow, kNow - 50, false, kNow).value(), std::nullopt);
  EXPECT_EQ(gc().gc_claim(d, kNow, kNow - 49, false, kNow).value(), std::optional<int64_t>(0));
}

TEST_P(UploadStoreConformance, CompleteUploadLinksEndsTheWriteAndDeletesTheUpload) {
  RepositoryRecord r = repo("complete");
  const Digest d = Digest::of("uploaded bytes");
  ASSERT_TRUE(store().create_upload(UploadRecord{"up-1", r.id, kNow}).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());
  ASSERT_TRUE(store().complete_upload(r.id, d, 14, "up-1", kNow + 5).is_ok());
  auto link = blob_links().get_blob_link(r.id, d);
  ASSERT_TRUE(link.is_ok());
  EXPECT_EQ(link->size, 14);
  EXPECT_EQ(store().get_upload("up-1").status().code(), Code::kBlobUploadUnknown);
  // Linked at kNow+5: young before that, and queued.
  EXPECT_EQ(gc().gc_claim(d, kNow + 5, 0, true, kNow).value(), std::nullopt);
  EXPECT_TRUE(gc_helpers::is_candidate(gc(), d));
  // The write ended: with the grace over, only the write could protect it.
  EXPECT_EQ(gc().gc_claim(d, kNow + 6, 0, false, kNow).value(), std::optional<int64_t>(14));
}

TEST_P(UploadStoreConformance, ConcurrentCompleteUploadsOfOneDigestLeaveOneLink) {
  constexpr int kThreads = 6;
  RepositoryRecord r = repo("complete/raced");
  const Digest d = Digest::of("same bytes from every client");
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(
        store().create_upload(UploadRecord{"same-" + std::to_string(t), r.id, kNow}).is_ok());
    ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());
  }
  std::vector<Code> codes(kThreads, Code::kInternal);
  gc_helpers::race(kThreads, [&](int t) {
    codes[t] = store().complete_upload(r.id, d, 28, "same-" + std::to_string(t), kNow).code();
  });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(codes[t], Code::kOk) << t;
    EXPECT_EQ(store().get_upload("same-" + std::to_string(t)).status().code(),
              Code::kBlobUploadUnknown);
  }
  EXPECT_EQ(blob_links().repositories_with_blob(kAccount, d).value(),
            std::vector<RepositoryId>{r.id});
  // Every announced write ended.
  EXPECT_EQ(gc().gc_claim(d, kNow + 1, 0, false, kNow).value(), std::optional<int64_t>(28));
}

// complete_upload and a claim of the same digest serialise: either the upload
// finished first (young link, claim refused) or the claim did (upload refused
// with kUnavailable and left in place, nothing linked). Never both, never a
// link to a blob pending deletion.
TEST_P(UploadStoreConformance, CompleteUploadAndClaimOfOneDigestSerialise) {
  constexpr int kRounds = 24;
  RepositoryRecord r = repo("complete/vs-gc");
  int upload_first = 0;
  int claim_first = 0;
  for (int i = 0; i < kRounds; ++i) {
    const Digest d = Digest::of("contended " + std::to_string(i));
    const std::string id = "contended-" + std::to_string(i);
    ASSERT_TRUE(store().create_upload(UploadRecord{id, r.id, kNow}).is_ok());
    ASSERT_TRUE(gc().gc_enqueue({d}, kNow - 10).is_ok());  // e.g. found by a full scan
    Status completed;
    Result<std::optional<int64_t>> claimed = std::optional<int64_t>();
    gc_helpers::race(2, [&](int t) {
      if (t == 0) {
        completed = store().complete_upload(r.id, d, 5, id, kNow);
      } else {
        claimed = gc().gc_claim(d, kNow, kNow + 1'000, false, kNow);
      }
    });
    ASSERT_TRUE(claimed.is_ok()) << claimed.status().to_string();
    if (completed.is_ok()) {
      ++upload_first;
      EXPECT_EQ(*claimed, std::nullopt) << i;
      EXPECT_TRUE(gc_helpers::linked(blob_links(), r, d)) << i;
      EXPECT_FALSE(gc_helpers::is_pending(gc(), d)) << i;
      EXPECT_EQ(store().get_upload(id).status().code(), Code::kBlobUploadUnknown) << i;
    } else {
      ++claim_first;
      EXPECT_EQ(completed.code(), Code::kUnavailable) << completed.to_string();
      EXPECT_TRUE(claimed->has_value()) << i;
      EXPECT_FALSE(gc_helpers::linked(blob_links(), r, d)) << i;
      EXPECT_TRUE(gc_helpers::is_pending(gc(), d)) << i;
      EXPECT_TRUE(store().get_upload(id).is_ok()) << i;
    }
  }
  EXPECT_EQ(upload_first + claim_first, kRounds);
}

}  // namespace berth::conformance
