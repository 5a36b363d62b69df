// berth's SBOM referrer (registry/sbom_referrer.h) over the real stores: the
// manifest it builds, publishing as a system write (no event, no
// scan-on-push hook), determinism and replacement, and referrers following
// their subject when it is deleted.
#include "registry/sbom_referrer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/events.h"
#include "core/manifest.h"
#include "registry/lifecycle_runner.h"
#include "registry/registry.h"
#include "scan/sbom.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {

scan::Inventory alpine(std::string musl_version) {
  scan::Inventory inv;
  inv.os = scan::OsRelease{"alpine", "3.18.4", "", "Alpine Linux v3.18"};
  const std::vector<std::pair<std::string, std::string>> packages = {
      {"busybox", "1.36.1-r2"}, {"musl", std::move(musl_version)}};
  for (const auto& [name, version] : packages) {
    scan::InstalledPackage p;
    p.kind = scan::PackageKind::kApk;
    p.name = name;
    p.version = version;
    p.source_name = name;
    p.source_version = version;
    p.architecture = "x86_64";
    inv.packages.push_back(p);
  }
  return inv;
}

class SbomReferrerTest : public unit::RegistryFixture {
 protected:
  void SetUp() override {
    options_.record_events = true;
    options_.after_manifest_put = [this](const RepositoryRecord&, const ManifestRecord&) {
      ++hooked_;
    };
    ASSERT_NO_FATAL_FAILURE(RegistryFixture::SetUp());
    NewRepository r;
    r.account = kAccount;
    r.name = "team/app";
    r.tag_mutability = "IMMUTABLE";
    auto created = registry_->create_repository(r);
    ASSERT_TRUE(created.is_ok()) << created.status().to_string();
    repo_ = *created;
    publisher_ = std::make_unique<SbomPublisher>(*registry_);
  }

  void TearDown() override {
    publisher_.reset();
    RegistryFixture::TearDown();
  }

  // Pushes an image tagged `tag` (its seed too) to repo_; returns its record.
  ManifestRecord push_image(const std::string& tag) {
    return stored_manifest(repo_, RegistryFixture::push_image(repo_, tag, tag));
  }

  std::vector<ReferrerRecord> sboms(const Digest& subject) {
    auto r = registry_->list_referrers(repo_, subject, scan::kSbomArtifactType);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : std::vector<ReferrerRecord>{};
  }

  size_t events() {
    auto e = meta_->undelivered_events("test", 0, 1000);
    EXPECT_TRUE(e.is_ok());
    return e.is_ok() ? e->size() : 0;
  }

  // The image digests of the undelivered events of `detail_type` with
  // `action` as their action-type.
  std::multiset<std::string> event_digests(std::string_view detail_type, std::string_view action) {
    std::multiset<std::string> out;
    auto e = meta_->undelivered_events("test", 0, 1000);
    EXPECT_TRUE(e.is_ok());
    if (!e.is_ok()) return out;
    for (const OutboxEvent& event : *e) {
      if (event.detail_type != detail_type) continue;
      auto detail = boost::json::parse(event.detail).as_object();
      if (detail.at("action-type").as_string() != action) continue;
      out.insert(std::string(detail.at("image-digest").as_string()));
    }
    return out;
  }

  std::unique_ptr<SbomPublisher> publisher_;
  RepositoryRecord repo_;
  int hooked_ = 0;
};

TEST(SbomReferrerManifest, IsAnOciArtifactWithTheEmptyConfigAndTheImageAsSubject) {
  ManifestRecord image;
  image.media_type = std::string(media_type::kOciManifest);
  image.bytes = R"({"schemaVersion":2})";
  image.digest = Digest::of(image.bytes);
  const Digest sbom = Digest::of("sbom");
  const std::string bytes = sbom_referrer_manifest(image, sbom, 4, 1'700'000'000'123);
  EXPECT_EQ(bytes, sbom_referrer_manifest(image, sbom, 4, 1'700'000'000'123));

  auto parsed = parse_manifest(bytes, media_type::kOciManifest);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->artifact_type, scan::kSbomArtifactType);
  ASSERT_TRUE(parsed->config.has_value());
  EXPECT_EQ(parsed->config->media_type, media_type::kOciEmpty);
  EXPECT_EQ(parsed->config->digest, Digest::of("{}"));
  EXPECT_EQ(parsed->config->size, 2);
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->layers[0].media_type, scan::kSbomArtifactType);
  EXPECT_EQ(parsed->layers[0].digest, sbom);
  EXPECT_EQ(parsed->layers[0].size, 4);
  ASSERT_TRUE(parsed->subject.has_value());
  EXPECT_EQ(parsed->subject->digest, image.digest);
  EXPECT_EQ(parsed->subject->media_type, media_type::kOciManifest);
  EXPECT_EQ(parsed->subject->size, static_cast<int64_t>(image.bytes.size()));
  EXPECT_EQ(parsed->annotations.at("org.opencontainers.image.created"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(parsed->annotations.at(std::string(kSbomGeneratorAnnotation)), kSbomGenerator);
}

TEST_F(SbomReferrerTest, PublishIsASystemWriteThatIgnoresTagImmutability) {
  ManifestRecord image = push_image("v1");
  const int hooked_before = hooked_;
  const size_t events_before = events();
  auto published = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  ASSERT_TRUE(published.is_ok()) << published.status().to_string();
  EXPECT_EQ(hooked_, hooked_before) << "no scan-on-push for berth's own SBOM";
  EXPECT_EQ(events(), events_before) << "no PUSH event for berth's own SBOM";

  auto listed = sboms(image.digest);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].digest, *published);
  EXPECT_TRUE(is_generated_sbom(listed[0]));
  auto stored = registry_->get_manifest(repo_, published->str());
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  auto parsed = parse_manifest(stored->bytes, stored->media_type);
  ASSERT_TRUE(parsed.is_ok());
  auto sbom = registry_->open_blob(repo_, parsed->layers[0].digest);
  ASSERT_TRUE(sbom.is_ok()) << sbom.status().to_string();
  EXPECT_TRUE(registry_->stat_blob(repo_, Digest::of("{}")).is_ok());
  auto tags = registry_->list_tags(repo_, PageRequest{});
  ASSERT_TRUE(tags.is_ok());
  EXPECT_EQ(tags->items, std::vector<std::string>{"v1"});
}

TEST_F(SbomReferrerTest, TheSameInventoryGivesTheSameSbomAndAnotherReplacesIt) {
  ManifestRecord image = push_image("v1");
  auto first = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  clock_.advance_seconds(3600);  // a rescan later on: the SBOM's times are the image's
  auto again = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(*again, *first);
  ASSERT_EQ(sboms(image.digest).size(), 1u);

  auto changed = publisher_->publish(repo_.id, image, alpine("1.2.4-r2"));
  ASSERT_TRUE(changed.is_ok()) << changed.status().to_string();
  EXPECT_NE(*changed, *first);
  auto listed = sboms(image.digest);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].digest, *changed);
  EXPECT_EQ(registry_->get_manifest(repo_, first->str()).status().code(), Code::kManifestUnknown);
}

TEST_F(SbomReferrerTest, DeletingTheImageDeletesItsReferrers) {
  ManifestRecord image = push_image("v1");
  auto sbom = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  ASSERT_TRUE(sbom.is_ok()) << sbom.status().to_string();
  ManifestRecord other = push_image("v2");
  auto kept = publisher_->publish(repo_.id, other, alpine("1.2.4-r1"));
  ASSERT_TRUE(kept.is_ok());

  ASSERT_TRUE(registry_->delete_manifest(repo_, image.digest.str()).is_ok());
  EXPECT_TRUE(sboms(image.digest).empty());
  EXPECT_EQ(registry_->get_manifest(repo_, sbom->str()).status().code(), Code::kManifestUnknown);
  EXPECT_TRUE(registry_->get_manifest(repo_, kept->str()).is_ok()) << "another image's SBOM stays";

  // BatchDeleteImage by tag: the image goes with its last tag, and its SBOM with it.
  ImageId by_tag;
  by_tag.tag = "v2";
  auto deleted = registry_->batch_delete_images(repo_, {by_tag});
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_TRUE(deleted->failures.empty());
  EXPECT_EQ(registry_->get_manifest(repo_, kept->str()).status().code(), Code::kManifestUnknown);
}

// berth's SBOMs appear in no event: neither a user's delete of their image
// nor a lifecycle expiry of it reports them, while a referrer a user pushed
// (a signature) is reported both ways, as an image of its own.
TEST_F(SbomReferrerTest, AnSbomGoingWithItsImageIsReportedByNoDeleteEvent) {
  ManifestRecord image = push_image("v1");
  auto sbom = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  ASSERT_TRUE(sbom.is_ok()) << sbom.status().to_string();
  const Digest signature = RegistryFixture::push_image(repo_, "sig", "", image.digest);

  ImageId by_digest;
  by_digest.digest = image.digest.str();
  auto deleted = registry_->batch_delete_images(repo_, {by_digest});
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(registry_->get_manifest(repo_, sbom->str()).status().code(), Code::kManifestUnknown);
  EXPECT_EQ(event_digests(kImageActionEvent, "DELETE"),
            (std::multiset<std::string>{image.digest.str(), signature.str()}));
}

TEST_F(SbomReferrerTest, AnSbomExpiringWithItsImageIsReportedByNoLifecycleEvent) {
  ManifestRecord image = push_image("v1");
  auto sbom = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  ASSERT_TRUE(sbom.is_ok()) << sbom.status().to_string();
  const Digest signature = RegistryFixture::push_image(repo_, "sig", "", image.digest);
  ASSERT_TRUE(meta_
                  ->set_lifecycle_policy(
                      repo_.id,
                      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"any",)"
                      R"("countType":"sinceImagePushed","countUnit":"days","countNumber":1},)"
                      R"("action":{"type":"expire"}}]})")
                  .is_ok());
  clock_.advance_seconds(3 * 24 * 3600);

  LifecycleRunner runner(*meta_, clock_);
  runner.record_events(true);
  auto repo = registry_->repository_by_id(repo_.id);
  ASSERT_TRUE(repo.is_ok()) << repo.status().to_string();
  auto expired = runner.enforce(*repo);
  ASSERT_TRUE(expired.is_ok()) << expired.status().to_string();
  EXPECT_EQ(*expired, 3u) << "the image, its SBOM and its signature";
  EXPECT_EQ(registry_->get_manifest(repo_, sbom->str()).status().code(), Code::kManifestUnknown);
  EXPECT_EQ(event_digests(kLifecyclePolicyActionEvent, "EXPIRE"),
            (std::multiset<std::string>{image.digest.str(), signature.str()}));
}

TEST_F(SbomReferrerTest, AnImageDeletedBeforeItsSbomIsStoredGetsNone) {
  ManifestRecord image = push_image("v1");
  ASSERT_TRUE(registry_->delete_manifest(repo_, image.digest.str()).is_ok());
  auto published = publisher_->publish(repo_.id, image, alpine("1.2.4-r1"));
  EXPECT_EQ(published.status().code(), Code::kManifestUnknown);
  EXPECT_TRUE(sboms(image.digest).empty()) << "no dangling SBOM is left behind";
}

}  // namespace
}  // namespace berth
