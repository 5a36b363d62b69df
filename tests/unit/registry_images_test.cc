// The Registry's image, listing, repository and lifecycle functions (the
// application layer both APIs call) over the real stores, with a FakeClock
// (unit::RegistryFixture).
#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "registry/registry.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {

class RegistryImagesTest : public unit::RegistryFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(RegistryFixture::SetUp());
    NewRepository r;
    r.account = kAccount;
    r.name = "team/images";
    auto created = registry_->create_repository(r);
    ASSERT_TRUE(created.is_ok()) << created.status().to_string();
    repo_ = *created;
  }

  static ImageId by_tag(const std::string& t) { return ImageId{std::nullopt, t}; }
  static ImageId by_digest(const Digest& d) { return ImageId{d.str(), std::nullopt}; }

  RepositoryRecord repo_;
};

TEST_F(RegistryImagesTest, ResolveImageReportsEachFailureKind) {
  const Digest d = push_image(repo_, "resolve", "v1");
  auto ok = registry_->resolve_image(repo_, ImageId{d.str(), "v1"});
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->failure, ImageFailure::kNone);
  EXPECT_EQ(ok->manifest->digest, d);
  EXPECT_EQ(registry_->resolve_image(repo_, ImageId{})->failure,
            ImageFailure::kMissingDigestAndTag);
  EXPECT_EQ(registry_->resolve_image(repo_, ImageId{"sha256:zz", std::nullopt})->failure,
            ImageFailure::kInvalidDigest);
  EXPECT_EQ(registry_->resolve_image(repo_, by_tag("-bad"))->failure, ImageFailure::kInvalidTag);
  EXPECT_EQ(registry_->resolve_image(repo_, by_tag("v9"))->failure, ImageFailure::kNotFound);
  EXPECT_EQ(registry_->resolve_image(repo_, ImageId{Digest::of("other").str(), "v1"})->failure,
            ImageFailure::kTagDoesNotMatchDigest);
}

TEST_F(RegistryImagesTest, TagStatusIsParsedOnceForEveryFilter) {
  EXPECT_EQ(*parse_tag_status("TAGGED"), TagStatus::kTagged);
  EXPECT_EQ(*parse_tag_status("UNTAGGED"), TagStatus::kUntagged);
  EXPECT_EQ(*parse_tag_status("ANY"), TagStatus::kAny);
  EXPECT_EQ(parse_tag_status("tagged").status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(tag_status_passes(TagStatus::kUntagged, false));
  EXPECT_FALSE(tag_status_passes(TagStatus::kUntagged, true));
}

TEST_F(RegistryImagesTest, DescribeImagesPagesByDigestAndFilters) {
  push_image(repo_, "a", "a");
  push_image(repo_, "b", "b");
  push_image(repo_, "c", "c");
  ASSERT_TRUE(
      registry_->batch_delete_images(repo_, {by_tag("c")}).is_ok());  // the image goes with its tag
  push_image(repo_, "d", "d");
  auto first = registry_->describe_images(repo_, TagStatus::kTagged, "", 2);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_EQ(first->items.size(), 2u);
  ASSERT_TRUE(first->next_after.has_value());
  auto rest = registry_->describe_images(repo_, TagStatus::kTagged, *first->next_after, 2);
  ASSERT_TRUE(rest.is_ok());
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_FALSE(rest->next_after.has_value());
  EXPECT_LT(first->items[1].manifest.digest.str(), rest->items[0].manifest.digest.str());
  auto none = registry_->describe_images(repo_, TagStatus::kUntagged, "", 10);
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->items.empty());
}

TEST_F(RegistryImagesTest, BatchDeleteByTagUntagsAndTheImageGoesWithItsLastTag) {
  const Digest d = push_image(repo_, "tags", "one");
  auto bytes = registry_->get_manifest(repo_, "one");
  ASSERT_TRUE(bytes.is_ok());
  ASSERT_TRUE(registry_->put_manifest(repo_, "two", bytes->bytes, kOciManifest).is_ok());
  auto first = registry_->batch_delete_images(repo_, {by_tag("one")});
  ASSERT_TRUE(first.is_ok());
  ASSERT_EQ(first->deleted.size(), 1u);
  EXPECT_TRUE(first->failures.empty());
  EXPECT_TRUE(registry_->get_manifest(repo_, d.str()).is_ok());
  auto second = registry_->batch_delete_images(repo_, {by_tag("two")});
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->deleted.size(), 1u);
  EXPECT_EQ(registry_->get_manifest(repo_, d.str()).status().code(), Code::kManifestUnknown);
  auto gone = registry_->batch_delete_images(repo_, {by_tag("two")});
  ASSERT_TRUE(gone.is_ok());
  ASSERT_EQ(gone->failures.size(), 1u);
  EXPECT_EQ(gone->failures[0].failure, ImageFailure::kNotFound);
}

// Two BatchDeleteImage calls untag the last two tags of an image at once.
// Each untag and the delete it may imply is one store transaction, so the
// image never survives without tags.
TEST_F(RegistryImagesTest, ConcurrentUntagsNeverLeaveAnUntaggedImage) {
  for (int round = 0; round < 10; ++round) {
    const std::string seed = "race " + std::to_string(round);
    const Digest d = push_image(repo_, seed, "x" + std::to_string(round));
    auto bytes = registry_->get_manifest(repo_, d.str());
    ASSERT_TRUE(bytes.is_ok());
    ASSERT_TRUE(
        registry_->put_manifest(repo_, "y" + std::to_string(round), bytes->bytes, kOciManifest)
            .is_ok());
    std::latch start(2);
    auto untag = [&](std::string tag) {
      start.arrive_and_wait();
      auto done = registry_->batch_delete_images(repo_, {by_tag(tag)});
      EXPECT_TRUE(done.is_ok());
    };
    std::thread a(untag, "x" + std::to_string(round));
    std::thread b(untag, "y" + std::to_string(round));
    a.join();
    b.join();
    EXPECT_EQ(registry_->get_manifest(repo_, d.str()).status().code(), Code::kManifestUnknown)
        << "round " << round;
  }
}

TEST_F(RegistryImagesTest, PutImageRefusesAnExistingImageAndTagOnly) {
  const Digest d = push_image(repo_, "put", "v1");
  auto bytes = registry_->get_manifest(repo_, "v1");
  ASSERT_TRUE(bytes.is_ok());
  PutImageRequest req{bytes->bytes, kOciManifest, true, "v1", std::nullopt};
  EXPECT_EQ(registry_->put_image(repo_, req).status().code(), Code::kAlreadyExists);
  req.tag.reset();
  EXPECT_EQ(registry_->put_image(repo_, req).status().code(), Code::kAlreadyExists);
  req.tag = "v2";
  auto moved = registry_->put_image(repo_, req);
  ASSERT_TRUE(moved.is_ok()) << moved.status().to_string();
  EXPECT_EQ(moved->digest, d);
  req.digest = Digest::of("something else").str();
  EXPECT_EQ(registry_->put_image(repo_, req).status().code(), Code::kDigestInvalid);
  req.digest = "not a digest";
  EXPECT_EQ(registry_->put_image(repo_, req).status().code(), Code::kInvalidArgument);
}

TEST_F(RegistryImagesTest, PullsAreRecordedAtMostOncePerInterval) {
  const Digest d = push_image(repo_, "pulled", "p");
  auto pull = [&] { return registry_->pull_manifest(kAccount, repo_.name, "p", true); };
  ASSERT_TRUE(pull().is_ok());
  const int64_t first = *registry_->get_manifest(repo_, "p")->last_pulled_at_ms;
  clock_.advance_seconds(10);
  ASSERT_TRUE(registry_->batch_get_images(repo_, {by_digest(d)}, {}).is_ok());
  EXPECT_EQ(*registry_->get_manifest(repo_, "p")->last_pulled_at_ms,
            first);  // throttled, same rule for both APIs
  clock_.advance_seconds(60);
  ASSERT_TRUE(registry_->batch_get_images(repo_, {by_digest(d)}, {}).is_ok());
  EXPECT_EQ(*registry_->get_manifest(repo_, "p")->last_pulled_at_ms, clock_.now_millis());
}

TEST_F(RegistryImagesTest, TagMutabilityFiltersRoundTripThroughTheRepository) {
  auto config = make_tag_mutability_config("IMMUTABLE_WITH_EXCLUSION", {"dev-*", "latest"});
  ASSERT_TRUE(config.is_ok());
  auto updated = registry_->set_tag_mutability(repo_, *config);
  ASSERT_TRUE(updated.is_ok()) << updated.status().to_string();
  auto stored = registry_->repository(kAccount, repo_.name);
  ASSERT_TRUE(stored.is_ok());
  TagMutabilityConfig back = tag_mutability_of(*stored);
  EXPECT_EQ(back.mode, TagMutability::kImmutableWithExclusion);
  EXPECT_EQ(back.exclusion_filters, (std::vector<std::string>{"dev-*", "latest"}));
}

TEST_F(RegistryImagesTest, ResourceTagsMergeAndStayWithinTheLimit) {
  ASSERT_TRUE(registry_->tag_resource(repo_, {{"a", "1"}, {"b", "2"}}).is_ok());
  ASSERT_TRUE(registry_->tag_resource(repo_, {{"a", "3"}}).is_ok());
  EXPECT_EQ(*registry_->resource_tags(repo_), (ResourceTags{{"a", "3"}, {"b", "2"}}));
  ResourceTags many;
  for (int i = 0; i < 49; ++i) many.emplace_back("k" + std::to_string(i), "v");
  EXPECT_EQ(registry_->tag_resource(repo_, many).code(), Code::kLimitExceeded);
  EXPECT_EQ(registry_->resource_tags(repo_)->size(), 2u);  // nothing changed
  ASSERT_TRUE(registry_->untag_resource(repo_, {"a", "zz"}).is_ok());
  EXPECT_EQ(*registry_->resource_tags(repo_), (ResourceTags{{"b", "2"}}));
}

TEST_F(RegistryImagesTest, ListingsPageWithANextKey) {
  for (const char* t : {"t1", "t2", "t3"}) push_image(repo_, t, t);
  auto page = registry_->list_tags(repo_, PageRequest{"", 2});
  ASSERT_TRUE(page.is_ok());
  EXPECT_EQ(page->items, (std::vector<std::string>{"t1", "t2"}));
  ASSERT_TRUE(page->next_after.has_value());
  EXPECT_EQ(*page->next_after, "t2");
  auto last = registry_->list_tags(repo_, PageRequest{"t2", 2});
  EXPECT_EQ(last->items, std::vector<std::string>{"t3"});
  EXPECT_FALSE(last->next_after.has_value());
  auto repos = registry_->list_repositories(kAccount, PageRequest{});
  ASSERT_TRUE(repos.is_ok());
  ASSERT_EQ(repos->items.size(), 1u);
  EXPECT_FALSE(repos->next_after.has_value());
}

TEST_F(RegistryImagesTest, LifecyclePreviewIsStoredAndReadBackTyped) {
  push_image(repo_, "old", "old");
  const std::string policy =
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]})";
  clock_.advance_seconds(5);
  push_image(repo_, "new", "new");
  EXPECT_EQ(registry_->set_lifecycle_policy(repo_, "{not json").code(), Code::kInvalidArgument);
  auto started = registry_->start_lifecycle_preview(repo_, policy);
  ASSERT_TRUE(started.is_ok()) << started.status().to_string();
  auto read = registry_->lifecycle_preview(repo_);
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_EQ(read->status, "COMPLETE");
  ASSERT_EQ(read->entries.size(), 1u);
  EXPECT_EQ(read->entries[0].tags, std::vector<std::string>{"old"});
  EXPECT_EQ(read->entries[0].rule_priority, 1);
  EXPECT_EQ(read->entries[0].pushed_at_ms, started->entries[0].pushed_at_ms);
}

}  // namespace
}  // namespace berth
