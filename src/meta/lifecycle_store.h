// LifecycleStore: lifecycle policies, their previews, and the expirations
// they carried out. A role of MetadataStore (meta/metadata_store.h); every
// method is thread-safe and atomic, failures are values as described there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

class LifecycleStore {
 public:
  virtual ~LifecycleStore() = default;

  // Sets (or with nullopt removes) the repository's lifecycle policy text.
  // kNameUnknown when the repository does not exist.
  virtual Status set_lifecycle_policy(RepositoryId repo,
                                      const std::optional<std::string>& text) = 0;
  virtual Status mark_lifecycle_evaluated(RepositoryId repo, int64_t when) = 0;
  // Every repository, in every account, that has a lifecycle policy, by
  // account and name in byte order.
  virtual Result<std::vector<RepositoryRecord>> repositories_with_lifecycle_policy() = 0;
  virtual Status put_lifecycle_preview(RepositoryId repo,
                                       const LifecyclePreviewRecord& preview) = 0;
  // kLifecyclePolicyPreviewNotFound when none was started.
  virtual Result<LifecyclePreviewRecord> get_lifecycle_preview(RepositoryId repo) = 0;
  // Deletes a manifest the lifecycle chose, only if its tags are still exactly
  // `expected_tags`, in any order (kFailedPrecondition otherwise: someone
  // moved a tag since). kManifestUnknown when absent, kManifestReferenced
  // when an index in the repository lists it. Its blobs become candidates.
  // `events` (given the digest and its tags) are written in the same transaction.
  virtual Status expire_manifest(RepositoryId repo, const Digest& digest,
                                 const std::vector<std::string>& expected_tags,
                                 const DeletionEvents& events = {}) = 0;
  virtual Status record_expirations(const std::vector<ExpirationRecord>& expirations) = 0;
  // The most recent `limit` records, newest (last recorded) first; all
  // accounts when `account_id` is empty.
  virtual Result<std::vector<ExpirationRecord>> list_expirations(std::string_view account_id,
                                                                 size_t limit) = 0;
};

}  // namespace berth
