// MetadataStore: everything berth knows besides blob bytes: repositories,
// manifests, tags, which repository may see which blob, upload sessions and
// referrers. Implementations: sqlite/ (embedded). A PostgreSQL store fits behind
// the same interface; every implementation runs tests/unit/metadata_store_conformance.
//
// Every method is thread-safe and atomic: it either happens whole or not at all.
// Failures are values: kNameUnknown, kManifestUnknown, kBlobUnknown,
// kBlobUploadUnknown and friends, or kInternal/kUnavailable for store trouble.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // --- repositories --------------------------------------------------------
  // kAlreadyExists when (account, name) exists.
  virtual Result<RepositoryRecord> create_repository(const RepositoryRecord& repo) = 0;
  // Returns the existing repository or creates it with defaults.
  virtual Result<RepositoryRecord> ensure_repository(std::string_view account_id,
                                                     std::string_view name, int64_t now) = 0;
  // kNameUnknown when absent.
  virtual Result<RepositoryRecord> get_repository(std::string_view account_id,
                                                  std::string_view name) = 0;
  virtual Result<std::vector<RepositoryRecord>> list_repositories(std::string_view account_id,
                                                                  const PageRequest& page) = 0;
  // Replaces the mutable ECR settings of a repository.
  virtual Status update_repository(const RepositoryRecord& repo) = 0;
  // Deletes the repository with its manifests, tags, links and uploads.
  // kRepositoryNotEmpty when it has manifests and `force` is false.
  virtual Status delete_repository(RepositoryId id, bool force) = 0;

  // --- blobs ----------------------------------------------------------------
  // Makes blob `digest` (already stored in the BlobStore) visible in `repo`.
  virtual Status link_blob(RepositoryId repo, const Digest& digest, int64_t size, int64_t now) = 0;
  // kBlobUnknown when the repository may not see the blob.
  virtual Result<BlobLink> get_blob_link(RepositoryId repo, const Digest& digest) = 0;
  // kBlobUnknown when not linked.
  virtual Status unlink_blob(RepositoryId repo, const Digest& digest) = 0;
  // Repositories of `account` that link `digest` (for mounts without `from`).
  virtual Result<std::vector<RepositoryId>> repositories_with_blob(std::string_view account_id,
                                                                  const Digest& digest) = 0;
  // Every digest some repository links, once, with its recorded size (the
  // largest, should links disagree), ordered by digest (for `berth scrub`).
  virtual Result<std::vector<BlobLink>> linked_blobs() = 0;

  // --- uploads ---------------------------------------------------------------
  // Durability: upload sessions, their leases, blob-write announcements and
  // pull times must be visible to every process and node as soon as the call
  // returns, but need not survive power loss on their own (an upload's bytes
  // are not synced before the blob is finished either). A store may make them
  // durable lazily; everything else is durable when the call returns.
  virtual Status create_upload(const UploadRecord& upload) = 0;
  // kBlobUploadUnknown when absent.
  virtual Result<UploadRecord> get_upload(std::string_view id) = 0;
  virtual Status delete_upload(std::string_view id) = 0;
  // Exclusive right to write an upload, across processes and nodes: granted
  // when free, expired (its `until` is before `now`), or already `holder`'s
  // (then extended to `until`). kBlobUploadInvalid while someone else holds
  // it; kBlobUploadUnknown when the upload does not exist. Of concurrent
  // callers for a free lease exactly one gets it.
  virtual Status acquire_upload_lease(std::string_view id, std::string_view holder, int64_t now, int64_t until) = 0;
  // Frees the lease at once if `holder` has it; otherwise changes nothing.
  virtual Status release_upload_lease(std::string_view id, std::string_view holder) = 0;
  virtual Result<std::vector<UploadRecord>> uploads_started_before(int64_t when) = 0;

  // --- manifests and tags ------------------------------------------------------
  // Stores the manifest and moves the tag atomically. Fails with
  // kManifestBlobUnknown / kManifestUnknown when a reference is missing from the
  // repository, kTagImmutable as described on PutManifestRequest. Re-putting an
  // existing digest is ok (its bytes are identical by construction).
  virtual Status put_manifest(const PutManifestRequest& req) = 0;
  // kManifestUnknown when absent.
  virtual Result<ManifestRecord> get_manifest(RepositoryId repo, const Digest& digest) = 0;
  virtual Result<ManifestRecord> get_manifest_by_tag(RepositoryId repo, std::string_view tag) = 0;
  // The pull path in one read: the manifest `digest` (when set) or else `tag`
  // names in the account's repository `repo_name`. kNameUnknown when the
  // account has no such repository, kManifestUnknown when it lacks the manifest.
  virtual Result<ResolvedManifest> resolve_manifest(std::string_view account_id, std::string_view repo_name,
                                                    const Digest* digest, std::string_view tag) = 0;
  // Deletes the manifest and every tag pointing at it. kManifestUnknown when
  // absent; kManifestReferenced when an index in the repository still lists it.
  virtual Status delete_manifest(RepositoryId repo, const Digest& digest) = 0;
  // kManifestUnknown when the tag does not exist.
  virtual Status delete_tag(RepositoryId repo, std::string_view tag) = 0;
  // Deletes one image in one transaction (ECR BatchDeleteImage). With `tag`:
  // removes that tag, which must point at `digest` (kManifestUnknown
  // otherwise, and nothing changes); when it was the manifest's last tag the
  // manifest goes too, unless an index in the repository lists it (then it
  // stays and kept_for_index names the index). Without `tag`: deletes the
  // manifest and every tag pointing at it; kManifestUnknown when absent,
  // kManifestReferenced (nothing changes) when an index lists it. A deleted
  // manifest's blobs become gc candidates, as for delete_manifest.
  virtual Result<ImageDeletion> delete_image(RepositoryId repo, const Digest& digest,
                                             std::optional<std::string_view> tag) = 0;
  virtual Result<std::vector<std::string>> list_tags(RepositoryId repo, const PageRequest& page) = 0;
  // Manifests in `repo` whose subject is `subject`, optionally only those with
  // `artifact_type`, ordered by digest.
  virtual Result<std::vector<ReferrerRecord>> list_referrers(
      RepositoryId repo, const Digest& subject, std::optional<std::string_view> artifact_type) = 0;
  // All images of a repository with their tags, ordered by digest, paged by
  // digest. Manifest bytes are not filled in.
  virtual Result<std::vector<ImageRecord>> list_images(RepositoryId repo, const PageRequest& page) = 0;
  // Tags pointing at `digest`, sorted.
  virtual Result<std::vector<std::string>> tags_for_manifest(RepositoryId repo, const Digest& digest) = 0;
  // Records a pull time in milliseconds since the epoch (best effort; may be
  // coalesced; never moves a recorded time backwards).
  virtual Status record_pull(RepositoryId repo, const Digest& digest, int64_t when_ms) = 0;

  // --- lifecycle policies -----------------------------------------------------------
  // Sets (or with nullopt removes) the repository's lifecycle policy text.
  // kNameUnknown when the repository does not exist.
  virtual Status set_lifecycle_policy(RepositoryId repo, const std::optional<std::string>& text) = 0;
  virtual Status mark_lifecycle_evaluated(RepositoryId repo, int64_t when) = 0;
  // Every repository, in every account, that has a lifecycle policy.
  virtual Result<std::vector<RepositoryRecord>> repositories_with_lifecycle_policy() = 0;
  virtual Status put_lifecycle_preview(RepositoryId repo, const LifecyclePreviewRecord& preview) = 0;
  // kLifecyclePolicyPreviewNotFound when none was started.
  virtual Result<LifecyclePreviewRecord> get_lifecycle_preview(RepositoryId repo) = 0;
  // Deletes a manifest the lifecycle chose, only if its tags are still exactly
  // `expected_tags`, in any order (kFailedPrecondition otherwise: someone
  // moved a tag since). kManifestUnknown when absent, kManifestReferenced
  // when an index in the repository lists it. Its blobs become candidates.
  virtual Status expire_manifest(RepositoryId repo, const Digest& digest,
                                 const std::vector<std::string>& expected_tags) = 0;
  virtual Status record_expirations(const std::vector<ExpirationRecord>& expirations) = 0;
  // The most recent `limit` records, newest (last recorded) first; all
  // accounts when `account_id` is empty.
  virtual Result<std::vector<ExpirationRecord>> list_expirations(std::string_view account_id, size_t limit) = 0;

  // --- garbage collection ---------------------------------------------------------------
  // A blob becomes a candidate whenever a link to it appears or a manifest or
  // link referring to it goes; the collector looks only at candidates, so a
  // pass costs what changed, not the registry's size. A candidate is queued
  // once, at the time of the first call that queued it: link_blob's `now`;
  // calls that take no time (unlink_blob, delete_manifest, expire_manifest,
  // delete_repository) queue at 0, so every pass sees them whatever its clock.
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
  // one). A dry run changes nothing.
  virtual Result<std::optional<int64_t>> gc_claim(const Digest& digest, int64_t linked_before,
                                                  int64_t writes_after, bool dry_run) = 0;
  // Drops the candidates among `digests` that a manifest still refers to, in
  // one transaction (checked inside it, so a reference removed meanwhile keeps
  // its candidate). Returns the digests dropped.
  virtual Result<std::vector<Digest>> gc_drop_referenced(const std::vector<Digest>& digests) = 0;
  // The bytes of a claimed blob are gone: forget it.
  virtual Status gc_release(const Digest& digest) = 0;
  // Claimed blobs whose deletion did not finish (a crash); to finish first.
  virtual Result<std::vector<Digest>> gc_pending() = 0;
  // A blob write announces itself before the bytes are renamed into place and
  // ends once linked; kUnavailable while the digest is pending deletion.
  // Writes of one digest are counted: it is being written until every
  // begin_blob_write has had its end_blob_write.
  virtual Status begin_blob_write(const Digest& digest, int64_t now) = 0;
  virtual Status end_blob_write(const Digest& digest) = 0;
  // The last step of an upload, in one transaction: link_blob, end_blob_write
  // and delete_upload. kUnavailable (and nothing changes) while the digest is
  // pending deletion.
  virtual Status complete_upload(RepositoryId repo, const Digest& digest, int64_t size, std::string_view upload_id,
                                 int64_t now) = 0;
  // Bytes (blobs and manifests) per repository of an account, shared layers
  // counted once per repository, and in total, each blob and manifest once.
  // Every repository of the account is listed, an empty one with 0.
  virtual Result<std::vector<RepositoryUsage>> repository_usage(std::string_view account_id) = 0;
  virtual Result<int64_t> account_usage(std::string_view account_id) = 0;

  // --- resource tags (ECR TagResource) ------------------------------------------
  // Sorted by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> get_resource_tags(RepositoryId repo) = 0;
  // Repositories, in every account, carrying resource tag `key` = `value`.
  virtual Result<std::vector<RepositoryRecord>> repositories_with_resource_tag(std::string_view key,
                                                                              std::string_view value) = 0;
  // Replaces the whole tag set.
  virtual Status set_resource_tags(RepositoryId repo,
                                   const std::vector<std::pair<std::string, std::string>>& tags) = 0;
};

}  // namespace berth
