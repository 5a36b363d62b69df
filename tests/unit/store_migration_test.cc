// StoreMigration between two real registries on temporary directories
// (SqliteMetadataStore + SqliteIdentityStore + FsBlobStore on each side): what
// it copies, the order it needs (blobs before links, children before their
// index), a corrupt source blob, reruns, and the dry run.
#include "registry/store_migration.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/clock.h"
#include "registry/registry.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {

constexpr char kManifestType[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kIndexType[] = "application/vnd.oci.image.index.v1+json";

std::string descriptor(const char* media_type, const std::string& data) {
  return fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}}})", media_type,
                     Digest::of(data).str(), data.size());
}

class StoreMigrationTest : public unit::RegistryFixture {
 protected:
  // The source is the fixture's stores (and the registry over them); the
  // target is `to_`.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(open_stores({.synchronous_full = false, .identity = true}));
    ASSERT_NO_FATAL_FAILURE(
        to_.open("berth-migrate-to", {.synchronous_full = false, .identity = true}));
    // Repositories are found account by account, as berth always has them.
    ASSERT_TRUE(identity_->create_account({kAccount, "main", 10}).is_ok());
    registry_clock_ = &Clock::system();
    options_.create_repository_on_push = true;
    registry_ = node();
    auto repo = registry_->repository_for_push(kAccount, "team/app");
    ASSERT_TRUE(repo.is_ok());
    repo_ = *repo;
  }
  void TearDown() override {
    RegistryFixture::TearDown();
    to_.close();
  }

  // An image of one layer, pushed by tag (by its digest when `reference` is
  // empty); returns its manifest bytes. This suite's own images (and index
  // below), in place of the fixture's.
  std::string push_image(const std::string& reference, const std::string& layer,
                         const std::string& subject = "") {
    const std::string config = fmt::format(R"({{"architecture":"amd64","os":"linux","x":"{}"}})",
                                           Digest::of(layer).hex().substr(0, 8));
    put_blob(repo_, config);
    put_blob(repo_, layer);
    std::string bytes =
        fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]{}}})",
                    kManifestType, descriptor("application/vnd.oci.image.config.v1+json", config),
                    descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer),
                    subject.empty() ? "" : ",\"subject\":" + descriptor(kManifestType, subject));
    auto put = registry_->put_manifest(
        repo_, reference.empty() ? Digest::of(bytes).str() : reference, bytes, kManifestType);
    EXPECT_TRUE(put.is_ok()) << put.status().to_string();
    return bytes;
  }

  std::string push_index(const std::string& tag, const std::vector<std::string>& children) {
    std::string entries;
    for (const auto& c : children)
      entries += (entries.empty() ? "" : ",") + descriptor(kManifestType, c);
    std::string bytes = fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}})",
                                    kIndexType, entries);
    auto put = registry_->put_manifest(repo_, tag, bytes, kIndexType);
    EXPECT_TRUE(put.is_ok()) << put.status().to_string();
    return bytes;
  }

  Result<MigrationReport> migrate(MigrationOptions options = {}) {
    StoreMigration migration({*meta_, *identity_, *blobs_}, {*to_.meta, *to_.identity, *to_.blobs},
                             std::move(options));
    return migration.run();
  }

  unit::ScratchStores to_;
  RepositoryRecord repo_;
};

TEST_F(StoreMigrationTest, CopiesRepositoriesManifestsTagsLinksAndSettings) {
  const std::string one = push_image("v1", "layer one");
  const std::string two = push_image("v2", "layer two");
  ASSERT_TRUE(registry_->put_manifest(repo_, "latest", one, kManifestType).is_ok());
  push_index("multi", {one, two});
  push_image("", "signature", one);  // a referrer of `one`, untagged
  RepositoryRecord settings = repo_;
  settings.tag_mutability = "IMMUTABLE";
  settings.tag_mutability_exclusions = {"dev-*"};
  settings.scan_on_push = true;
  ASSERT_TRUE(meta_->update_repository(settings).is_ok());
  ASSERT_TRUE(meta_->set_lifecycle_policy(repo_.id, std::string(R"({"rules":[]})")).is_ok());
  ASSERT_TRUE(meta_->mark_lifecycle_evaluated(repo_.id, 1234).is_ok());
  ASSERT_TRUE(meta_->set_repository_policy(repo_.id, std::string("{\"Statement\":[]}")).is_ok());
  ASSERT_TRUE(meta_->set_resource_tags(repo_.id, {{"env", "prod"}, {"team", "core"}}).is_ok());
  ASSERT_TRUE(meta_->set_registry_policy(kAccount, std::string("{\"r\":1}")).is_ok());

  auto report = migrate();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_TRUE(report->failures.empty()) << report->failures.front();
  EXPECT_EQ(report->repositories, 1u);
  EXPECT_EQ(report->tags, 4u);  // v1, latest, v2, multi
  EXPECT_EQ(report->blobs_present, 0u);

  auto repo = to_.meta->get_repository(kAccount, "team/app");
  ASSERT_TRUE(repo.is_ok());
  EXPECT_EQ(repo->tag_mutability, "IMMUTABLE");
  EXPECT_EQ(repo->tag_mutability_exclusions, std::vector<std::string>{"dev-*"});
  EXPECT_TRUE(repo->scan_on_push);
  EXPECT_EQ(repo->created_at, repo_.created_at);
  EXPECT_EQ(repo->lifecycle_policy, std::optional<std::string>(R"({"rules":[]})"));
  EXPECT_EQ(repo->lifecycle_evaluated_at, std::optional<int64_t>(1234));
  EXPECT_EQ(*to_.meta->get_repository_policy(repo->id),
            std::optional<std::string>("{\"Statement\":[]}"));
  EXPECT_EQ(to_.meta->get_resource_tags(repo->id)->size(), 2u);
  EXPECT_EQ(*to_.meta->get_registry_policy(kAccount), std::optional<std::string>("{\"r\":1}"));

  // Every source manifest, with its bytes, push time and tags; the index lists its children.
  PageRequest all;
  auto source_images = meta_->list_images(repo_.id, all);
  auto dest_images = to_.meta->list_images(repo->id, all);
  ASSERT_TRUE(source_images.is_ok() && dest_images.is_ok());
  ASSERT_EQ(dest_images->size(), source_images->size());
  EXPECT_EQ(dest_images->size(), 4u);
  for (size_t i = 0; i < dest_images->size(); ++i) {
    const auto& s = (*source_images)[i];
    const auto& d = (*dest_images)[i];
    EXPECT_EQ(d.manifest.digest, s.manifest.digest);
    EXPECT_EQ(d.tags, s.tags);
    EXPECT_EQ(d.children, s.children);
    EXPECT_EQ(d.manifest.pushed_at_ms, s.manifest.pushed_at_ms);
    EXPECT_EQ(d.manifest.image_size, s.manifest.image_size);
    auto bytes = to_.meta->get_manifest(repo->id, d.manifest.digest);
    ASSERT_TRUE(bytes.is_ok());
    EXPECT_EQ(bytes->bytes, meta_->get_manifest(repo_.id, s.manifest.digest)->bytes);
  }
  auto referrers = to_.meta->list_referrers(repo->id, Digest::of(one), std::nullopt);
  ASSERT_TRUE(referrers.is_ok());
  ASSERT_EQ(referrers->size(), 1u);

  // Every blob, linked to the repository, bytes intact.
  auto source_blobs = blobs_->list();
  ASSERT_TRUE(source_blobs.is_ok());
  EXPECT_EQ(report->blobs_copied, source_blobs->size());
  for (const Digest& d : *source_blobs) {
    auto size = to_.blobs->stat(d);
    ASSERT_TRUE(size.is_ok()) << d.str();
    EXPECT_EQ(*size, *blobs_->stat(d));
    EXPECT_TRUE(to_.meta->get_blob_link(repo->id, d).is_ok()) << d.str();
  }
  // The index's children were recorded as its references, so the
  // destination refuses to delete one from under it, as the source does.
  EXPECT_EQ(to_.meta->delete_manifest(repo->id, Digest::of(one)).code(), Code::kManifestReferenced);
}

TEST_F(StoreMigrationTest, ARerunCopiesNothingAndLeavesTheSameResult) {
  push_image("v1", "layer one");
  push_image("v2", "layer two");
  auto first = migrate();
  ASSERT_TRUE(first.is_ok());
  ASSERT_TRUE(first->failures.empty());
  // An upload an interrupted run left at the destination.
  ASSERT_TRUE(to_.blobs->create_upload("migrate-left-behind").is_ok());
  // A tag moved at the source between the runs moves at the destination.
  const std::string three = push_image("v1", "layer three");

  auto second = migrate();
  ASSERT_TRUE(second.is_ok());
  EXPECT_TRUE(second->failures.empty());
  EXPECT_EQ(second->blobs_present, first->blobs_copied);
  EXPECT_EQ(second->blobs_copied, 2u);  // layer three and its config
  EXPECT_EQ(second->repositories, 1u);
  auto repo = to_.meta->get_repository(kAccount, "team/app");
  ASSERT_TRUE(repo.is_ok());
  EXPECT_EQ(to_.meta->get_manifest_by_tag(repo->id, "v1")->digest, Digest::of(three));
  auto images = to_.meta->list_images(repo->id, PageRequest{});
  ASSERT_TRUE(images.is_ok());
  EXPECT_EQ(images->size(), 3u);
  EXPECT_EQ(to_.blobs->upload_info("migrate-left-behind").status().code(),
            Code::kBlobUploadUnknown);

  auto third = migrate();
  ASSERT_TRUE(third.is_ok());
  EXPECT_EQ(third->blobs_copied, 0u);
  EXPECT_EQ(third->bytes_copied, 0u);
}

TEST_F(StoreMigrationTest, ACorruptSourceBlobIsReportedAndNotCopied) {
  push_image("good", "good layer");
  const std::string bad_layer = "bad layer, long enough to damage";
  push_image("bad", bad_layer);
  const Digest bad = Digest::of(bad_layer);
  {
    std::fstream f(blobs_->blob_path(bad), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(3);
    f.write("X", 1);
  }
  auto report = migrate();
  ASSERT_TRUE(report.is_ok());
  ASSERT_FALSE(report->failures.empty());
  // Caught on the way in (the source is named as corrupt), never committed
  // at the destination and caught there afterwards.
  bool named = false;
  for (const auto& f : report->failures) {
    named = named || (f.find(bad.str()) != std::string::npos &&
                      f.find("the source blob is corrupt") != std::string::npos);
  }
  EXPECT_TRUE(named) << report->failures.front();
  EXPECT_EQ(to_.blobs->stat(bad).status().code(), Code::kBlobUnknown);
  EXPECT_TRUE(to_.blobs->list_uploads()->empty());  // the aborted copy left nothing
  auto repo = to_.meta->get_repository(kAccount, "team/app");
  ASSERT_TRUE(repo.is_ok());
  EXPECT_TRUE(to_.meta->get_manifest_by_tag(repo->id, "good").is_ok());
  EXPECT_EQ(to_.meta->get_manifest_by_tag(repo->id, "bad").status().code(), Code::kManifestUnknown);
  EXPECT_EQ(to_.meta->get_blob_link(repo->id, bad).status().code(), Code::kBlobUnknown);
}

TEST_F(StoreMigrationTest, IdentitiesWithResealedSecretsAndRevocations) {
  ASSERT_TRUE(identity_->create_user({kAccount, "dev", true, 11}).is_ok());
  ASSERT_TRUE(meta_->put_user_policy(kAccount, "dev", "inline", "{\"p\":1}").is_ok());
  ASSERT_TRUE(meta_
                  ->attach_user_policy(kAccount, "dev",
                                       "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
                  .is_ok());
  AccessKeyRecord live{"AKIALIVE", kAccount, "dev", "sealed-live", true, 12, 0};
  AccessKeyRecord revoked{"AKIAREVOKED", kAccount, "dev", "sealed-revoked", true, 13, 0};
  AccessKeyRecord disabled{"AKIADISABLED", kAccount, "dev", "sealed-disabled", true, 14, 0};
  for (const auto& k : {live, revoked, disabled})
    ASSERT_TRUE(identity_->create_access_key(k).is_ok());
  // Disabled at 500 and enabled again: tokens before 500 stay void.
  ASSERT_TRUE(identity_->set_access_key_active("AKIAREVOKED", false, 500).is_ok());
  ASSERT_TRUE(identity_->set_access_key_active("AKIAREVOKED", true, 500).is_ok());
  ASSERT_TRUE(identity_->set_access_key_active("AKIADISABLED", false, 600).is_ok());

  MigrationOptions options;
  options.reseal_secret = [](const AccessKeyRecord& k) -> Result<std::string> {
    return "resealed:" + k.sealed_secret;
  };
  auto report = migrate(options);
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(report->access_keys, 3u);
  EXPECT_EQ(report->user_policies, 2u);

  auto user = to_.identity->get_user(kAccount, "dev");
  ASSERT_TRUE(user.is_ok());
  EXPECT_TRUE(user->admin);
  EXPECT_EQ(user->created_at, 11);
  auto k1 = to_.identity->get_access_key("AKIALIVE");
  ASSERT_TRUE(k1.is_ok());
  EXPECT_EQ(k1->sealed_secret, "resealed:sealed-live");
  EXPECT_TRUE(k1->active);
  EXPECT_EQ(k1->tokens_not_before, 0);
  auto k2 = to_.identity->get_access_key("AKIAREVOKED");
  ASSERT_TRUE(k2.is_ok());
  EXPECT_TRUE(k2->active);
  EXPECT_EQ(k2->tokens_not_before, 500);
  auto k3 = to_.identity->get_access_key("AKIADISABLED");
  ASSERT_TRUE(k3.is_ok());
  EXPECT_FALSE(k3->active);
  EXPECT_EQ(k3->tokens_not_before, 600);
  EXPECT_EQ(to_.meta->list_user_policies(kAccount, "dev")->size(), 1u);
  EXPECT_EQ(to_.meta->list_attached_user_policies(kAccount, "dev")->size(), 1u);

  // A rerun leaves the keys as they are (no second re-seal of an existing key).
  auto again = migrate(options);
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->failures.empty());
  EXPECT_EQ(to_.identity->get_access_key("AKIALIVE")->sealed_secret, "resealed:sealed-live");
}

TEST_F(StoreMigrationTest, StorageQuotasAreCopiedAfterTheRepositories) {
  push_image("v1", "layer one");
  // Below what the repository holds already: copied first, it would refuse the links.
  ASSERT_TRUE(meta_->set_quota(kAccount, "team/app", 1).is_ok());
  ASSERT_TRUE(meta_->set_quota(kAccount, std::nullopt, 1 << 20).is_ok());
  MigrationOptions dry;
  dry.dry_run = true;
  auto preview = migrate(dry);
  ASSERT_TRUE(preview.is_ok()) << preview.status().to_string();
  EXPECT_EQ(preview->storage_quotas, 2u);  // counted, not written
  EXPECT_TRUE(to_.meta->list_quotas(std::nullopt)->empty());
  auto report = migrate();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_TRUE(report->failures.empty()) << report->failures.front();
  EXPECT_EQ(report->storage_quotas, 2u);
  auto quotas = to_.meta->list_quotas(std::nullopt);
  ASSERT_TRUE(quotas.is_ok());
  ASSERT_EQ(quotas->size(), 2u);
  EXPECT_EQ((*quotas)[0].bytes, 1 << 20);
  EXPECT_EQ((*quotas)[1].repository, std::optional<std::string>("team/app"));
  EXPECT_EQ((*quotas)[1].bytes, 1);
  auto repo = to_.meta->get_repository(kAccount, "team/app");
  ASSERT_TRUE(repo.is_ok());
  EXPECT_EQ(to_.meta->list_images(repo->id, PageRequest{})->size(), 1u);
}

TEST_F(StoreMigrationTest, GroupsWithTheirPoliciesAndMembersAndUserTags) {
  const std::string ro = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
  ASSERT_TRUE(identity_->create_user({kAccount, "dev", false, 11}).is_ok());
  ASSERT_TRUE(identity_->tag_user(kAccount, "dev", {{"team", "core"}}).is_ok());
  ASSERT_TRUE(identity_->create_group({kAccount, "no-prod", 12}).is_ok());
  ASSERT_TRUE(identity_->create_group({kAccount, "empty", 13}).is_ok());
  ASSERT_TRUE(meta_->put_group_policy(kAccount, "no-prod", "deny", "{\"d\":1}").is_ok());
  ASSERT_TRUE(meta_->attach_group_policy(kAccount, "no-prod", ro).is_ok());
  ASSERT_TRUE(identity_->add_user_to_group(kAccount, "no-prod", "dev").is_ok());

  auto report = migrate({});
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(report->groups, 2u);
  EXPECT_EQ(report->group_members, 1u);
  EXPECT_EQ(report->group_policies, 2u);
  EXPECT_EQ(report->user_tags, 1u);
  EXPECT_EQ(to_.identity->get_group(kAccount, "no-prod")->created_at, 12);
  EXPECT_EQ(*to_.identity->list_group_members(kAccount, "no-prod"),
            std::vector<std::string>{"dev"});
  EXPECT_TRUE(to_.identity->list_group_members(kAccount, "empty")->empty());
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*to_.meta->list_group_policies(kAccount, "no-prod"), (Pairs{{"deny", "{\"d\":1}"}}));
  EXPECT_EQ(*to_.meta->list_attached_group_policies(kAccount, "no-prod"),
            std::vector<std::string>{ro});
  EXPECT_EQ(*to_.identity->list_user_tags(kAccount, "dev"), (Pairs{{"team", "core"}}));

  auto again = migrate({});
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->failures.empty()) << again->failures.front();
  EXPECT_EQ(to_.identity->list_groups(kAccount)->size(), 2u);
}

TEST_F(StoreMigrationTest, DryRunCountsAndWritesNothing) {
  push_image("v1", "layer one");
  MigrationOptions options;
  options.dry_run = true;
  auto report = migrate(options);
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(report->blobs_copied, 2u);
  EXPECT_EQ(report->manifests, 1u);
  EXPECT_EQ(report->tags, 1u);
  EXPECT_TRUE(to_.blobs->list()->empty());
  EXPECT_EQ(to_.meta->get_repository(kAccount, "team/app").status().code(), Code::kNameUnknown);
}

}  // namespace
}  // namespace berth
