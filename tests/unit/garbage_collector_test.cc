// GarbageCollector over the real stores with a fake clock: which blob bytes a
// pass deletes (unreferenced, older than the grace period), which it keeps
// (referenced, young), and the untagged-manifest option.
#include "registry/garbage_collector.h"

#include <gtest/gtest.h>

#include <string>

#include "fake_clock_stores.h"

namespace berth::jobs_test {
namespace {

constexpr int64_t kGrace = 3600;

class GarbageCollectorTest : public FakeClockStores {
 protected:
  GcReport run(bool dry_run = false) {
    GarbageCollector gc(*meta_, *blobs_, clock_);
    GcOptions options;
    options.grace_seconds = kGrace;
    options.dry_run = dry_run;
    auto report = gc.run(options);
    EXPECT_TRUE(report.is_ok()) << report.status().to_string();
    return report.is_ok() ? *report : GcReport{};
  }

  void tag_for_untagged_gc(const RepositoryRecord& r) {
    ASSERT_TRUE(meta_->set_resource_tags(r.id, {{std::string(kGcUntaggedTag), "true"}}).is_ok());
  }
};

TEST_F(GarbageCollectorTest, DeletesUnreferencedBlobsOnlyOnceOlderThanTheGrace) {
  RepositoryRecord r = create_repository("gc/basic");
  const Digest image = push_image(r, "kept", "latest");
  const std::string orphan_bytes = "an orphan layer nobody refers to";
  const Digest orphan = push_blob(r, orphan_bytes).digest;
  clock_.advance_seconds(3000);
  const Digest young = push_blob(r, "a layer pushed later").digest;

  // Within the grace period of everything: nothing goes.
  clock_.set_seconds(kStart + kGrace - 1);
  GcReport early = run();
  EXPECT_EQ(early.reclaimed_blobs, 0u);
  EXPECT_TRUE(blob_stored(orphan));

  // The orphan's grace is over, the young blob's is not.
  clock_.set_seconds(kStart + kGrace + 1);
  GcReport report = run();
  EXPECT_EQ(report.reclaimed_blobs, 1u);
  EXPECT_EQ(report.reclaimed_bytes, static_cast<int64_t>(orphan_bytes.size()));
  EXPECT_FALSE(blob_stored(orphan));
  EXPECT_FALSE(blob_linked(r, orphan));
  EXPECT_TRUE(blob_stored(young));
  EXPECT_TRUE(blob_linked(r, young));
  // Referenced blobs stay, whatever their age.
  EXPECT_TRUE(blob_stored(Digest::of(config_of("kept"))));
  EXPECT_TRUE(blob_stored(Digest::of(layer_of("kept"))));
  EXPECT_TRUE(has_manifest(r, image));

  clock_.set_seconds(kStart + 3000 + kGrace + 1);
  EXPECT_EQ(run().reclaimed_blobs, 1u);
  EXPECT_FALSE(blob_stored(young));
  EXPECT_TRUE(blob_stored(Digest::of(layer_of("kept"))));
}

TEST_F(GarbageCollectorTest, BlobsOfADeletedManifestGoAfterTheGrace) {
  RepositoryRecord r = create_repository("gc/deleted");
  const Digest image = push_image(r, "short-lived");
  const Digest other = push_image(r, "shares nothing", "keep");
  clock_.advance_seconds(kGrace + 10);
  EXPECT_EQ(run().reclaimed_blobs, 0u) << "all referenced";

  ASSERT_TRUE(registry_->delete_manifest(r, image.str()).is_ok());
  clock_.advance_seconds(10);
  GcReport report = run();
  EXPECT_EQ(report.reclaimed_blobs, 2u);
  EXPECT_FALSE(blob_stored(Digest::of(config_of("short-lived"))));
  EXPECT_FALSE(blob_stored(Digest::of(layer_of("short-lived"))));
  EXPECT_TRUE(blob_stored(Digest::of(config_of("shares nothing"))));
  EXPECT_TRUE(has_manifest(r, other));
}

TEST_F(GarbageCollectorTest, ABlobAnotherRepositoryStillUsesStays) {
  RepositoryRecord a = create_repository("gc/share-a");
  RepositoryRecord b = create_repository("gc/share-b");
  const Digest in_a = push_image(a, "shared");
  push_image(b, "shared", "v1");
  ASSERT_TRUE(registry_->delete_manifest(a, in_a.str()).is_ok());
  clock_.advance_seconds(kGrace + 1);
  run();
  EXPECT_TRUE(blob_stored(Digest::of(layer_of("shared"))));
  EXPECT_TRUE(blob_linked(b, Digest::of(layer_of("shared"))));
}

TEST_F(GarbageCollectorTest, DryRunReportsWhatWouldGoAndDeletesNothing) {
  RepositoryRecord r = create_repository("gc/dry");
  const std::string bytes = "dry-run orphan";
  const Digest orphan = push_blob(r, bytes).digest;
  clock_.advance_seconds(kGrace + 1);
  GcReport dry = run(/*dry_run=*/true);
  EXPECT_EQ(dry.reclaimed_blobs, 1u);
  EXPECT_EQ(dry.reclaimed_bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_TRUE(blob_stored(orphan));
  EXPECT_TRUE(blob_linked(r, orphan));
  EXPECT_EQ(run().reclaimed_blobs, 1u);
  EXPECT_FALSE(blob_stored(orphan));
}

TEST_F(GarbageCollectorTest, UntaggedManifestsGoOnlyInRepositoriesThatAskForIt) {
  RepositoryRecord opted = create_repository("gc/untagged");
  RepositoryRecord plain = create_repository("gc/plain");
  tag_for_untagged_gc(opted);
  const Digest untagged = push_image(opted, "untagged");
  const Digest tagged = push_image(opted, "tagged", "v1");
  const Digest child = push_image(opted, "child of a tagged index");
  const Digest index = push_index(opted, {child}, "multi");
  const Digest referrer = push_image(opted, "signature", "", tagged);
  const Digest untagged_plain = push_image(plain, "untagged elsewhere");
  clock_.advance_seconds(3000);
  const Digest young_untagged = push_image(opted, "young untagged");

  clock_.set_seconds(kStart + kGrace + 1);
  GcReport report = run();
  EXPECT_EQ(report.untagged_manifests, 1u);
  EXPECT_FALSE(has_manifest(opted, untagged));
  EXPECT_TRUE(has_manifest(opted, tagged));
  EXPECT_TRUE(has_manifest(opted, child)) << "listed by a tagged index";
  EXPECT_TRUE(has_manifest(opted, index));
  EXPECT_TRUE(has_manifest(opted, referrer)) << "a referrer of a manifest present";
  EXPECT_TRUE(has_manifest(opted, young_untagged)) << "younger than the grace";
  EXPECT_TRUE(has_manifest(plain, untagged_plain)) << "the repository did not opt in";
  // Its blobs go in the same pass: the manifest went before the blobs were examined.
  EXPECT_EQ(report.reclaimed_blobs, 2u);
  EXPECT_FALSE(blob_stored(Digest::of(config_of("untagged"))));
  EXPECT_FALSE(blob_stored(Digest::of(layer_of("untagged"))));
  EXPECT_TRUE(blob_stored(Digest::of(layer_of("untagged elsewhere"))));

  // Dry run counts without deleting.
  clock_.set_seconds(kStart + 3000 + kGrace + 1);
  GcReport dry = run(/*dry_run=*/true);
  EXPECT_EQ(dry.untagged_manifests, 1u);
  EXPECT_TRUE(has_manifest(opted, young_untagged));
}

TEST_F(GarbageCollectorTest, FinishesADeletionACrashInterrupted) {
  RepositoryRecord r = create_repository("gc/crash");
  const Digest orphan = push_blob(r, "claimed, then the collector crashed").digest;
  clock_.advance_seconds(kGrace + 1);
  // A previous pass claimed it and died before deleting the bytes.
  auto claimed = meta_->gc_claim(orphan, clock_.now_seconds() - kGrace,
                                 clock_.now_seconds() - kGrace, false, clock_.now_seconds());
  ASSERT_TRUE(claimed.is_ok());
  ASSERT_TRUE(claimed->has_value());
  ASSERT_TRUE(blob_stored(orphan));
  // Once the claim is older than stale_write_seconds (default 1h), it is
  // taken to be a dead pass's, and the next pass finishes it.
  clock_.advance_seconds(GcOptions{}.stale_write_seconds + 1);
  run();
  EXPECT_FALSE(blob_stored(orphan));
  EXPECT_TRUE(meta_->gc_pending()->empty());
  EXPECT_TRUE(meta_->link_blob(r.id, orphan, 1, clock_.now_seconds()).is_ok())
      << "no longer pending deletion";
}

// Two passes at once (two nodes, or `berth gc` beside the server's job): a
// deletion the other pass claimed moments ago is its business. Finishing it
// too would let that pass, still running, remove bytes uploaded again after
// this one had released the digest.
TEST_F(GarbageCollectorTest, LeavesADeletionAnotherPassJustClaimedToThatPass) {
  RepositoryRecord r = create_repository("gc/concurrent");
  const Digest orphan = push_blob(r, "claimed by a pass that is still deleting it").digest;
  clock_.advance_seconds(kGrace + 1);
  auto claimed = meta_->gc_claim(orphan, clock_.now_seconds() - kGrace,
                                 clock_.now_seconds() - kGrace, false, clock_.now_seconds());
  ASSERT_TRUE(claimed.is_ok());
  ASSERT_TRUE(claimed->has_value());
  clock_.advance_seconds(5);
  EXPECT_EQ(run().reclaimed_blobs, 0u);
  EXPECT_TRUE(blob_stored(orphan)) << "this pass deleted the other pass's claimed blob";
  auto pending = meta_->gc_pending();
  ASSERT_TRUE(pending.is_ok());
  ASSERT_EQ(pending->size(), 1u) << "the claim is still the other pass's to finish";
  // The other pass finishes: bytes, then the claim.
  ASSERT_TRUE(blobs_->remove(orphan).is_ok());
  ASSERT_TRUE(meta_->gc_release(orphan).is_ok());
  EXPECT_TRUE(meta_->gc_pending()->empty());
}

TEST_F(GarbageCollectorTest, EnqueueUnlinkedFindsBlobsNoRepositoryLinks) {
  RepositoryRecord r = create_repository("gc/scan");
  const Digest image = push_image(r, "linked", "v1");
  // Bytes stored without a link (a crash between storing and linking).
  const std::string stray = "stray bytes";
  ASSERT_TRUE(blobs_->create_upload("stray-upload").is_ok());
  {
    auto a = blobs_->append_upload("stray-upload");
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->append(stray.data(), stray.size()).is_ok());
    ASSERT_TRUE((*a)->flush().is_ok());
  }
  ASSERT_TRUE(blobs_->commit_upload("stray-upload", Digest::of(stray)).is_ok());
  clock_.advance_seconds(kGrace + 1);
  EXPECT_EQ(run().reclaimed_blobs, 0u) << "nothing queued it";
  EXPECT_TRUE(blob_stored(Digest::of(stray)));

  GarbageCollector gc(*meta_, *blobs_, clock_);
  auto queued = gc.enqueue_unlinked();
  ASSERT_TRUE(queued.is_ok()) << queued.status().to_string();
  EXPECT_EQ(*queued, 3u);
  GcReport report = run();
  EXPECT_EQ(report.reclaimed_blobs, 1u);
  EXPECT_EQ(report.reclaimed_bytes, static_cast<int64_t>(stray.size()));
  EXPECT_FALSE(blob_stored(Digest::of(stray)));
  EXPECT_TRUE(blob_stored(Digest::of(layer_of("linked"))));
  EXPECT_TRUE(has_manifest(r, image));
}

}  // namespace
}  // namespace berth::jobs_test
