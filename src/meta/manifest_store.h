// ManifestStore: manifests, tags, referrers and pull times. A role of
// MetadataStore (meta/metadata_store.h); every method is thread-safe and
// atomic, failures are values as described there.
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

class ManifestStore {
 public:
  virtual ~ManifestStore() = default;

  // Stores the manifest and moves the tag atomically. Fails with
  // kManifestBlobUnknown / kManifestUnknown when a reference is missing from the
  // repository, kTagImmutable as described on PutManifestRequest. Re-putting an
  // existing digest is ok (its bytes are identical by construction); a new one
  // fails with kLimitExceeded (nothing changes) when its bytes would take the
  // repository or its account over a storage quota (meta/quota_store.h).
  virtual Status put_manifest(const PutManifestRequest& req) = 0;
  // kManifestUnknown when absent.
  virtual Result<ManifestRecord> get_manifest(RepositoryId repo, const Digest& digest) = 0;
  virtual Result<ManifestRecord> get_manifest_by_tag(RepositoryId repo, std::string_view tag) = 0;
  // The pull path in one read: the manifest `digest` (when set) or else `tag`
  // names in the account's repository `repo_name`. kNameUnknown when the
  // account has no such repository, kManifestUnknown when it lacks the manifest.
  virtual Result<ResolvedManifest> resolve_manifest(std::string_view account_id,
                                                    std::string_view repo_name,
                                                    const Digest* digest, std::string_view tag) = 0;
  // Deletes the manifest and every tag pointing at it. kManifestUnknown when
  // absent; kManifestReferenced when an index in the repository still lists it.
  // `events` (given the digest and its deleted tags) are written in the same
  // transaction (core/records.h, DeletionEvents).
  virtual Status delete_manifest(RepositoryId repo, const Digest& digest,
                                 const DeletionEvents& events = {}) = 0;
  // kManifestUnknown when the tag does not exist. `events` (given the digest
  // it pointed at and the tag) are written in the same transaction.
  virtual Status delete_tag(RepositoryId repo, std::string_view tag,
                            const DeletionEvents& events = {}) = 0;
  // Deletes one image in one transaction (ECR BatchDeleteImage). With `tag`:
  // removes that tag, which must point at `digest` (kManifestUnknown
  // otherwise, and nothing changes); when it was the manifest's last tag the
  // manifest goes too, unless an index in the repository lists it (then it
  // stays and kept_for_index names the index). Without `tag`: deletes the
  // manifest and every tag pointing at it; kManifestUnknown when absent,
  // kManifestReferenced (nothing changes) when an index lists it. A deleted
  // manifest's blobs become gc candidates, as for delete_manifest. `events`
  // (given the digest and the tags removed: `tag`, or every tag of the
  // manifest) are written in the same transaction.
  virtual Result<ImageDeletion> delete_image(RepositoryId repo, const Digest& digest,
                                             std::optional<std::string_view> tag,
                                             const DeletionEvents& events = {}) = 0;
  // The repository's tags in byte order (PageRequest), paged by name.
  virtual Result<std::vector<std::string>> list_tags(RepositoryId repo,
                                                     const PageRequest& page) = 0;
  // Manifests in `repo` whose subject is `subject`, optionally only those with
  // `artifact_type`, ordered by digest.
  virtual Result<std::vector<ReferrerRecord>> list_referrers(
      RepositoryId repo, const Digest& subject, std::optional<std::string_view> artifact_type) = 0;
  // All images of a repository with their tags, ordered by digest, paged by
  // digest. Manifest bytes are not filled in.
  virtual Result<std::vector<ImageRecord>> list_images(RepositoryId repo,
                                                       const PageRequest& page) = 0;
  // Tags pointing at `digest`, in byte order.
  virtual Result<std::vector<std::string>> tags_for_manifest(RepositoryId repo,
                                                             const Digest& digest) = 0;
  // Records a pull time in milliseconds since the epoch (best effort; may be
  // coalesced; never moves a recorded time backwards). Durability as for
  // upload sessions (meta/upload_store.h): visible at once, durable lazily.
  virtual Status record_pull(RepositoryId repo, const Digest& digest, int64_t when_ms) = 0;
};

}  // namespace berth
