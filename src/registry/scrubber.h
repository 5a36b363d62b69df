// Scrubbing: reads every stored blob, hashes it and compares the result with
// its digest (and its size with the recorded one), so that bit rot and
// truncation are found before a client pulls them. Also reports digests that
// a repository links but whose bytes are gone.
//
// Repair quarantines a bad blob (BlobStore::quarantine) and keeps its links:
// every API then answers that the blob is missing, a client's next push
// uploads it again, and that upload puts good bytes back in place.
//
// Safe beside a running server: a blob collected meanwhile is skipped, and a
// blob a push healed between the check and the repair is left alone.
// Not thread-safe: one pass at a time per Scrubber (the cursor is its state).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "blob/blob_store.h"
#include "core/status.h"
#include "meta/metadata_store.h"

namespace berth {

struct ScrubOptions {
  bool repair = false;                 // quarantine what does not match
  uint64_t rate_bytes_per_second = 0;  // read at most this fast (0: unlimited)
  // Stop after this long and remember where (0: the whole pass). The next
  // run continues there; after the last digest it starts over.
  std::chrono::seconds time_budget{0};
  // Polled between reads; true ends the run early (e.g. the server stops).
  std::function<bool()> should_stop;
};

struct ScrubIssue {
  enum class Kind { kCorrupt, kMissing };
  Kind kind = Kind::kCorrupt;
  Digest digest;
  std::string detail;        // what differs, for people
  bool quarantined = false;  // moved aside by this run
};

struct ScrubReport {
  size_t checked = 0;  // blobs whose bytes were read
  uint64_t bytes = 0;  // bytes read
  size_t corrupt = 0;
  size_t missing = 0;
  size_t quarantined = 0;
  bool complete = false;  // the run reached the last digest
  double seconds = 0;
};

class Scrubber {
 public:
  Scrubber(MetadataStore& meta, BlobStore& blobs) : meta_(meta), blobs_(blobs) {}

  // One run from the cursor. `on_issue` hears each finding as it is made;
  // `progress(done, total)` counts digests (both may be null). Store failures
  // other than a blob vanishing end the run with their Status.
  Result<ScrubReport> run(const ScrubOptions& options,
                          const std::function<void(const ScrubIssue&)>& on_issue,
                          const std::function<void(size_t, size_t)>& progress = nullptr);

 private:
  // Reads and hashes one blob; nullopt when it vanished (collected) meanwhile.
  Result<std::optional<ScrubIssue>> check(const Digest& digest, std::optional<int64_t> recorded,
                                          const ScrubOptions& options, ScrubReport& report);
  // Sleeps as needed so that reading stays under the rate; false when told to stop.
  bool pace(const ScrubOptions& options, uint64_t bytes_so_far);

  MetadataStore& meta_;
  BlobStore& blobs_;
  std::string cursor_;  // the last digest a budgeted run examined
  std::chrono::steady_clock::time_point started_;
  uint64_t paced_bytes_ = 0;  // bytes read this run, for pacing
};

}  // namespace berth
