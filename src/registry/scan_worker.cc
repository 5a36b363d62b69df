// ScanningService's workers (registry/scanning.h): claiming scans, reading
// layers into an inventory, matching it against the imported advisories, and
// re-matching completed scans after a newer import.
#include <algorithm>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "blob/blob_store.h"
#include "core/events.h"
#include "core/manifest.h"
#include "log/log.h"
#include "meta/advisory_store.h"
#include "meta/metadata_store.h"
#include "registry/registry.h"
#include "registry/scanning.h"
#include "scan/inventory.h"
#include "scan/match.h"

namespace berth {

namespace {

constexpr const char* kCompleteDescription = "The scan was completed successfully.";
constexpr size_t kRematchBatch = 16;

// An outcome that ends a scan without findings.
ScanOutcome ended(std::string_view status, std::string description, int64_t now_ms) {
  ScanOutcome o;
  o.status = std::string(status);
  o.description = std::move(description);
  o.completed_at_ms = now_ms;
  return o;
}

}  // namespace

void ScanningService::start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty() || stopping_) return;
  for (size_t i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

void ScanningService::worker_loop() {
  while (true) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      seen = queued_;
    }
    auto did = run_once();
    if (!did.is_ok()) log::error("scan worker pass failed", {{"error", did.status().to_string()}});
    if (did.is_ok() && *did) continue;
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                   [&] { return stopping_ || queued_ != seen; });
  }
}

Result<bool> ScanningService::run_once() {
  const int64_t now = clock_.now_millis();
  BERTH_ASSIGN_OR_RETURN(auto claimed, meta_.claim_scan(holder_, now, now + options_.lease_ms));
  if (claimed) {
    log::debug("scan claimed",
               {{"digest", claimed->manifest_digest.str()}, {"attempt", claimed->attempts}});
    const auto claimed_at = std::chrono::steady_clock::now();
    if (observer_.started) observer_.started();
    auto report_end = [&](std::string_view status) {
      if (observer_.ended) observer_.ended(status, std::chrono::steady_clock::now() - claimed_at);
    };
    if (options_.test_delay.count() > 0) std::this_thread::sleep_for(options_.test_delay);
    auto done = run_scan(*claimed);
    if (done.is_ok()) {
      report_end(*done);
      return true;
    }
    // The store failed us (not the image): record a FAILED scan so the
    // caller sees it; a lost lease means another worker has it now.
    const Status& s = done.status();
    if (s.code() == Code::kFailedPrecondition) return true;
    log::error("scan failed",
               {{"digest", claimed->manifest_digest.str()}, {"error", s.to_string()}});
    ScanOutcome failed = ended(kScanFailed, "The scan failed: " + s.message(), clock_.now_millis());
    Status recorded = finish(claimed->repository, claimed->manifest_digest, failed);
    if (recorded.code() == Code::kFailedPrecondition) return true;
    report_end(kScanFailed);
    if (!recorded.is_ok()) return recorded;
    return true;
  }
  BERTH_ASSIGN_OR_RETURN(size_t rematched, rematch_some());
  if (rematched > 0 && observer_.rematched) observer_.rematched(rematched);
  return rematched > 0;
}

Result<std::vector<scan::Finding>> ScanningService::match(const scan::Inventory& inventory,
                                                          const std::string& ecosystem) {
  std::set<std::string> names;
  for (const auto& p : inventory.packages)
    names.insert(p.source_name.empty() ? p.name : p.source_name);
  if (advisories_ == nullptr) return std::vector<scan::Finding>{};
  BERTH_ASSIGN_OR_RETURN(
      auto candidates,
      advisories_->advisories_for(ecosystem, std::vector<std::string>(names.begin(), names.end())));
  return scan::match(inventory, ecosystem, candidates);
}

Status ScanningService::finish(RepositoryId repo, const Digest& digest, ScanOutcome& outcome) {
  if (options_.record_events) {
    // The repository and the image's tags as they are now; the event goes in
    // the scan's own transaction, so a finished scan always has it.
    BERTH_ASSIGN_OR_RETURN(RepositoryRecord record, meta_.get_repository_by_id(repo));
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> tags, meta_.tags_for_manifest(repo, digest));
    std::map<scan::Severity, int64_t> by_severity;
    for (const auto& f : outcome.findings) ++by_severity[f.severity];
    std::vector<std::pair<std::string, int64_t>> counts;
    for (const auto& [severity, n] : by_severity)
      counts.emplace_back(std::string(severity_label(severity)), n);
    outcome.events.push_back(image_scan_event(new_event_id(), record.account_id, record.name,
                                              digest.str(), tags, outcome.status, counts,
                                              outcome.completed_at_ms));
  }
  return meta_.finish_scan(repo, digest, holder_, outcome);
}

Result<std::string_view> ScanningService::run_scan(const ScanRecord& scan) {
  const RepositoryId repo = scan.repository;
  const Digest& digest = scan.manifest_digest;
  auto finish = [&](auto&& o) -> Result<std::string_view> {
    ScanOutcome& outcome = o;
    BERTH_RETURN_IF_ERROR(this->finish(repo, digest, outcome));
    return outcome.status == kScanComplete ? kScanComplete : kScanUnsupportedImage;
  };
  BERTH_ASSIGN_OR_RETURN(ManifestRecord manifest, meta_.get_manifest(repo, digest));
  BERTH_ASSIGN_OR_RETURN(ParsedManifest parsed,
                         parse_manifest(manifest.bytes, manifest.media_type));
  if (auto why = scan_unsupported_reason(parsed))
    return finish(ended(kScanUnsupportedImage, *why, clock_.now_millis()));

  if (parsed.kind == ManifestKind::kIndex) {
    // Queued before indexes were scanned per platform image: queue those
    // (any still within their quota keep their scan) and end this one.
    auto queued = start_index_scans(repo, digest, parsed);
    if (!queued.is_ok() && queued.status().code() != Code::kLimitExceeded &&
        queued.status().code() != Code::kUnsupported)
      return queued.take_status();
    return finish(ended(kScanUnsupportedImage,
                        "An image index is not scanned itself: each platform image it lists has "
                        "its own scan",
                        clock_.now_millis()));
  }

  scan::InventoryReader reader;
  for (const Descriptor& layer : parsed.layers) {
    BERTH_RETURN_IF_ERROR(
        meta_.renew_scan_lease(repo, digest, holder_, clock_.now_millis() + options_.lease_ms));
    BERTH_ASSIGN_OR_RETURN(auto bytes, blobs_.open(layer.digest));
    Status added = reader.add_layer(*bytes);
    if (added.code() == Code::kUnsupported) {
      return finish(ended(kScanUnsupportedImage,
                          fmt::format("UnsupportedImageError: layer {} cannot be read: {}",
                                      layer.digest.str(), added.message()),
                          clock_.now_millis()));
    }
    if (!added.is_ok()) return added;
  }
  BERTH_ASSIGN_OR_RETURN(scan::Inventory inventory, reader.finish());

  if (!inventory.os) {
    return finish(ended(kScanUnsupportedImage,
                        "UnsupportedImageError: the image's operating system is unknown (it has "
                        "no os-release)",
                        clock_.now_millis()));
  }
  const std::optional<std::string> ecosystem = scan::ecosystem_of(*inventory.os);
  if (!ecosystem) {
    return finish(ended(kScanUnsupportedImage,
                        fmt::format("UnsupportedImageError: the operating system {} {} is not "
                                    "supported",
                                    inventory.os->id, inventory.os->version_id),
                        clock_.now_millis()));
  }
  std::optional<AdvisoryImportRecord> import;
  if (advisories_ != nullptr) {
    BERTH_ASSIGN_OR_RETURN(import, advisories_->latest_advisory_import());
  }
  ScanOutcome o;
  o.status = std::string(kScanComplete);
  o.description = kCompleteDescription;
  BERTH_ASSIGN_OR_RETURN(o.findings, match(inventory, *ecosystem));
  o.inventory = std::move(inventory);
  o.advisory_version = import ? import->version : 0;
  o.vulnerability_source_updated_at_ms = import ? import->produced_at_ms : 0;
  o.completed_at_ms = clock_.now_millis();
  BERTH_ASSIGN_OR_RETURN(std::string_view status, finish(o));
  if (completed_) {
    Status s = completed_(repo, manifest, *o.inventory);
    if (!s.is_ok()) {
      log::warn("a completed scan's follow-up failed",
                {{"digest", digest.str()}, {"error", s.to_string()}});
    }
  }
  return status;
}

Result<size_t> ScanningService::rematch_some() {
  if (advisories_ == nullptr) return size_t{0};
  BERTH_ASSIGN_OR_RETURN(auto import, advisories_->latest_advisory_import());
  if (!import) return size_t{0};
  BERTH_ASSIGN_OR_RETURN(auto due, meta_.scans_to_rematch(import->version, kRematchBatch));
  size_t done = 0;
  for (const ScanRecord& s : due) {
    BERTH_ASSIGN_OR_RETURN(auto inventory, meta_.image_inventory(s.repository, s.manifest_digest));
    if (!inventory || !inventory->os) continue;
    auto ecosystem = scan::ecosystem_of(*inventory->os);
    if (!ecosystem) continue;
    ScanOutcome o;
    o.description = kCompleteDescription;
    BERTH_ASSIGN_OR_RETURN(o.findings, match(*inventory, *ecosystem));
    o.advisory_version = import->version;
    o.vulnerability_source_updated_at_ms = import->produced_at_ms;
    o.completed_at_ms = s.completed_at_ms;
    Status st = meta_.rematch_scan(s.repository, s.manifest_digest, s.advisory_version, o);
    if (st.code() == Code::kFailedPrecondition) continue;  // rescanned or re-matched meanwhile
    BERTH_RETURN_IF_ERROR(st);
    ++done;
  }
  if (done > 0) log::info("re-matched scans after an advisory import", {{"scans", done}});
  return done;
}

}  // namespace berth
