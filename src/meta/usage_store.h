// UsageStore: bytes stored per repository and per account. A role of
// MetadataStore (meta/metadata_store.h); every method is thread-safe and
// atomic, failures are values as described there.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace berth {

class UsageStore {
 public:
  virtual ~UsageStore() = default;

  // Bytes (blobs and manifests) per repository of an account, shared layers
  // counted once per repository, and in total, each blob and manifest once.
  // Every repository of the account is listed, an empty one with 0.
  virtual Result<std::vector<RepositoryUsage>> repository_usage(std::string_view account_id) = 0;
  virtual Result<int64_t> account_usage(std::string_view account_id) = 0;
};

}  // namespace berth
