#include "registry/scanning.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "core/manifest.h"
#include "core/wildcard.h"
#include "log/log.h"
#include "meta/metadata_store.h"
#include "registry/registry.h"

namespace berth {

namespace {

constexpr const char* kQuotaMessage =
    "The scan quota per image has been exceeded. Wait and try again.";
constexpr int64_t kConfigCacheMs = 1'000;

// A config media type that makes a manifest a container image (Docker's or OCI's).
bool is_image_config(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.config.v1+json" ||
         media_type == "application/vnd.docker.container.image.v1+json";
}

bool valid_frequency(std::string_view f) {
  return f == "SCAN_ON_PUSH" || f == "CONTINUOUS_SCAN" || f == "MANUAL";
}

}  // namespace

std::optional<std::string> scan_unsupported_reason(const ParsedManifest& parsed) {
  if (parsed.kind == ManifestKind::kIndex) return std::nullopt;
  if (!parsed.config || !is_image_config(parsed.config->media_type)) {
    return fmt::format("the manifest is not a container image (artifact type {})",
                       parsed.artifact_type);
  }
  return std::nullopt;
}

std::string_view severity_label(scan::Severity s) {
  return scan::severity_name(s);
}

ScanningService::ScanningService(MetadataStore& meta, AdvisoryStore* advisories, BlobStore& blobs,
                                 const Clock& clock, ScanningOptions options)
    : meta_(meta),
      advisories_(advisories),
      blobs_(blobs),
      clock_(clock),
      options_(std::move(options)),
      holder_("scan-" + new_upload_id()) {}

ScanningService::~ScanningService() {
  stop();
}

void ScanningService::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& t : threads) t.join();
}

Result<ScanRecord> ScanningService::start_scan(const RepositoryRecord& repo,
                                               const ManifestRecord& manifest) {
  BERTH_ASSIGN_OR_RETURN(ParsedManifest parsed,
                         parse_manifest(manifest.bytes, manifest.media_type));
  if (auto why = scan_unsupported_reason(parsed)) return error(Code::kUnsupported, *why);
  if (parsed.kind == ManifestKind::kIndex)
    return start_index_scans(repo.id, manifest.digest, parsed);
  const int64_t now = clock_.now_millis();
  // Refused when the last request is less than the interval ago (exactly the
  // interval ago is allowed).
  Status s =
      meta_.request_scan(repo.id, manifest.digest, now, now - options_.min_rescan_interval_ms + 1);
  if (s.code() == Code::kLimitExceeded) return error(Code::kLimitExceeded, kQuotaMessage);
  BERTH_RETURN_IF_ERROR(s);
  {
    std::lock_guard lock(mu_);
    ++queued_;
  }
  wake_.notify_one();
  return meta_.get_scan(repo.id, manifest.digest);
}

Result<std::vector<Digest>> ScanningService::platform_images(RepositoryId repo,
                                                             const ParsedManifest& index) {
  std::vector<Digest> out;
  for (const Descriptor& d : index.manifests) {
    // Build attestations (BuildKit's provenance and SBOM manifests) are no platform image.
    auto type = d.annotations.find("vnd.docker.reference.type");
    if (type != d.annotations.end() && type->second == "attestation-manifest") continue;
    auto child = meta_.get_manifest(repo, d.digest);
    if (!child.is_ok()) {
      if (child.status().code() == Code::kManifestUnknown ||
          child.status().code() == Code::kNotFound)
        continue;
      return child.status();
    }
    auto p = parse_manifest(child->bytes, child->media_type);
    if (!p.is_ok() || p->kind != ManifestKind::kImage || scan_unsupported_reason(*p)) continue;
    if (std::find(out.begin(), out.end(), d.digest) == out.end()) out.push_back(d.digest);
  }
  return out;
}

Result<ScanRecord> ScanningService::start_index_scans(RepositoryId repo, const Digest& index,
                                                      const ParsedManifest& parsed) {
  BERTH_ASSIGN_OR_RETURN(std::vector<Digest> children, platform_images(repo, parsed));
  if (children.empty()) return error(Code::kUnsupported, "the index lists no container image");
  const int64_t now = clock_.now_millis();
  size_t queued = 0;
  for (const Digest& child : children) {
    Status s = meta_.request_scan(repo, child, now, now - options_.min_rescan_interval_ms + 1);
    if (s.code() == Code::kLimitExceeded) continue;    // this platform image's quota is used up
    if (s.code() == Code::kManifestUnknown) continue;  // deleted meanwhile
    BERTH_RETURN_IF_ERROR(s);
    ++queued;
  }
  if (queued == 0) return error(Code::kLimitExceeded, kQuotaMessage);
  {
    std::lock_guard lock(mu_);
    queued_ += queued;
  }
  wake_.notify_all();
  // The index itself has no scan: what the caller gets is the state of its
  // platform images' scans, just queued.
  ScanRecord r;
  r.repository = repo;
  r.manifest_digest = index;
  r.status = std::string(kScanPending);
  r.requested_at_ms = now;
  return r;
}

void ScanningService::manifest_pushed(const RepositoryRecord& repo,
                                      const ManifestRecord& manifest) {
  bool wanted = repo.scan_on_push;
  if (!wanted) {
    auto rule = rule_for(repo.account_id, repo.name);
    if (!rule.is_ok()) {
      log::warn("scan-on-push: cannot read the registry scanning configuration",
                {{"error", rule.status().to_string()}});
      return;
    }
    wanted = rule->has_value() && (*rule)->first == "SCAN_ON_PUSH";
  }
  if (!wanted) return;
  auto parsed = parse_manifest(manifest.bytes, manifest.media_type);
  if (!parsed.is_ok() || scan_unsupported_reason(*parsed))
    return;  // artifacts (e.g. SBOMs) are not scanned
  auto started = start_scan(repo, manifest);
  if (!started.is_ok() && started.status().code() != Code::kLimitExceeded) {
    log::warn("scan-on-push: cannot queue the scan", {{"repository", repo.name},
                                                      {"digest", manifest.digest.str()},
                                                      {"error", started.status().to_string()}});
  }
}

Result<ImageScanReport> ScanningService::report(const RepositoryRecord& repo,
                                                const Digest& digest) {
  ImageScanReport out;
  BERTH_ASSIGN_OR_RETURN(out.scan, meta_.get_scan(repo.id, digest));
  if (out.scan.status != kScanComplete) return out;
  BERTH_ASSIGN_OR_RETURN(out.findings, meta_.scan_findings(repo.id, digest));
  for (const auto& f : out.findings) ++out.severity_counts[std::string(severity_label(f.severity))];
  return out;
}

Result<std::map<Digest, ImageScanReport>> ScanningService::summaries(
    const RepositoryRecord& repo, const std::vector<Digest>& digests) {
  BERTH_ASSIGN_OR_RETURN(std::vector<ScanSummary> rows, meta_.scan_summaries(repo.id, digests));
  std::map<Digest, ImageScanReport> out;
  for (ScanSummary& row : rows) {
    ImageScanReport r;
    // As report(): only a COMPLETE scan has a findings summary.
    if (row.scan.status == kScanComplete) {
      for (const auto& [severity, n] : row.severity_counts)
        r.severity_counts[std::string(severity_label(severity))] += n;
    }
    const Digest digest = row.scan.manifest_digest;
    r.scan = std::move(row.scan);
    out.insert_or_assign(digest, std::move(r));
  }
  return out;
}

Result<RegistryScanningConfiguration> ScanningService::registry_configuration(
    std::string_view account) {
  return meta_.get_registry_scanning_configuration(account);
}

Status ScanningService::put_registry_configuration(std::string_view account,
                                                   const RegistryScanningConfiguration& config) {
  if (config.scan_type == "ENHANCED") {
    return error(Code::kUnsupported,
                 "berth supports scanType BASIC only; ENHANCED (Amazon Inspector) scanning is not "
                 "available");
  }
  if (config.scan_type != "BASIC") {
    return error(Code::kInvalidArgument,
                 fmt::format("Invalid parameter at 'scanType' failed to satisfy constraint: "
                             "'Member must satisfy enum value set: [BASIC, ENHANCED]' ({})",
                             config.scan_type));
  }
  if (config.rules.size() > 2)
    return error(Code::kInvalidArgument, "at most 2 scanning rules are allowed");
  for (const ScanningRule& r : config.rules) {
    if (!valid_frequency(r.scan_frequency) || r.scan_frequency == "CONTINUOUS_SCAN") {
      return error(Code::kInvalidArgument,
                   fmt::format("Invalid parameter at 'scanFrequency': '{}' is not valid for BASIC "
                               "scanning (SCAN_ON_PUSH or MANUAL)",
                               r.scan_frequency));
    }
    if (r.repository_filters.empty() || r.repository_filters.size() > 100)
      return error(Code::kInvalidArgument, "a scanning rule needs 1 to 100 repository filters");
    for (const std::string& f : r.repository_filters) {
      if (f.empty() || f.size() > 255 || f.find_first_of("\t\n") != std::string::npos)
        return error(Code::kInvalidArgument, fmt::format("invalid repository filter '{}'", f));
    }
  }
  BERTH_RETURN_IF_ERROR(meta_.put_registry_scanning_configuration(account, config));
  std::lock_guard lock(mu_);
  config_cache_.erase(std::string(account));
  return Status::ok();
}

Result<std::optional<std::pair<std::string, std::string>>> ScanningService::rule_for(
    std::string_view account, std::string_view repository) {
  RegistryScanningConfiguration config;
  const int64_t now = clock_.now_millis();
  bool cached = false;
  {
    std::lock_guard lock(mu_);
    auto it = config_cache_.find(account);
    if (it != config_cache_.end() && now - it->second.read_at_ms < kConfigCacheMs) {
      config = it->second.config;
      cached = true;
    }
  }
  if (!cached) {
    BERTH_ASSIGN_OR_RETURN(config, meta_.get_registry_scanning_configuration(account));
    std::lock_guard lock(mu_);
    config_cache_[std::string(account)] = CachedConfig{config, now};
  }
  // SCAN_ON_PUSH rules win over MANUAL ones when both match, as in ECR.
  std::optional<std::pair<std::string, std::string>> found;
  for (const ScanningRule& r : config.rules) {
    for (const std::string& f : r.repository_filters) {
      if (!wildcard_match(f, repository)) continue;
      if (!found || r.scan_frequency == "SCAN_ON_PUSH") found.emplace(r.scan_frequency, f);
    }
  }
  return found;
}

}  // namespace berth
