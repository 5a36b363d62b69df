#include "registry/garbage_collector.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "registry/registry.h"

namespace berth {

Result<GcReport> GarbageCollector::run(const GcOptions& options,
                                       const std::function<void(size_t, size_t)>& progress) {
  // A pass is idempotent (every candidate is re-examined), so on a full disk
  // it simply runs again once the reserve has made room for its metadata.
  std::optional<GcReport> report;
  Status st = run_releasing_reserve(options.space_reserve, "garbage collection", [&]() -> Status {
    auto r = run_once(options, progress);
    if (!r) return r.take_status();
    report = std::move(r).value();
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return *report;
}

Result<GcReport> GarbageCollector::run_once(const GcOptions& options,
                                            const std::function<void(size_t, size_t)>& progress) {
  auto started = std::chrono::steady_clock::now();
  GcReport report;
  if (!options.dry_run) BERTH_RETURN_IF_ERROR(finish_abandoned_deletions(options));
  BERTH_ASSIGN_OR_RETURN(report.untagged_manifests, collect_untagged(options));
  const int64_t now = clock_.now_seconds();
  BERTH_ASSIGN_OR_RETURN(auto candidates, meta_.gc_candidates(now + 1, 1'000'000));
  // Most candidates are blobs a new manifest now refers to: drop those in
  // batches, one transaction each, before claiming the rest one by one.
  std::set<std::string> referenced;
  if (!options.dry_run) {
    constexpr size_t kBatch = 1000;
    for (size_t i = 0; i < candidates.size(); i += kBatch) {
      std::vector<Digest> batch;
      for (size_t j = i; j < std::min(candidates.size(), i + kBatch); ++j)
        batch.push_back(candidates[j].digest);
      BERTH_ASSIGN_OR_RETURN(auto dropped, meta_.gc_drop_referenced(batch));
      for (const auto& d : dropped) referenced.insert(d.str());
    }
  }
  for (const auto& c : candidates) {
    if (referenced.count(c.digest.str())) {
      ++report.examined;
      if (progress) progress(report.examined, candidates.size());
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(auto size,
                           meta_.gc_claim(c.digest, now - options.grace_seconds,
                                          now - options.stale_write_seconds, options.dry_run, now));
    ++report.examined;
    if (size) {
      if (*size == 0) {  // no link recorded its size (an orphan): ask the store
        auto stored = blobs_.stat(c.digest);
        if (stored) size = static_cast<int64_t>(*stored);
      }
      if (!options.dry_run) {
        BERTH_RETURN_IF_ERROR(blobs_.remove(c.digest));
        BERTH_RETURN_IF_ERROR(meta_.gc_release(c.digest));
      }
      ++report.reclaimed_blobs;
      report.reclaimed_bytes += *size;
    }
    if (progress) progress(report.examined, candidates.size());
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

// Deletions a crashed pass claimed: their links are already gone. A claim
// younger than stale_write_seconds may belong to a pass still running (on
// another node): finishing it too could remove bytes uploaded again after that
// pass released the digest, so it is left alone. An older one is taken over by
// claiming it afresh, in the order queue, re-read, claim: of several passes
// taking the same one over, the claim of at most one finds it queued with its
// old claim time (a pass re-reading after another's claim sees the new time;
// one re-reading before it finds the queue entry gone when it claims).
Status GarbageCollector::finish_abandoned_deletions(const GcOptions& options) {
  const int64_t now = clock_.now_seconds();
  const int64_t stale_before = now - options.stale_write_seconds;
  BERTH_ASSIGN_OR_RETURN(auto pending, meta_.gc_pending());
  std::map<std::string, int64_t> abandoned;  // digest -> the claim time seen
  std::vector<Digest> digests;
  for (const auto& p : pending) {
    if (p.claimed_at >= stale_before) continue;
    abandoned.emplace(p.digest.str(), p.claimed_at);
    digests.push_back(p.digest);
  }
  if (digests.empty()) return Status::ok();
  BERTH_RETURN_IF_ERROR(meta_.gc_enqueue(digests, now));
  BERTH_ASSIGN_OR_RETURN(auto reread, meta_.gc_pending());
  for (const auto& p : reread) {
    auto it = abandoned.find(p.digest.str());
    if (it == abandoned.end() || it->second != p.claimed_at) continue;  // another pass has it
    BERTH_ASSIGN_OR_RETURN(auto retaken,
                           meta_.gc_claim(p.digest, now - options.grace_seconds, stale_before,
                                          /*dry_run=*/false, now));
    if (!retaken) continue;
    BERTH_RETURN_IF_ERROR(blobs_.remove(p.digest));
    BERTH_RETURN_IF_ERROR(meta_.gc_release(p.digest));
  }
  return Status::ok();
}

Result<size_t> GarbageCollector::collect_untagged(const GcOptions& options) {
  BERTH_ASSIGN_OR_RETURN(auto repos, meta_.repositories_with_resource_tag(kGcUntaggedTag, "true"));
  const int64_t cutoff = clock_.now_seconds() - options.grace_seconds;
  size_t n = 0;
  for (const auto& repo : repos) {
    BERTH_ASSIGN_OR_RETURN(auto images, meta_.list_images(repo.id, PageRequest{}));
    std::set<std::string> present;
    std::set<std::string> listed;
    for (const auto& img : images) {
      present.insert(img.manifest.digest.str());
      for (const auto& c : img.children) listed.insert(c.str());
    }
    // Indexes first: their children become collectable in the next pass.
    for (const auto& img : images) {
      const auto& m = img.manifest;
      if (!img.tags.empty() || m.pushed_at_ms / 1000 >= cutoff || listed.count(m.digest.str()))
        continue;
      if (m.subject && present.count(m.subject->str())) continue;  // a referrer of something kept
      if (options.dry_run) {
        ++n;
        continue;
      }
      // Only if still untagged: a tag pushed meanwhile keeps it.
      Status s = meta_.expire_manifest(repo.id, m.digest, {});
      if (s.is_ok()) ++n;
    }
  }
  return n;
}

Result<size_t> GarbageCollector::enqueue_unlinked() {
  BERTH_ASSIGN_OR_RETURN(auto stored, blobs_.list());
  // gc_claim re-checks everything, so queueing linked blobs too is harmless;
  // it only costs a look at each.
  BERTH_RETURN_IF_ERROR(meta_.gc_enqueue(stored, 0));
  return stored.size();
}

}  // namespace berth
