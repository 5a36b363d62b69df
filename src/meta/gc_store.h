// GcStore: the garbage collector's view: candidate blobs, claims and blobs
// pending deletion. A role of MetadataStore (meta/metadata_store.h); every
// method is thread-safe and atomic, failures are values as described there.
//
// A blob becomes a candidate whenever a link to it appears or a manifest or
// link referring to it goes; the collector looks only at candidates, so a
// pass costs what changed, not the registry's size. A candidate is queued
// once, at the time of the first call that queued it: link_blob's `now`;
// calls that take no time (unlink_blob, delete_manifest, expire_manifest,
// delete_repository) queue at 0, so every pass sees them whatever its clock.
//
// Times are the caller's (its Clock's seconds); a store never reads the wall
// clock itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

class GcStore {
 public:
  virtual ~GcStore() = default;

  // Returns candidates queued strictly before `queued_before`, at most `limit`.
  virtual Result<std::vector<GcCandidate>> gc_candidates(int64_t queued_before, size_t limit) = 0;
  // Adds digests to the candidates (a full scan's findings); already queued
  // ones keep their time.
  virtual Status gc_enqueue(const std::vector<Digest>& digests, int64_t now) = 0;
  // Atomically, and only for a queued candidate (otherwise nullopt and nothing
  // changes, so of concurrent claims of one candidate exactly one wins): when
  // `digest` is referenced by any manifest it stops being a candidate and
  // nullopt is returned; when linked at or after `linked_before`, or being
  // written since `writes_after`, nullopt is returned and it stays a candidate
  // for a later pass. Otherwise (unless `dry_run`) all its links go, it is
  // marked pending deletion, and its size is returned (0 when no link recorded
  // one), recording `now` as the time of the claim. A dry run changes nothing.
  virtual Result<std::optional<int64_t>> gc_claim(const Digest& digest, int64_t linked_before,
                                                  int64_t writes_after, bool dry_run,
                                                  int64_t now) = 0;
  // Drops the candidates among `digests` that a manifest still refers to, in
  // one transaction (checked inside it, so a reference removed meanwhile keeps
  // its candidate). Returns the digests dropped.
  virtual Result<std::vector<Digest>> gc_drop_referenced(const std::vector<Digest>& digests) = 0;
  // The bytes of a claimed blob are gone: forget it.
  virtual Status gc_release(const Digest& digest) = 0;
  // Claimed blobs whose deletion did not finish (a crash), with the `now` of
  // their claim; to finish first.
  virtual Result<std::vector<PendingDeletion>> gc_pending() = 0;
};

}  // namespace berth
