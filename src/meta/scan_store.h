// ScanStore: image scans (ECR basic scanning) as durable, leased jobs, their
// findings, the inventory each scanned image was found to have (so that a new
// advisory import re-matches without reading layers again), and each
// account's registry scanning configuration. A role of MetadataStore
// (meta/metadata_store.h); every method is thread-safe and atomic, failures
// are values as described there.
//
// A scan belongs to one manifest of one repository and goes with it: deleting
// the manifest (or the repository) deletes its scan, findings and inventory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"
#include "scan/match.h"
#include "scan/package.h"

namespace berth {

// ECR's imageScanStatus.status values that berth uses.
inline constexpr std::string_view kScanPending = "PENDING";
inline constexpr std::string_view kScanInProgress = "IN_PROGRESS";
inline constexpr std::string_view kScanComplete = "COMPLETE";
inline constexpr std::string_view kScanFailed = "FAILED";
inline constexpr std::string_view kScanUnsupportedImage = "UNSUPPORTED_IMAGE";

struct ScanRecord {
  RepositoryId repository = 0;
  Digest manifest_digest;
  std::string status;        // one of the kScan* values
  std::string description;   // ECR's imageScanStatus.description
  std::string lease_holder;  // empty when nobody holds the lease
  int64_t lease_until_ms = 0;
  int64_t attempts = 0;  // how often a worker has claimed it since it was requested
  int64_t requested_at_ms = 0;
  int64_t started_at_ms = 0;                       // 0 until first claimed
  int64_t completed_at_ms = 0;                     // 0 until finished
  int64_t vulnerability_source_updated_at_ms = 0;  // the advisories' production time
  int64_t advisory_version = 0;  // the advisory import the findings were matched against
};

// A scan and how many findings of each severity it has stored (scan_summaries).
struct ScanSummary {
  ScanRecord scan;
  std::map<scan::Severity, int64_t> severity_counts;  // non-zero counts only
};

// How a scan ended (finish_scan) or was re-matched (rematch_scan).
struct ScanOutcome {
  std::string status;  // kScanComplete, kScanFailed or kScanUnsupportedImage
  std::string description;
  std::vector<scan::Finding> findings;  // stored in this order
  // Stored when given, replacing the image's inventory; kept as it is otherwise.
  std::optional<scan::Inventory> inventory;
  int64_t advisory_version = 0;
  int64_t vulnerability_source_updated_at_ms = 0;
  int64_t completed_at_ms = 0;
  // Events reporting the scan's end (core/events.h), written by finish_scan
  // in the same transaction; rematch_scan ignores them.
  std::vector<OutboxEvent> events;
};

// How many scans of the whole store wait for a worker or are being run
// (scan_queue_depth).
struct ScanQueueDepth {
  int64_t pending = 0;      // queued, not yet claimed
  int64_t in_progress = 0;  // claimed (a dead worker's too, until its lease is taken over)
};

// One rule of a registry scanning configuration: repositories whose name
// matches one of `repository_filters` (ECR WILDCARD filters) are scanned
// with `scan_frequency` ("SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL").
struct ScanningRule {
  std::string scan_frequency;
  std::vector<std::string> repository_filters;
};

struct RegistryScanningConfiguration {
  std::string scan_type = "BASIC";
  std::vector<ScanningRule> rules;
};

class ScanStore {
 public:
  virtual ~ScanStore() = default;

  // Queues a scan of the manifest `digest` of `repo`: status PENDING,
  // requested at `now_ms`, no lease, no attempts; earlier findings stay
  // readable until the scan finishes. kManifestUnknown when the manifest is
  // not in the repository; kLimitExceeded (nothing changes) when its scan is
  // PENDING or IN_PROGRESS, or was requested at or after `not_since_ms`.
  virtual Status request_scan(RepositoryId repo, const Digest& digest, int64_t now_ms,
                              int64_t not_since_ms) = 0;

  // kNotFound when the manifest was never scanned (or is gone).
  virtual Result<ScanRecord> get_scan(RepositoryId repo, const Digest& digest) = 0;

  // Claims the longest-waiting scan that is PENDING, or IN_PROGRESS with a
  // lease that expired before `now_ms` (its worker died): it becomes
  // IN_PROGRESS, held by `holder` until `until_ms`, attempts + 1, started at
  // `now_ms`. nullopt when there is none. Of concurrent callers at most one
  // gets a given scan.
  virtual Result<std::optional<ScanRecord>> claim_scan(std::string_view holder, int64_t now_ms,
                                                       int64_t until_ms) = 0;

  // Extends `holder`'s lease to `until_ms`. kFailedPrecondition when the scan
  // is no longer IN_PROGRESS under `holder`.
  virtual Status renew_scan_lease(RepositoryId repo, const Digest& digest, std::string_view holder,
                                  int64_t until_ms) = 0;

  // Ends `holder`'s scan with `outcome` in one transaction: status, times,
  // findings replaced, inventory stored when given, lease cleared, and
  // outcome.events appended to the event outbox.
  // kFailedPrecondition (and nothing changes) when `holder` no longer holds it.
  virtual Status finish_scan(RepositoryId repo, const Digest& digest, std::string_view holder,
                             const ScanOutcome& outcome) = 0;

  // The findings of the scan, in the order they were stored; empty when none.
  virtual Result<std::vector<scan::Finding>> scan_findings(RepositoryId repo,
                                                           const Digest& digest) = 0;

  // The scans of those of `digests` that have one in `repo` (a page of
  // images), each with the count of its stored findings per severity: what
  // counting scan_findings by severity gives, whatever the scan's status (a
  // queued re-scan still has the earlier findings). In no particular order,
  // one entry per scanned digest however often it is given; a digest without
  // a scan in `repo` (never scanned, or in another repository only) is left
  // out. One query for all of them, without reading the findings themselves.
  virtual Result<std::vector<ScanSummary>> scan_summaries(RepositoryId repo,
                                                          const std::vector<Digest>& digests) = 0;

  // The PENDING and IN_PROGRESS scans of every repository, counted in one
  // query over the waiting scans only (cheap enough for every metrics scrape).
  virtual Result<ScanQueueDepth> scan_queue_depth() = 0;

  // The inventory stored for the manifest, nullopt when none is.
  virtual Result<std::optional<scan::Inventory>> image_inventory(RepositoryId repo,
                                                                 const Digest& digest) = 0;

  // Up to `limit` COMPLETE scans with a stored inventory whose findings were
  // matched against an import older than `advisory_version`.
  virtual Result<std::vector<ScanRecord>> scans_to_rematch(int64_t advisory_version,
                                                           size_t limit) = 0;

  // Replaces the findings of a COMPLETE scan last matched against import
  // `previous_version` (outcome.status is ignored; the inventory is kept
  // unless given). kFailedPrecondition (nothing changes) when the scan is no
  // longer COMPLETE at that version (rescanned or re-matched meanwhile).
  virtual Status rematch_scan(RepositoryId repo, const Digest& digest, int64_t previous_version,
                              const ScanOutcome& outcome) = 0;

  // The account's configuration; BASIC without rules when none was put.
  virtual Result<RegistryScanningConfiguration> get_registry_scanning_configuration(
      std::string_view account_id) = 0;
  virtual Status put_registry_scanning_configuration(
      std::string_view account_id, const RegistryScanningConfiguration& config) = 0;
};

}  // namespace berth
