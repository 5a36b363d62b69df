// ScanningService's request side (registry/scanning.h) over the real stores:
// the ECR quota on a FakeClock, scan-on-push through the Registry's
// after_manifest_put hook (repository setting and registry rules), and the
// registry scanning configuration's validation. No worker runs here.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <boost/json.hpp>

#include "registry/registry.h"
#include "registry/scanning.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {
namespace json = boost::json;

constexpr int64_t kDaySeconds = 24 * 3600;

class ScanningServiceTest : public unit::RegistryFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(open_stores());
    scanning_ =
        std::make_unique<ScanningService>(*meta_, nullptr, *blobs_, clock_, ScanningOptions{});
    options_.after_manifest_put = [this](const RepositoryRecord& r, const ManifestRecord& m) {
      scanning_->manifest_pushed(r, m);
    };
    registry_ = node();
    repo_ = make_repo("team/app", false);
  }

  void TearDown() override {
    registry_.reset();
    scanning_.reset();
    RegistryFixture::TearDown();
  }

  RepositoryRecord make_repo(const std::string& name, bool scan_on_push) {
    NewRepository r;
    r.account = kAccount;
    r.name = name;
    auto created = registry_->create_repository(r);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    if (!created.is_ok()) return {};
    if (!scan_on_push) return *created;
    auto set = registry_->set_scan_on_push(*created, true);
    EXPECT_TRUE(set.is_ok());
    return set.is_ok() ? *set : RepositoryRecord{};
  }

  // Pushes a manifest (tagged `seed`) whose config has `config_type`; returns the stored record.
  ManifestRecord push(const RepositoryRecord& repo, const std::string& seed,
                      const std::string& config_type = kOciConfig) {
    const std::string bytes = image_manifest(repo, seed, /*push=*/true, config_type);
    return stored_manifest(repo, put_manifest(repo, bytes, kOciManifest, seed));
  }

  std::unique_ptr<ScanningService> scanning_;
  RepositoryRecord repo_;
};

TEST_F(ScanningServiceTest, StartScanAllowsOneScanPerImagePerDay) {
  ManifestRecord m = push(repo_, "quota");
  EXPECT_EQ(scanning_->report(repo_, m.digest).status().code(), Code::kNotFound);
  auto first = scanning_->start_scan(repo_, m);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->status, kScanPending);

  auto again = scanning_->start_scan(repo_, m);
  EXPECT_EQ(again.status().code(), Code::kLimitExceeded);
  EXPECT_EQ(again.status().message(),
            "The scan quota per image has been exceeded. Wait and try again.");

  // Once it has run (here: claimed and finished by hand, as a worker would),
  // the quota still holds until a day has passed since it was requested.
  auto claimed = meta_->claim_scan("w", clock_.now_millis(), clock_.now_millis() + 1000);
  ASSERT_TRUE(claimed.is_ok() && claimed->has_value());
  ScanOutcome done;
  done.status = kScanComplete;
  done.completed_at_ms = clock_.now_millis();
  ASSERT_TRUE(meta_->finish_scan(repo_.id, m.digest, "w", done).is_ok());
  clock_.advance_seconds(kDaySeconds - 1);
  EXPECT_EQ(scanning_->start_scan(repo_, m).status().code(), Code::kLimitExceeded);
  clock_.advance_seconds(1);
  auto next_day = scanning_->start_scan(repo_, m);
  ASSERT_TRUE(next_day.is_ok()) << next_day.status().to_string();
  EXPECT_EQ(next_day->status, kScanPending);
}

// An index is scanned per platform image: each gets its own PENDING scan and
// quota, the index none; a build attestation it lists is no platform image.
TEST_F(ScanningServiceTest, StartScanOfAnIndexQueuesEachPlatformImage) {
  ManifestRecord amd64 = push(repo_, "amd64");
  ManifestRecord arm64 = push(repo_, "arm64");
  ManifestRecord attestation = push(repo_, "attestation");
  auto entry = [](const ManifestRecord& m) {
    return json::object{
        {"mediaType", kOciManifest}, {"digest", m.digest.str()}, {"size", m.bytes.size()}};
  };
  json::object att = entry(attestation);
  att["annotations"] = json::object{{"vnd.docker.reference.type", "attestation-manifest"},
                                    {"vnd.docker.reference.digest", amd64.digest.str()}};
  const std::string bytes =
      json::serialize(json::object{{"schemaVersion", 2},
                                   {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                   {"manifests", json::array{entry(amd64), entry(arm64), att}}});
  auto put =
      registry_->put_manifest(repo_, "multi", bytes, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  auto index = meta_->get_manifest(repo_.id, Digest::of(bytes));
  ASSERT_TRUE(index.is_ok());

  // One platform image was scanned already today: it keeps its scan.
  ASSERT_TRUE(scanning_->start_scan(repo_, arm64).is_ok());
  const int64_t arm64_requested = meta_->get_scan(repo_.id, arm64.digest)->requested_at_ms;
  clock_.advance_seconds(10);

  auto started = scanning_->start_scan(repo_, *index);
  ASSERT_TRUE(started.is_ok()) << started.status().to_string();
  EXPECT_EQ(started->status, kScanPending);
  EXPECT_EQ(started->manifest_digest, index->digest);
  auto amd64_scan = meta_->get_scan(repo_.id, amd64.digest);
  ASSERT_TRUE(amd64_scan.is_ok()) << amd64_scan.status().to_string();
  EXPECT_EQ(amd64_scan->status, kScanPending);
  EXPECT_EQ(meta_->get_scan(repo_.id, arm64.digest)->requested_at_ms, arm64_requested);
  EXPECT_EQ(meta_->get_scan(repo_.id, attestation.digest).status().code(), Code::kNotFound);
  EXPECT_EQ(scanning_->report(repo_, index->digest).status().code(), Code::kNotFound);

  // Every platform image within its quota: the index's request is refused.
  auto again = scanning_->start_scan(repo_, *index);
  EXPECT_EQ(again.status().code(), Code::kLimitExceeded);
  EXPECT_EQ(again.status().message(),
            "The scan quota per image has been exceeded. Wait and try again.");
}

TEST_F(ScanningServiceTest, StartScanRefusesAnArtifact) {
  ManifestRecord m = push(repo_, "artifact", "application/vnd.example.sbom+json");
  EXPECT_EQ(scanning_->start_scan(repo_, m).status().code(), Code::kUnsupported);
}

TEST_F(ScanningServiceTest, ScanOnPushFollowsTheRepositorySettingAndRegistryRules) {
  RepositoryRecord on_push = make_repo("team/on-push", true);
  ManifestRecord queued = push(on_push, "pushed");
  ManifestRecord plain = push(repo_, "plain");
  auto s = scanning_->report(on_push, queued.digest);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->scan.status, kScanPending);
  EXPECT_EQ(scanning_->report(repo_, plain.digest).status().code(), Code::kNotFound);
  // Artifacts are not scanned, even with scan-on-push.
  ManifestRecord sbom = push(on_push, "sbom", "application/vnd.example.sbom+json");
  EXPECT_EQ(scanning_->report(on_push, sbom.digest).status().code(), Code::kNotFound);

  RegistryScanningConfiguration cfg;
  cfg.rules = {ScanningRule{"SCAN_ON_PUSH", {"team/rule*"}}};
  ASSERT_TRUE(scanning_->put_registry_configuration(kAccount, cfg).is_ok());
  RepositoryRecord ruled = make_repo("team/ruled", false);
  ManifestRecord by_rule = push(ruled, "ruled");
  EXPECT_EQ(scanning_->report(ruled, by_rule.digest)->scan.status, kScanPending);
  ManifestRecord still_plain = push(repo_, "still-plain");
  EXPECT_EQ(scanning_->report(repo_, still_plain.digest).status().code(), Code::kNotFound);
  auto rule = scanning_->rule_for(kAccount, "team/ruled");
  ASSERT_TRUE(rule.is_ok() && rule->has_value());
  EXPECT_EQ((*rule)->first, "SCAN_ON_PUSH");
  EXPECT_EQ((*rule)->second, "team/rule*");
}

TEST_F(ScanningServiceTest, RegistryConfigurationIsBasicOnly) {
  RegistryScanningConfiguration enhanced;
  enhanced.scan_type = "ENHANCED";
  EXPECT_EQ(scanning_->put_registry_configuration(kAccount, enhanced).code(), Code::kUnsupported);
  RegistryScanningConfiguration bad;
  bad.scan_type = "DEEP";
  EXPECT_EQ(scanning_->put_registry_configuration(kAccount, bad).code(), Code::kInvalidArgument);
  RegistryScanningConfiguration continuous;
  continuous.rules = {ScanningRule{"CONTINUOUS_SCAN", {"*"}}};
  EXPECT_EQ(scanning_->put_registry_configuration(kAccount, continuous).code(),
            Code::kInvalidArgument);
  RegistryScanningConfiguration no_filter;
  no_filter.rules = {ScanningRule{"MANUAL", {}}};
  EXPECT_EQ(scanning_->put_registry_configuration(kAccount, no_filter).code(),
            Code::kInvalidArgument);
  auto stored = scanning_->registry_configuration(kAccount);
  ASSERT_TRUE(stored.is_ok());
  EXPECT_TRUE(stored->rules.empty()) << "refused configurations change nothing";
}

}  // namespace
}  // namespace berth
