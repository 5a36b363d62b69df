// MetadataStore conformance, continued: the one-transaction image operations
// ECR's BatchDeleteImage (delete_image) and PutImage (put_manifest with
// refuse_existing) rely on. A ManifestStore role suite (metadata_store_conformance.h);
// include it right after that header, from the same single translation unit.
#pragma once

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace berth::conformance {

TEST_P(ManifestStoreConformance, DeleteImageByTagRemovesOnlyThatTagWhileOthersRemain) {
  auto r = repo("img/tags");
  ManifestRecord m = put_image(r, "two tags", "a");
  ASSERT_TRUE(store().put_manifest(request(r, m, "b", {})).is_ok());
  auto done = store().delete_image(r.id, m.digest, "a");
  ASSERT_TRUE(done.is_ok()) << done.status().to_string();
  EXPECT_EQ(done->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(done->manifest_deleted);
  EXPECT_EQ(tags(r), std::vector<std::string>{"b"});
  EXPECT_EQ(manifest_code(r, m.digest), Code::kOk);
}

TEST_P(ManifestStoreConformance, DeleteImageByLastTagDeletesTheManifest) {
  auto r = repo("img/last");
  ManifestRecord m = put_image(r, "one tag", "only");
  auto done = store().delete_image(r.id, m.digest, "only");
  ASSERT_TRUE(done.is_ok()) << done.status().to_string();
  EXPECT_TRUE(done->manifest_deleted);
  EXPECT_FALSE(done->kept_for_index);
  EXPECT_TRUE(tags(r).empty());
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
}

TEST_P(ManifestStoreConformance, DeleteImageByTagThatPointsElsewhereChangesNothing) {
  auto r = repo("img/moved");
  ManifestRecord old_m = put_image(r, "old", "keep");
  ManifestRecord new_m = put_image(r, "new", "moving");
  auto done = store().delete_image(r.id, old_m.digest, "moving");
  EXPECT_EQ(done.status().code(), Code::kManifestUnknown);
  EXPECT_EQ(tags(r), (std::vector<std::string>{"keep", "moving"}));
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "moving")->digest, new_m.digest);
}

TEST_P(ManifestStoreConformance, DeleteImageByLastTagKeepsAManifestAnIndexLists) {
  auto r = repo("img/listed");
  ManifestRecord child = put_image(r, "child", "child-tag");
  ManifestRecord index = put_index(r, "index", {child.digest});
  auto done = store().delete_image(r.id, child.digest, "child-tag");
  ASSERT_TRUE(done.is_ok()) << done.status().to_string();
  EXPECT_FALSE(done->manifest_deleted);
  ASSERT_TRUE(done->kept_for_index.has_value());
  EXPECT_EQ(*done->kept_for_index, index.digest);
  EXPECT_TRUE(tags(r).empty());  // the tag went, the listed manifest stayed
  EXPECT_EQ(manifest_code(r, child.digest), Code::kOk);
}

TEST_P(ManifestStoreConformance, DeleteImageByDigestDeletesTheManifestWithItsTags) {
  auto r = repo("img/digest");
  ManifestRecord m = put_image(r, "tagged twice", "x");
  ASSERT_TRUE(store().put_manifest(request(r, m, "y", {})).is_ok());
  auto done = store().delete_image(r.id, m.digest, std::nullopt);
  ASSERT_TRUE(done.is_ok()) << done.status().to_string();
  EXPECT_EQ(done->tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(done->manifest_deleted);
  EXPECT_TRUE(tags(r).empty());
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
  EXPECT_EQ(store().delete_image(r.id, m.digest, std::nullopt).status().code(),
            Code::kManifestUnknown);
}

TEST_P(ManifestStoreConformance, DeleteImageByDigestListedByAnIndexChangesNothing) {
  auto r = repo("img/digest-listed");
  ManifestRecord child = put_image(r, "child of index", "c");
  put_index(r, "the index", {child.digest});
  auto done = store().delete_image(r.id, child.digest, std::nullopt);
  EXPECT_EQ(done.status().code(), Code::kManifestReferenced);
  EXPECT_EQ(tags(r), std::vector<std::string>{"c"});
  EXPECT_EQ(manifest_code(r, child.digest), Code::kOk);
}

// Two requests untag the last two tags of one image at once: whichever
// comes second sees itself as the last tag, so the image never survives
// untagged (the half-done state of an untag and a delete in two steps).
TEST_P(ManifestStoreConformance, ConcurrentUntagsOfTheLastTwoTagsDeleteTheImage) {
  for (int round = 0; round < 20; ++round) {
    auto r = repo("img/race" + std::to_string(round));
    ManifestRecord m = put_image(r, "raced " + std::to_string(round), "one");
    ASSERT_TRUE(store().put_manifest(request(r, m, "two", {})).is_ok());
    std::latch start(2);
    std::atomic<int> deleted{0};
    auto untag = [&](const char* tag) {
      start.arrive_and_wait();
      auto done = store().delete_image(r.id, m.digest, std::string_view(tag));
      EXPECT_TRUE(done.is_ok()) << done.status().to_string();
      if (done.is_ok() && done->manifest_deleted) deleted++;
    };
    std::thread a(untag, "one");
    std::thread b(untag, "two");
    a.join();
    b.join();
    EXPECT_EQ(deleted.load(), 1) << "round " << round;
    EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown) << "round " << round;
  }
}

TEST_P(ManifestStoreConformance, PutManifestRefusingExistingRefusesTheSameImageOnly) {
  auto r = repo("img/put");
  ManifestRecord m = put_image(r, "pushed once", "v1");
  PutManifestRequest again = request(r, m, "v1", {});
  again.refuse_existing = true;
  EXPECT_EQ(store().put_manifest(again).code(), Code::kAlreadyExists);
  PutManifestRequest untagged = request(r, m, std::nullopt, {});
  untagged.refuse_existing = true;
  EXPECT_EQ(store().put_manifest(untagged).code(), Code::kAlreadyExists);
  // The same manifest under another tag is a new image id: stored.
  PutManifestRequest other = request(r, m, "v2", {});
  other.refuse_existing = true;
  EXPECT_TRUE(store().put_manifest(other).is_ok());
  EXPECT_EQ(tags(r), (std::vector<std::string>{"v1", "v2"}));
  // A new manifest is stored.
  ManifestRecord fresh = manifest("brand new");
  const Digest blob = linked_blob(r, "config of brand new");
  PutManifestRequest put = request(r, fresh, "v3", {blob});
  put.refuse_existing = true;
  EXPECT_TRUE(store().put_manifest(put).is_ok());
}

// Of concurrent identical PutImage calls exactly one stores the image; the
// others hear that it exists (a check before the put would let several in).
TEST_P(ManifestStoreConformance, ConcurrentIdenticalPutsRefusingExistingStoreOnce) {
  auto r = repo("img/put-race");
  constexpr int kThreads = 6;
  for (int round = 0; round < 5; ++round) {
    ManifestRecord m = manifest("raced put " + std::to_string(round));
    const Digest blob = linked_blob(r, "config of raced put " + std::to_string(round));
    std::latch start(kThreads);
    std::atomic<int> stored{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        PutManifestRequest req = request(r, m, "latest" + std::to_string(round), {blob});
        req.refuse_existing = true;
        start.arrive_and_wait();
        Status s = store().put_manifest(req);
        if (s.is_ok())
          stored++;
        else if (s.code() == Code::kAlreadyExists)
          refused++;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(stored.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), kThreads - 1) << "round " << round;
  }
}

}  // namespace berth::conformance
