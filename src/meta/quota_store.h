// QuotaStore: storage quotas, in bytes, per account and per repository. A
// role of MetadataStore (meta/metadata_store.h); every method is thread-safe
// and atomic, failures are values as described there.
//
// A quota measures what UsageStore (meta/usage_store.h) counts: for a
// repository its linked blobs and its manifests, for an account each distinct
// blob and manifest of its repositories once. A repository quota is keyed by
// the repository's name: it can be set before the repository exists and stays
// when the repository is deleted and created again.
//
// Enforcement is in the writes that add bytes: link_blob, complete_upload
// (BlobLinkStore, UploadStore) and put_manifest (ManifestStore) fail with
// kLimitExceeded, changing nothing, when what they add would take the
// repository or its account over a quota; a blob or manifest the repository
// (for the account quota: the account) already holds adds nothing and is never
// refused. The check and the write are one transaction, so concurrent pushes
// cannot together exceed a quota.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

struct StorageQuota {
  std::string account_id;
  std::optional<std::string> repository;  // nullopt: the account's quota
  int64_t bytes = 0;
};

// The refusal of a write over a quota (kLimitExceeded): "storage quota of
// repository app/x exceeded: 10485760 bytes allowed, 10500000 would be
// stored". `scope` is "repository" or "account", `name` its name or id.
Status quota_exceeded(std::string_view scope, std::string_view name, int64_t allowed,
                      int64_t would_store);

class QuotaStore {
 public:
  virtual ~QuotaStore() = default;

  // Sets (or replaces) the quota of `account_id`, or of its repository named
  // `repository`, to `bytes` (>= 0; kInvalidArgument otherwise). Lowering a
  // quota below current use refuses further growth but removes nothing.
  virtual Status set_quota(std::string_view account_id, std::optional<std::string_view> repository,
                           int64_t bytes) = 0;
  // Removes that quota; kNotFound when none is set.
  virtual Status clear_quota(std::string_view account_id,
                             std::optional<std::string_view> repository) = 0;
  // The quotas of `account_id` (of every account when nullopt), ordered by
  // account, the account's own quota first, then by repository name.
  virtual Result<std::vector<StorageQuota>> list_quotas(
      std::optional<std::string_view> account_id) = 0;
  // Whether adding blob `digest` of `size` bytes to `repo` would pass its
  // quotas now (kLimitExceeded with the enforcement's message if not): lets a
  // caller refuse before doing work the refused write would waste. The write
  // itself checks again.
  virtual Status check_blob_quota(RepositoryId repo, const Digest& digest, int64_t size) = 0;
};

}  // namespace berth
