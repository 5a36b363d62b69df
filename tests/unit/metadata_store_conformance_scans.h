// The ScanStore conformance suite: scans as leased jobs, their findings,
// stored inventories and registry scanning configurations. Written against
// the role interface (meta/scan_store.h): the role under test is store();
// the other roles only arrange state. Include it from exactly one
// translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

namespace scan_conformance {

inline constexpr int64_t kMs = 1'700'000'000'000;
inline constexpr int64_t kDay = 24LL * 3600 * 1000;

inline scan::Finding finding(std::string name, scan::Severity severity, std::string package) {
  scan::Finding f;
  f.name = std::move(name);
  f.description = "description of " + f.name;
  f.uri = "https://security-tracker.debian.org/tracker/" + f.name;
  f.severity = severity;
  f.package_name = std::move(package);
  f.package_version = "1.2-3";
  f.fixed_version = "1.2-4";
  return f;
}

inline scan::Inventory inventory() {
  scan::Inventory inv;
  inv.os = scan::OsRelease{"debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"};
  scan::InstalledPackage a;
  a.name = "libssl3";
  a.version = "3.0.11-1~deb12u2";
  a.source_name = "openssl";
  a.source_version = "3.0.11-1~deb12u2";
  a.architecture = "amd64";
  scan::InstalledPackage b;
  b.name = "zlib1g";
  b.version = "1:1.2.13.dfsg-1";
  b.source_name = "zlib";
  b.source_version = "1:1.2.13.dfsg-1";
  b.architecture = "amd64";
  inv.packages = {a, b};
  return inv;
}

}  // namespace scan_conformance

TEST_P(ScanStoreConformance, RequestedScanIsPendingAndLimitedWhileWaitingOrTooRecent) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/a");
  ManifestRecord m = put_image(r, "{\"image\":1}");
  EXPECT_EQ(store().get_scan(r.id, m.digest).status().code(), Code::kNotFound);
  EXPECT_EQ(store().request_scan(r.id, Digest::of("absent"), kMs, kMs - kDay).code(),
            Code::kManifestUnknown);

  ASSERT_TRUE(store().request_scan(r.id, m.digest, kMs, kMs - kDay).is_ok());
  auto s = store().get_scan(r.id, m.digest);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->status, kScanPending);
  EXPECT_EQ(s->repository, r.id);
  EXPECT_EQ(s->manifest_digest, m.digest);
  EXPECT_EQ(s->requested_at_ms, kMs);
  EXPECT_EQ(s->attempts, 0);
  EXPECT_TRUE(s->lease_holder.empty());

  // Pending: a second request is refused whatever the interval.
  EXPECT_EQ(store().request_scan(r.id, m.digest, kMs + 1, kMs + 1).code(), Code::kLimitExceeded);

  auto c = store().claim_scan("w1", kMs + 10, kMs + 1000);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_TRUE(c->has_value());
  ScanOutcome done;
  done.status = kScanComplete;
  done.description = "The scan was completed successfully.";
  done.completed_at_ms = kMs + 20;
  ASSERT_TRUE(store().finish_scan(r.id, m.digest, "w1", done).is_ok());

  // Complete, requested within the interval: refused; once it has passed: queued again.
  EXPECT_EQ(store().request_scan(r.id, m.digest, kMs + kDay - 1, kMs - 1).code(),
            Code::kLimitExceeded);
  EXPECT_EQ(store().get_scan(r.id, m.digest)->status, kScanComplete) << "the refusal changed it";
  ASSERT_TRUE(store().request_scan(r.id, m.digest, kMs + kDay, kMs + 1).is_ok());
  EXPECT_EQ(store().get_scan(r.id, m.digest)->status, kScanPending);
  EXPECT_EQ(store().get_scan(r.id, m.digest)->requested_at_ms, kMs + kDay);
}

TEST_P(ScanStoreConformance, ClaimTakesOldestOnceAndExpiredLeasesAreReclaimed) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/claim");
  ManifestRecord first = put_image(r, "{\"image\":\"first\"}");
  ManifestRecord second = put_image(r, "{\"image\":\"second\"}");
  ASSERT_TRUE(store().request_scan(r.id, second.digest, kMs + 5, 0).is_ok());
  ASSERT_TRUE(store().request_scan(r.id, first.digest, kMs, 0).is_ok());

  auto a = store().claim_scan("w1", kMs + 10, kMs + 100);
  ASSERT_TRUE(a.is_ok() && a->has_value());
  EXPECT_EQ((*a)->manifest_digest, first.digest) << "the longest-waiting scan first";
  EXPECT_EQ((*a)->status, kScanInProgress);
  EXPECT_EQ((*a)->lease_holder, "w1");
  EXPECT_EQ((*a)->lease_until_ms, kMs + 100);
  EXPECT_EQ((*a)->attempts, 1);
  EXPECT_EQ((*a)->started_at_ms, kMs + 10);

  auto b = store().claim_scan("w2", kMs + 20, kMs + 120);
  ASSERT_TRUE(b.is_ok() && b->has_value());
  EXPECT_EQ((*b)->manifest_digest, second.digest);
  auto none = store().claim_scan("w3", kMs + 30, kMs + 130);
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none->has_value()) << "both are leased";

  // w1 renews; w2 does not and dies: after its lease expires w3 takes it over.
  ASSERT_TRUE(store().renew_scan_lease(r.id, first.digest, "w1", kMs + 500).is_ok());
  EXPECT_EQ(store().renew_scan_lease(r.id, first.digest, "w3", kMs + 500).code(),
            Code::kFailedPrecondition);
  auto taken = store().claim_scan("w3", kMs + 121, kMs + 300);
  ASSERT_TRUE(taken.is_ok() && taken->has_value());
  EXPECT_EQ((*taken)->manifest_digest, second.digest);
  EXPECT_EQ((*taken)->lease_holder, "w3");
  EXPECT_EQ((*taken)->attempts, 2);

  // The dead worker's late result is refused and changes nothing.
  ScanOutcome late;
  late.status = kScanFailed;
  late.description = "late";
  EXPECT_EQ(store().finish_scan(r.id, second.digest, "w2", late).code(), Code::kFailedPrecondition);
  EXPECT_EQ(store().get_scan(r.id, second.digest)->status, kScanInProgress);
}

// A scan's events are written with its result: a finish that is refused (the
// lease lost) writes none, one that lands writes them all.
TEST_P(ScanStoreConformance, FinishWritesItsEventsInTheSameTransaction) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/events");
  ManifestRecord m = put_image(r, "{\"image\":\"evented\"}");
  ASSERT_TRUE(store().request_scan(r.id, m.digest, kMs, 0).is_ok());
  ASSERT_TRUE(store().claim_scan("w1", kMs + 1, kMs + 1000)->has_value());
  auto event = [&](std::string id) {
    OutboxEvent e;
    e.id = std::move(id);
    e.detail_type = "ECR Image Scan";
    e.account_id = r.account_id;
    e.repository = r.name;
    e.detail = "{}";
    e.time_ms = kMs + 2;
    return e;
  };
  ScanOutcome late;
  late.status = kScanFailed;
  late.completed_at_ms = kMs + 2;
  late.events = {event("scan-late")};
  EXPECT_EQ(store().finish_scan(r.id, m.digest, "w2", late).code(), Code::kFailedPrecondition);
  auto none = events().undelivered_events("hook", 0, 10);
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_TRUE(none->empty()) << "a refused finish writes no event";

  ScanOutcome done;
  done.status = kScanComplete;
  done.completed_at_ms = kMs + 3;
  done.findings = {finding("CVE-2024-0001", scan::Severity::kHigh, "openssl")};
  done.events = {event("scan-done")};
  ASSERT_TRUE(store().finish_scan(r.id, m.digest, "w1", done).is_ok());
  auto written = events().undelivered_events("hook", 0, 10);
  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  ASSERT_EQ(written->size(), 1u);
  EXPECT_EQ((*written)[0].id, "scan-done");
  EXPECT_EQ((*written)[0].detail_type, "ECR Image Scan");
  EXPECT_EQ((*written)[0].repository, r.name);
}

TEST_P(ScanStoreConformance, QueueDepthCountsPendingAndInProgressScansOfEveryRepository) {
  using namespace scan_conformance;
  using Depth = std::pair<int64_t, int64_t>;  // pending, in progress
  auto depth = [&] {
    auto d = store().scan_queue_depth();
    EXPECT_TRUE(d.is_ok()) << d.status().to_string();
    return d.is_ok() ? Depth{d->pending, d->in_progress} : Depth{-1, -1};
  };
  EXPECT_EQ(depth(), Depth(0, 0));
  RepositoryRecord a = repo("scans/depth-a");
  RepositoryRecord b = repo("scans/depth-b");
  ManifestRecord a1 = put_image(a, "{\"image\":\"a1\"}");
  ManifestRecord a2 = put_image(a, "{\"image\":\"a2\"}");
  ManifestRecord b1 = put_image(b, "{\"image\":\"b1\"}");
  ASSERT_TRUE(store().request_scan(a.id, a1.digest, kMs, 0).is_ok());
  ASSERT_TRUE(store().request_scan(a.id, a2.digest, kMs + 1, 0).is_ok());
  ASSERT_TRUE(store().request_scan(b.id, b1.digest, kMs + 2, 0).is_ok());
  EXPECT_EQ(depth(), Depth(3, 0));

  auto c = store().claim_scan("w1", kMs + 10, kMs + 100);
  ASSERT_TRUE(c.is_ok() && c->has_value());
  EXPECT_EQ(depth(), Depth(2, 1));
  ScanOutcome done;
  done.status = kScanComplete;
  done.description = "The scan was completed successfully.";
  done.completed_at_ms = kMs + 20;
  ASSERT_TRUE(store().finish_scan((*c)->repository, (*c)->manifest_digest, "w1", done).is_ok());
  EXPECT_EQ(depth(), Depth(2, 0)) << "a finished scan has left the queue";
  ASSERT_TRUE(manifests().delete_manifest(b.id, b1.digest).is_ok());
  EXPECT_EQ(depth(), Depth(1, 0)) << "a deleted image's scan goes with it";
}

TEST_P(ScanStoreConformance, ConcurrentClaimersGetEachScanOnce) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/race");
  constexpr int kImages = 6;
  for (int i = 0; i < kImages; ++i) {
    ManifestRecord m = put_image(r, "{\"race\":" + std::to_string(i) + "}");
    ASSERT_TRUE(store().request_scan(r.id, m.digest, kMs + i, 0).is_ok());
  }
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto c = store().claim_scan("w" + std::to_string(t), kMs + 100, kMs + 100'000);
        if (!c.is_ok() || !c->has_value()) return;
        std::lock_guard lock(mu);
        claimed.push_back((*c)->manifest_digest.str());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(claimed.begin(), claimed.end());
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kImages));
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kImages));
}

TEST_P(ScanStoreConformance, FinishStoresFindingsAndInventoryAndRematchReplacesThem) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/findings");
  ManifestRecord m = put_image(r, "{\"findings\":1}");
  ASSERT_TRUE(store().request_scan(r.id, m.digest, kMs, 0).is_ok());
  ASSERT_TRUE(store().claim_scan("w", kMs + 1, kMs + 1000)->has_value());

  ScanOutcome o;
  o.status = kScanComplete;
  o.description = "The scan was completed successfully.";
  o.findings = {finding("CVE-2024-0002", scan::Severity::kHigh, "libssl3"),
                finding("CVE-2024-0001", scan::Severity::kLow, "zlib1g")};
  o.findings[0].cvss_score = 7.5;
  o.findings[0].cvss_vector = "AV:N/AC:L/Au:N/C:P/I:P/A:P";
  o.findings[1].fixed_version = "";
  o.inventory = inventory();
  o.advisory_version = 1;
  o.vulnerability_source_updated_at_ms = kMs - 5000;
  o.completed_at_ms = kMs + 50;
  ASSERT_TRUE(store().finish_scan(r.id, m.digest, "w", o).is_ok());

  auto s = store().get_scan(r.id, m.digest);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->status, kScanComplete);
  EXPECT_EQ(s->description, o.description);
  EXPECT_EQ(s->completed_at_ms, kMs + 50);
  EXPECT_EQ(s->vulnerability_source_updated_at_ms, kMs - 5000);
  EXPECT_EQ(s->advisory_version, 1);
  EXPECT_TRUE(s->lease_holder.empty());

  auto f = store().scan_findings(r.id, m.digest);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].name, "CVE-2024-0002") << "stored order is kept";
  EXPECT_EQ((*f)[0].severity, scan::Severity::kHigh);
  EXPECT_EQ((*f)[0].package_name, "libssl3");
  EXPECT_EQ((*f)[0].package_version, "1.2-3");
  EXPECT_EQ((*f)[0].fixed_version, "1.2-4");
  EXPECT_EQ((*f)[0].uri, o.findings[0].uri);
  EXPECT_EQ((*f)[0].description, o.findings[0].description);
  ASSERT_TRUE((*f)[0].cvss_score.has_value());
  EXPECT_DOUBLE_EQ(*(*f)[0].cvss_score, 7.5);
  EXPECT_EQ((*f)[0].cvss_vector, "AV:N/AC:L/Au:N/C:P/I:P/A:P");
  EXPECT_FALSE((*f)[1].cvss_score.has_value());
  EXPECT_EQ((*f)[1].fixed_version, "");

  auto inv = store().image_inventory(r.id, m.digest);
  ASSERT_TRUE(inv.is_ok()) << inv.status().to_string();
  ASSERT_TRUE(inv->has_value());
  ASSERT_TRUE((*inv)->os.has_value());
  EXPECT_EQ((*inv)->os->id, "debian");
  EXPECT_EQ((*inv)->os->version_id, "12");
  EXPECT_EQ((*inv)->os->version_codename, "bookworm");
  ASSERT_EQ((*inv)->packages.size(), 2u);
  EXPECT_EQ((*inv)->packages[0].name, "libssl3");
  EXPECT_EQ((*inv)->packages[0].source_name, "openssl");
  EXPECT_EQ((*inv)->packages[1].version, "1:1.2.13.dfsg-1");
  EXPECT_EQ((*inv)->packages[1].kind, scan::PackageKind::kDpkg);

  // A newer import: the scan is due for a re-match, which replaces the findings only.
  auto due = store().scans_to_rematch(2, 10);
  ASSERT_TRUE(due.is_ok()) << due.status().to_string();
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].manifest_digest, m.digest);
  EXPECT_TRUE(store().scans_to_rematch(1, 10)->empty()) << "already matched against import 1";

  ScanOutcome re;
  re.findings = {finding("CVE-2024-0003", scan::Severity::kCritical, "zlib1g")};
  re.description = o.description;
  re.advisory_version = 2;
  re.vulnerability_source_updated_at_ms = kMs + 9000;
  re.completed_at_ms = kMs + 10'000;
  EXPECT_EQ(store().rematch_scan(r.id, m.digest, 0, re).code(), Code::kFailedPrecondition)
      << "the version it was read at is not the stored one";
  ASSERT_TRUE(store().rematch_scan(r.id, m.digest, 1, re).is_ok());
  EXPECT_EQ(store().rematch_scan(r.id, m.digest, 1, re).code(), Code::kFailedPrecondition)
      << "a second re-match from the same version loses";
  auto after = store().scan_findings(r.id, m.digest);
  ASSERT_TRUE(after.is_ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].name, "CVE-2024-0003");
  EXPECT_EQ(store().get_scan(r.id, m.digest)->advisory_version, 2);
  EXPECT_EQ(store().get_scan(r.id, m.digest)->vulnerability_source_updated_at_ms, kMs + 9000);
  EXPECT_EQ((*store().image_inventory(r.id, m.digest))->packages.size(), 2u)
      << "the inventory is kept";
  EXPECT_TRUE(store().scans_to_rematch(2, 10)->empty());
}

TEST_P(ScanStoreConformance, ScanGoesWithItsManifest) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/gone");
  ManifestRecord m = put_image(r, "{\"gone\":1}");
  ASSERT_TRUE(store().request_scan(r.id, m.digest, kMs, 0).is_ok());
  ASSERT_TRUE(store().claim_scan("w", kMs + 1, kMs + 1000)->has_value());
  ScanOutcome o;
  o.status = kScanComplete;
  o.findings = {finding("CVE-2024-0001", scan::Severity::kLow, "zlib1g")};
  o.inventory = inventory();
  ASSERT_TRUE(store().finish_scan(r.id, m.digest, "w", o).is_ok());

  ASSERT_TRUE(manifests().delete_manifest(r.id, m.digest).is_ok());
  EXPECT_EQ(store().get_scan(r.id, m.digest).status().code(), Code::kNotFound);
  EXPECT_TRUE(store().scan_findings(r.id, m.digest)->empty());
  EXPECT_FALSE(store().image_inventory(r.id, m.digest)->has_value());

  // Pushed again, the manifest starts unscanned.
  put_image(r, "{\"gone\":1}");
  EXPECT_EQ(store().get_scan(r.id, m.digest).status().code(), Code::kNotFound);
}

TEST_P(ScanStoreConformance, SummariesCountEachScannedImageOfAPageBySeverity) {
  using namespace scan_conformance;
  RepositoryRecord r = repo("scans/summaries");
  RepositoryRecord other = repo("scans/summaries-other");
  ManifestRecord counted = put_image(r, "{\"summary\":\"counted\"}");
  ManifestRecord clean = put_image(r, "{\"summary\":\"clean\"}");
  ManifestRecord queued = put_image(r, "{\"summary\":\"queued\"}");
  ManifestRecord unscanned = put_image(r, "{\"summary\":\"unscanned\"}");
  put_image(other, "{\"summary\":\"counted\"}");  // the same digest in another repository

  int64_t at = kMs;
  auto scan_with = [&](const RepositoryRecord& in, const Digest& d,
                       std::vector<scan::Finding> findings) {
    ASSERT_TRUE(store().request_scan(in.id, d, ++at, 0).is_ok());
    at += 2;
    auto c = store().claim_scan("w", at, at + 1000);
    ASSERT_TRUE(c.is_ok() && c->has_value());
    ASSERT_EQ((*c)->manifest_digest, d);
    ScanOutcome o;
    o.status = kScanComplete;
    o.description = "The scan was completed successfully.";
    o.findings = std::move(findings);
    o.advisory_version = 3;
    o.vulnerability_source_updated_at_ms = kMs - 7000;
    o.completed_at_ms = ++at;
    ASSERT_TRUE(store().finish_scan(in.id, d, "w", o).is_ok());
  };
  scan_with(r, counted.digest,
            {finding("CVE-2024-0001", scan::Severity::kHigh, "libssl3"),
             finding("CVE-2024-0002", scan::Severity::kLow, "zlib1g"),
             finding("CVE-2024-0003", scan::Severity::kHigh, "zlib1g"),
             finding("CVE-2024-0004", scan::Severity::kUndefined, "zlib1g")});
  scan_with(r, clean.digest, {});
  scan_with(other, counted.digest,
            {finding("CVE-2024-0005", scan::Severity::kCritical, "libssl3"),
             finding("CVE-2024-0006", scan::Severity::kCritical, "libssl3")});
  ASSERT_TRUE(store().request_scan(r.id, queued.digest, ++at, 0).is_ok());

  // What counting the stored findings by severity gives.
  auto counted_by_hand = [&](RepositoryId repo_id, const Digest& d) {
    std::map<scan::Severity, int64_t> counts;
    auto f = store().scan_findings(repo_id, d);
    EXPECT_TRUE(f.is_ok()) << f.status().to_string();
    if (f.is_ok()) {
      for (const scan::Finding& x : *f) ++counts[x.severity];
    }
    return counts;
  };
  auto summaries = [&](RepositoryId repo_id, const std::vector<Digest>& digests) {
    std::map<Digest, ScanSummary> by_digest;
    auto got = store().scan_summaries(repo_id, digests);
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    if (got.is_ok()) {
      for (const ScanSummary& s : *got) {
        EXPECT_TRUE(by_digest.emplace(s.scan.manifest_digest, s).second)
            << "one entry per scan: " << s.scan.manifest_digest.str();
      }
    }
    return by_digest;
  };

  auto page = summaries(r.id, {counted.digest, clean.digest, queued.digest, unscanned.digest,
                               counted.digest, Digest::of("not in the repository")});
  ASSERT_EQ(page.size(), 3u) << "the unscanned and absent images are left out";
  EXPECT_EQ(page.count(unscanned.digest), 0u);

  const ScanSummary& c = page.at(counted.digest);
  EXPECT_EQ(c.severity_counts, (std::map<scan::Severity, int64_t>{{scan::Severity::kUndefined, 1},
                                                                  {scan::Severity::kLow, 1},
                                                                  {scan::Severity::kHigh, 2}}))
      << "the other repository's findings of the same digest are not counted";
  EXPECT_EQ(c.severity_counts, counted_by_hand(r.id, counted.digest));
  auto stored = store().get_scan(r.id, counted.digest);
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(c.scan.repository, r.id);
  EXPECT_EQ(c.scan.status, kScanComplete);
  EXPECT_EQ(c.scan.description, stored->description);
  EXPECT_EQ(c.scan.completed_at_ms, stored->completed_at_ms);
  EXPECT_EQ(c.scan.vulnerability_source_updated_at_ms, kMs - 7000);
  EXPECT_EQ(c.scan.advisory_version, 3);

  EXPECT_EQ(page.at(clean.digest).scan.status, kScanComplete);
  EXPECT_TRUE(page.at(clean.digest).severity_counts.empty()) << "no findings, no counts";
  EXPECT_EQ(page.at(queued.digest).scan.status, kScanPending);
  EXPECT_TRUE(page.at(queued.digest).severity_counts.empty());

  auto there = summaries(other.id, {counted.digest, clean.digest});
  ASSERT_EQ(there.size(), 1u) << "clean was scanned in r only";
  EXPECT_EQ(there.at(counted.digest).severity_counts,
            (std::map<scan::Severity, int64_t>{{scan::Severity::kCritical, 2}}));
  EXPECT_EQ(there.at(counted.digest).severity_counts, counted_by_hand(other.id, counted.digest));

  // A re-scan queued later: the earlier findings are still counted until it finishes.
  ASSERT_TRUE(store().request_scan(r.id, counted.digest, at + kDay, at + 1).is_ok());
  auto requeued = summaries(r.id, {counted.digest});
  ASSERT_EQ(requeued.size(), 1u);
  EXPECT_EQ(requeued.at(counted.digest).scan.status, kScanPending);
  EXPECT_EQ(requeued.at(counted.digest).severity_counts, counted_by_hand(r.id, counted.digest));
  EXPECT_EQ(requeued.at(counted.digest).severity_counts.size(), 3u);

  EXPECT_TRUE(summaries(r.id, {}).empty());
}

TEST_P(ScanStoreConformance, RegistryScanningConfigurationIsPerAccount) {
  auto none = store().get_registry_scanning_configuration(kAccount);
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_EQ(none->scan_type, "BASIC");
  EXPECT_TRUE(none->rules.empty());

  RegistryScanningConfiguration cfg;
  cfg.rules = {ScanningRule{"SCAN_ON_PUSH", {"prod-*", "team/*"}}, ScanningRule{"MANUAL", {"*"}}};
  ASSERT_TRUE(store().put_registry_scanning_configuration(kAccount, cfg).is_ok());
  auto got = store().get_registry_scanning_configuration(kAccount);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->scan_type, "BASIC");
  ASSERT_EQ(got->rules.size(), 2u);
  EXPECT_EQ(got->rules[0].scan_frequency, "SCAN_ON_PUSH");
  EXPECT_EQ(got->rules[0].repository_filters, (std::vector<std::string>{"prod-*", "team/*"}));
  EXPECT_EQ(got->rules[1].scan_frequency, "MANUAL");
  EXPECT_EQ(got->rules[1].repository_filters, (std::vector<std::string>{"*"}));
  EXPECT_TRUE(store().get_registry_scanning_configuration(kOtherAccount)->rules.empty());

  ASSERT_TRUE(store()
                  .put_registry_scanning_configuration(kAccount, RegistryScanningConfiguration{})
                  .is_ok());
  EXPECT_TRUE(store().get_registry_scanning_configuration(kAccount)->rules.empty());
}

}  // namespace berth::conformance
