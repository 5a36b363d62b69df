// Image scanning (ECR basic scanning), the application service behind
// StartImageScan, DescribeImageScanFindings, the scanning configurations and
// scan-on-push.
//
// A scan is a durable, leased job in the ScanStore (meta/scan_store.h):
// requesting one only writes a PENDING row, so neither a push nor an API
// call ever waits for a scan. A bounded pool of worker threads (start())
// claims PENDING scans, and scans whose worker died (their lease expired),
// reads the image's layers through the BlobStore (scan::InventoryReader),
// matches the inventory against the advisories imported for the image's OS
// (AdvisoryStore::advisories_for, scan::match) and stores findings and
// inventory. After a new advisory import, the workers re-match completed
// scans from their stored inventories, without reading layers again.
//
// An image index is not scanned itself, as in ECR: a scan requested for an
// index (StartImageScan or scan-on-push) queues a scan of each platform image
// it lists, each with its own status, findings and quota, and the index
// stays without a scan of its own (ECR's ScanNotFoundException).
//
// Thread-safe. Several processes and nodes may run workers on one store:
// the lease decides who scans what, so one image is scanned by one worker at
// a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/digest.h"
#include "core/manifest.h"
#include "core/records.h"
#include "core/status.h"
#include "meta/scan_store.h"

namespace berth {

class MetadataStore;
class AdvisoryStore;
class BlobStore;

struct ScanningOptions {
  // Worker threads scanning at once in this process (0: none here; scans
  // then wait for another process's workers).
  size_t workers = 1;
  // How long a claimed scan stays leased without renewal; the worker renews
  // it between layers, so this only bounds how long a dead worker blocks it.
  int64_t lease_ms = 60'000;
  // How often an idle worker looks for work queued by other processes and
  // for a newer advisory import.
  int64_t poll_ms = 1'000;
  // ECR's quota: one basic scan per image per this long (push-triggered ones count).
  int64_t min_rescan_interval_ms = 24LL * 3600 * 1000;
  // Whether each scan's end is reported as an "ECR Image Scan" event
  // (core/events.h), written with the scan's result in one transaction.
  bool record_events = false;
  // Test-only fault injection (app.cc sets it only from BERTH_TEST_SCAN_DELAY_MS):
  // a worker sleeps this long after claiming a scan, before reading layers.
  std::chrono::milliseconds test_delay{0};
};

// Why `parsed` cannot be scanned (it is neither a container image nor an
// index), or nullopt when it can.
std::optional<std::string> scan_unsupported_reason(const ParsedManifest& parsed);

// ECR's name of a severity ("HIGH", ..., "UNDEFINED").
std::string_view severity_label(scan::Severity s);

// What DescribeImageScanFindings and DescribeImages report of an image.
struct ImageScanReport {
  ScanRecord scan;
  std::vector<scan::Finding> findings;             // empty unless COMPLETE
  std::map<std::string, int64_t> severity_counts;  // by ECR severity name, non-zero only
};

// What the APIs ask of image scanning (ScanningService below implements it);
// an interface so that the API edges need nothing of the scanning machinery.
class ImageScanning {
 public:
  virtual ~ImageScanning() = default;

  // StartImageScan: queues a scan of `manifest` in `repo`. kLimitExceeded
  // with ECR's message when the image was scanned (or queued) within the
  // quota interval or is being scanned; kUnsupported when the manifest is not
  // a container image or an index of them. For an index, queues a scan of
  // each platform image it lists (those within their quota are left as they
  // are; kLimitExceeded when that is all of them) and returns a PENDING
  // record of the index that is not stored: the index has no scan itself.
  virtual Result<ScanRecord> start_scan(const RepositoryRecord& repo,
                                        const ManifestRecord& manifest) = 0;

  // Scan-on-push (RegistryOptions::after_manifest_put): queues a scan when the
  // repository has scanOnPush or a SCAN_ON_PUSH rule of its account's registry
  // configuration matches its name. One store read (cached per account for a
  // second) and at most one write; failures are logged, never returned.
  virtual void manifest_pushed(const RepositoryRecord& repo, const ManifestRecord& manifest) = 0;

  // The image's latest scan with its findings; kNotFound when never scanned.
  virtual Result<ImageScanReport> report(const RepositoryRecord& repo, const Digest& digest) = 0;

  // DescribeImages' scan status and findings summary of each of `digests` (a
  // page of images) in `repo`, by digest: what report() gives but the
  // findings themselves (severity_counts only), from one store query for the
  // whole page. Images never scanned are absent.
  virtual Result<std::map<Digest, ImageScanReport>> summaries(
      const RepositoryRecord& repo, const std::vector<Digest>& digests) = 0;

  // The account's registry scanning configuration (BASIC without rules by
  // default). put_ refuses ENHANCED with kUnsupported (berth scans BASIC
  // only) and any other bad value with kInvalidArgument.
  virtual Result<RegistryScanningConfiguration> registry_configuration(
      std::string_view account) = 0;
  virtual Status put_registry_configuration(std::string_view account,
                                            const RegistryScanningConfiguration& config) = 0;
  // The frequency a repository is scanned with under the account's rules
  // ("SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL"), with the filter that
  // matched; nullopt when no rule matches.
  virtual Result<std::optional<std::pair<std::string, std::string>>> rule_for(
      std::string_view account, std::string_view repository) = 0;
};

class ScanningService final : public ImageScanning {
 public:
  // `meta`, `advisories`, `blobs` and `clock` must outlive the service.
  // `advisories` may be null: then nothing was imported and scans find nothing.
  ScanningService(MetadataStore& meta, AdvisoryStore* advisories, BlobStore& blobs,
                  const Clock& clock, ScanningOptions options);
  ~ScanningService() override;  // stop()s
  ScanningService(const ScanningService&) = delete;
  ScanningService& operator=(const ScanningService&) = delete;

  // Starts the worker threads (scan_worker.cc); stop() ends them after their
  // current scan (whose lease then expires, and another run resumes it).
  // Both idempotent; the service does not scan until start().
  void start();
  void stop();

  Result<ScanRecord> start_scan(const RepositoryRecord& repo,
                                const ManifestRecord& manifest) override;
  void manifest_pushed(const RepositoryRecord& repo, const ManifestRecord& manifest) override;
  Result<ImageScanReport> report(const RepositoryRecord& repo, const Digest& digest) override;
  Result<std::map<Digest, ImageScanReport>> summaries(const RepositoryRecord& repo,
                                                      const std::vector<Digest>& digests) override;
  Result<RegistryScanningConfiguration> registry_configuration(std::string_view account) override;
  Status put_registry_configuration(std::string_view account,
                                    const RegistryScanningConfiguration& config) override;
  Result<std::optional<std::pair<std::string, std::string>>> rule_for(
      std::string_view account, std::string_view repository) override;

  // Called on a worker's thread after a scan ended COMPLETE (never after
  // UNSUPPORTED_IMAGE or FAILED), with the repository's id, the scanned
  // manifest (with its bytes) and the inventory the scan stored; berth's SBOM
  // referrer (SbomPublisher) is made here. Re-matching after an advisory
  // import does not call it: the inventory is unchanged. An error is logged
  // and the scan stays COMPLETE. Set it before start(); empty: nothing is
  // called.
  using CompletionHook =
      std::function<Status(RepositoryId, const ManifestRecord&, const scan::Inventory&)>;
  void set_completion_hook(CompletionHook hook) { completed_ = std::move(hook); }

  // What this process's workers do, for metrics. `started` when a worker
  // claims a scan; `ended` when it ends one, with the status it stored
  // (COMPLETE, UNSUPPORTED_IMAGE or FAILED; FAILED also when even storing
  // that failed) and the time since the claim, the SBOM follow-up included;
  // a scan whose lease was lost meanwhile is not ended here (its new holder
  // ends it). `rematched` with how many scans a re-matching pass updated.
  // Called on the worker's thread; each may be empty. Set before start().
  struct Observer {
    std::function<void()> started;
    std::function<void(std::string_view status, std::chrono::steady_clock::duration took)> ended;
    std::function<void(size_t scans)> rematched;
  };
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  // One unit of work on the calling thread: claims and runs one scan, else
  // re-matches scans behind the newest advisory import. Returns whether it
  // did anything. The workers call it in a loop.
  Result<bool> run_once();

 private:
  void worker_loop();
  // The platform images of `index` present in `repo` that can be scanned
  // (container images; build attestations are left out), in index order.
  Result<std::vector<Digest>> platform_images(RepositoryId repo, const ParsedManifest& index);
  // Queues the scans of the platform images of the index `index` (start_scan).
  Result<ScanRecord> start_index_scans(RepositoryId repo, const Digest& index,
                                       const ParsedManifest& parsed);
  // Runs the claimed `scan`; returns the status it ended with.
  Result<std::string_view> run_scan(const ScanRecord& scan);
  // Ends `holder_`'s scan of `digest` in `repo` with `outcome`, with its
  // event (appended to outcome.events) when options_.record_events.
  Status finish(RepositoryId repo, const Digest& digest, ScanOutcome& outcome);
  Result<size_t> rematch_some();
  Result<std::vector<scan::Finding>> match(const scan::Inventory& inventory,
                                           const std::string& ecosystem);

  MetadataStore& meta_;
  AdvisoryStore* advisories_;
  BlobStore& blobs_;
  const Clock& clock_;
  ScanningOptions options_;
  const std::string holder_;  // this process's name in leases
  CompletionHook completed_;  // set before the workers start, read-only after
  Observer observer_;         // as completed_

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;             // guarded by mu_
  uint64_t queued_ = 0;               // guarded by mu_: bumps wake idle workers
  std::vector<std::thread> threads_;  // guarded by mu_
  struct CachedConfig {
    RegistryScanningConfiguration config;
    int64_t read_at_ms = 0;
  };
  std::map<std::string, CachedConfig, std::less<>> config_cache_;  // guarded by mu_
};

}  // namespace berth
