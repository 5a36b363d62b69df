// The pull path's small in-process manifest cache: what resolve_manifest
// answered for (account, repository, reference), served again while the
// metadata store has committed nothing since (its write generation, read
// without I/O, is unchanged) and the entry is younger than a bound. So a hit
// costs no store call, and may be answered on an event-loop thread.
//
// A write in another process (an operator command beside the server) does not
// move this process's generation; the age bound is how long such a change
// may go unseen.
//
// Thread-safe: one mutex, never held across a store call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/records.h"

namespace berth {

class ManifestCache {
 public:
  struct Options {
    size_t max_entries = 4096;
    size_t max_bytes = 16 << 20;           // manifest bytes held, in total
    size_t max_manifest_bytes = 64 << 10;  // larger manifests are not kept
    int64_t max_age_ms = 2000;
  };
  ManifestCache() : ManifestCache(Options{}) {}
  explicit ManifestCache(Options options) : options_(options) {}

  // The entry for the key when it was stored under `generation` no more than
  // max_age_ms before `now_ms`; nullopt otherwise.
  std::optional<ResolvedManifest> get(std::string_view account, std::string_view name,
                                      std::string_view reference, uint64_t generation,
                                      int64_t now_ms) const;
  // Keeps `found`, read from the store at `generation` (taken *before* the
  // read, so that a write racing with it makes the entry stale, never wrong).
  // Entries of older generations are dropped; when full, everything is.
  void put(std::string_view account, std::string_view name, std::string_view reference,
           const ResolvedManifest& found, uint64_t generation, int64_t now_ms);

  size_t size() const;

 private:
  struct Entry {
    ResolvedManifest found;
    int64_t stored_at_ms = 0;
  };
  static std::string key(std::string_view account, std::string_view name,
                         std::string_view reference);

  Options options_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;                         // of every entry; guarded by mu_
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  size_t bytes_ = 0;                                // guarded by mu_
};

}  // namespace berth
