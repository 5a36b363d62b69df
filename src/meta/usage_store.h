// UsageStore: bytes stored per repository and per account. A role of
// MetadataStore (meta/metadata_store.h); every method is thread-safe and
// atomic, failures are values as described there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace berth {

// One storage sample: the bytes of a repository (`repository` empty: of the
// whole account, each blob and manifest once) at `sampled_at_ms`.
struct StorageSampleRow {
  std::string account_id;
  std::string repository;
  int64_t sampled_at_ms = 0;
  int64_t bytes = 0;
};

// Bytes sent for blob and manifest GETs of a repository within the hour that
// starts at `hour_ms` (a multiple of 3,600,000).
struct TransferRow {
  std::string account_id;
  std::string repository;
  int64_t hour_ms = 0;
  int64_t bytes = 0;
};

class UsageStore {
 public:
  virtual ~UsageStore() = default;

  // Bytes (blobs and manifests) per repository of an account, shared layers
  // counted once per repository, and in total, each blob and manifest once.
  // Every repository of the account is listed, an empty one with 0.
  virtual Result<std::vector<RepositoryUsage>> repository_usage(std::string_view account_id) = 0;
  virtual Result<int64_t> account_usage(std::string_view account_id) = 0;

  // Writes `rows` in one transaction (all or none); a row for a key
  // (account, repository, time) already stored replaces it.
  virtual Status put_storage_samples(const std::vector<StorageSampleRow>& rows) = 0;

  // The samples of `account_id` (empty: every account) taken in
  // [from_ms, to_ms), and per series (account, repository) the last one taken
  // before from_ms, which still holds at from_ms. Ordered by account,
  // repository (bytewise, the account's own series "" first), then time.
  virtual Result<std::vector<StorageSampleRow>> storage_samples(std::string_view account_id,
                                                                int64_t from_ms, int64_t to_ms) = 0;

  // Adds each row's bytes to its (account, repository, hour) bucket, creating
  // it at 0 first; one transaction, so a failure adds none. Rows for the same
  // bucket add up.
  virtual Status add_transfer(const std::vector<TransferRow>& rows) = 0;

  // The buckets of `account_id` (empty: every account) whose hour starts in
  // [from_ms, to_ms), ordered by account, repository (bytewise), hour.
  virtual Result<std::vector<TransferRow>> transfer(std::string_view account_id, int64_t from_ms,
                                                    int64_t to_ms) = 0;

  // Deletes the storage samples taken and the transfer buckets whose hour
  // starts before `before_ms`. Returns how many rows went.
  virtual Result<size_t> prune_usage(int64_t before_ms) = 0;
};

}  // namespace berth
