// Online garbage collection of blob bytes. Runs beside pushes and pulls with no
// read-only mode and no global lock: each candidate blob is claimed in its own
// short metadata transaction, which either proves that no manifest refers to
// it and no link or write is younger than the grace period (then its links go
// and it is marked pending deletion, so that a concurrent upload of the same
// digest is refused with a retryable error instead of racing the delete), or
// drops it. Bytes are deleted only after a successful claim.
//
// Manifests: in repositories tagged (ECR TagResource) with
// `berth:gc-untagged` = `true`, untagged manifests that no index lists and
// that are not referrers of a manifest present are deleted once older than
// the grace period, before blobs are examined.
//
// Incremental: only blobs that became candidates (a link appeared, a manifest
// or link referring to them went) are examined. enqueue_unlinked() finds the
// rest with a full scan of the blob store, for operators.
#pragma once

#include <functional>

#include "blob/blob_store.h"
#include "blob/space_reserve.h"
#include "core/clock.h"
#include "core/status.h"
#include "meta/metadata_store.h"

namespace berth {

struct GcOptions {
  int64_t grace_seconds = 3600;
  bool dry_run = false;
  // Blob writes older than this are considered abandoned (a crashed process),
  // and so are deletions a pass claimed longer ago than this and never
  // finished: a pass takes those over (one pass wins each) and finishes them.
  // Younger claims are left to the pass that made them, which may still be
  // running on another node.
  int64_t stale_write_seconds = 3600;
  // Released when the pass meets a full disk, then the pass runs once more
  // (see SpaceReserve); may be null. Restoring it is the caller's business.
  SpaceReserve* space_reserve = nullptr;
};

inline constexpr std::string_view kGcUntaggedTag = "berth:gc-untagged";

struct GcReport {
  size_t untagged_manifests = 0;
  size_t examined = 0;
  size_t reclaimed_blobs = 0;
  int64_t reclaimed_bytes = 0;
  double seconds = 0;
};

class GarbageCollector {
 public:
  GarbageCollector(MetadataStore& meta, BlobStore& blobs, const Clock& clock)
      : meta_(meta), blobs_(blobs), clock_(clock) {}

  // One pass. `progress(done, total)` is called as candidates are examined.
  // kStorageFull when the disk is full and no reserve could be released.
  Result<GcReport> run(const GcOptions& options,
                       const std::function<void(size_t, size_t)>& progress = nullptr);
  // Queues every stored blob no repository links (e.g. left by a crash between
  // storing and linking). Returns how many were queued.
  Result<size_t> enqueue_unlinked();

 private:
  Result<GcReport> run_once(const GcOptions& options,
                            const std::function<void(size_t, size_t)>& progress);
  Result<size_t> collect_untagged(const GcOptions& options);
  Status finish_abandoned_deletions(const GcOptions& options);

  MetadataStore& meta_;
  BlobStore& blobs_;
  const Clock& clock_;
};

}  // namespace berth
