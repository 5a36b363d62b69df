// The registry's application layer: what pushing, pulling and deleting mean,
// written once over MetadataStore and BlobStore and shared by the OCI and ECR
// APIs. Knows no HTTP, no SQL and no files.
//
// Thread-safe. Upload state that a second node would need lives in the stores;
// the in-process hash cache is only an optimisation rebuilt from the upload's
// bytes when missing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <chrono>

#include "core/blob_reader.h"
#include "core/byte_range.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/manifest.h"
#include "core/records.h"
#include "core/status.h"
#include "core/tag_mutability.h"
#include "registry/hashing_pool.h"
#include "registry/images.h"
#include "registry/upload_hasher.h"

namespace berth {

// The stores are only reached through the Registry: its header names them
// without exposing them to its callers (the API edges).
class MetadataStore;
class BlobStore;
class SpaceReserve;
class UploadAppender;

struct RegistryOptions {
  // How long an upload lease lasts without renewal; appends renew it, so this
  // only bounds how long a crashed writer blocks its upload.
  int64_t upload_lease_seconds = 120;
  // Create a repository on first push (the behaviour of most OCI registries)
  // instead of answering NAME_UNKNOWN (ECR's behaviour, the default).
  bool create_repository_on_push = false;
  // Upload sessions started this long ago are expired, finished or not.
  int64_t upload_ttl_seconds = 24 * 3600;
  // At most this many uploads may stream at once (0: unlimited).
  size_t max_concurrent_appends = 256;
  // Of those, at most this many for one account, and for one access key
  // (0: unlimited), so that one tenant cannot hold every slot.
  size_t max_concurrent_appends_per_account = 64;
  size_t max_concurrent_appends_per_key = 32;
  // Released when a delete meets a full disk (see SpaceReserve); may be null.
  // Not owned; outlives the Registry.
  SpaceReserve* space_reserve = nullptr;
  // Which `urls` foreign layers may name; by default none, so a manifest
  // with urls is refused.
  ManifestUrlPolicy manifest_urls;
  // Threads of the pool that hashes large chunks beside their write, shared
  // by every upload (at least one).
  size_t hashing_threads = 2;
  // How long a blob redirect URL (BlobStore::redirect_url) stays valid.
  int64_t blob_redirect_seconds = 20 * 60;
  // Test-only fault injection, off unless both are set (app.cc sets them
  // only from BERTH_TEST_STORE_DELAY_MS and BERTH_TEST_STORE_DELAY_REPOSITORY):
  // every lookup of the repository named exactly `test_delay_repository`
  // sleeps `test_delay` first, standing in for a slow store call.
  std::string test_delay_repository;
  std::chrono::milliseconds test_delay{0};
  // Write "ECR Image Action" events to the outbox (meta/event_outbox_store.h)
  // for pushes and deletes: on when webhooks are configured.
  bool record_events = false;
  // Called after put_manifest or put_image has stored a manifest (scan-on-push:
  // ScanningService::manifest_pushed). Must be quick: it runs on the push's
  // worker thread before the push answers. Empty: nothing is called.
  std::function<void(const RepositoryRecord&, const ManifestRecord&)> after_manifest_put;
};

// Who is streaming an upload, for the per-account and per-key caps. Empty
// members are not counted (anonymous access).
struct Uploader {
  std::string account;
  std::string access_key_id;
};

// Runs `op`, a step on the way to freeing space (a delete, a collection).
// When it fails with kStorageFull and `reserve` (may be null) was held, the
// reserve is released, a warning naming `what` is logged, and `op` runs once
// more; its second result is returned.
Status run_releasing_reserve(SpaceReserve* reserve, std::string_view what,
                             const std::function<Status()>& op);

struct UploadStatus {
  std::string id;
  uint64_t size = 0;  // bytes received so far; the next chunk starts here
};

class Registry;

// One request's worth of appending to an upload: hashes as it writes. Created
// by Registry::begin_append, used by one thread, then finished or dropped.
// Dropping it without finish() keeps the bytes written so far (the client may
// resume from upload_status).
class UploadAppend {
 public:
  ~UploadAppend();
  UploadAppend(const UploadAppend&) = delete;
  UploadAppend& operator=(const UploadAppend&) = delete;

  Status write(const void* data, size_t len);
  // Hands the bytes written so far to the store (BlobStore's flush: a store
  // may buffer them until then). Call it, and check it, before telling the
  // client its bytes were received; finishing an upload calls it itself.
  Status close();
  uint64_t size() const { return offset_; }
  uint64_t written() const { return written_; }

 private:
  friend class Registry;
  UploadAppend() = default;
  Status renew_lease_if_due();
  // Chunks at least this large are hashed beside the write (HashingPool).
  static constexpr size_t kOverlapHashFrom = 256 * 1024;

  Registry* registry_ = nullptr;
  Uploader uploader_;  // counted against the caps while this lives
  std::string id_;
  std::string lease_holder_;  // non-empty while the shared upload lease is held
  int64_t lease_renewed_at_ = 0;
  std::unique_ptr<UploadAppender> appender_;
  std::shared_ptr<struct UploadHashState> state_;
  bool save_hash_state_ = true;  // at the end of the request (not for puts or finishes)
  uint64_t offset_ = 0;
  uint64_t written_ = 0;
};

struct OpenedBlob {
  BlobLink link;
  std::unique_ptr<BlobReader> reader;
};

struct PutManifestResult {
  Digest digest;
  std::optional<Digest> subject;
};

class Registry {
 public:
  Registry(MetadataStore& meta, BlobStore& blobs, const Clock& clock, RegistryOptions options);

  const Clock& clock() const { return clock_; }
  // The "ECR Image Action" DELETE events of a delete in `repo`, for the store
  // to write in the delete's own transaction (DeletionEvents); none when
  // events are not recorded. With `per_tag`, one per tag removed (one naming
  // the digest alone when there was none); else one naming the digest alone.
  DeletionEvents delete_events(const RepositoryRecord& repo, bool per_tag) const;

  // --- repositories ------------------------------------------------------------
  // kNameInvalid for a bad name, kNameUnknown when absent.
  Result<RepositoryRecord> repository(std::string_view account, std::string_view name);
  // As repository(), but creates it when options allow (and logs each
  // creation). Otherwise kNameUnknown with a message that says how to create
  // the repository.
  Result<RepositoryRecord> repository_for_push(std::string_view account, std::string_view name);

  // --- uploads -------------------------------------------------------------------
  Result<UploadStatus> start_upload(const RepositoryRecord& repo);
  // kBlobUploadUnknown when the upload does not exist or belongs elsewhere.
  Result<UploadStatus> upload_status(const RepositoryRecord& repo, std::string_view id);
  // Opens the upload for appending. With `range`, its first byte must equal the
  // upload's size (else kRangeInvalid with the current size in the message);
  // kBlobUploadInvalid when another request is appending to it right now;
  // kResourceExhausted when too many uploads stream at once, in all or for
  // `uploader`'s account or access key.
  // `fresh`: the upload was started by this very request, so no other
  // process can know it and the shared lease is skipped.
  Result<std::unique_ptr<UploadAppend>> begin_append(const RepositoryRecord& repo,
                                                     std::string_view id,
                                                     std::optional<ByteRange> range,
                                                     bool fresh = false,
                                                     const Uploader& uploader = {});
  // Verifies the bytes hash to `digest`, stores the blob durably and links it
  // to the repository. On kDigestInvalid the upload is discarded, and so on
  // kLimitExceeded: the blob would take the repository or its account over a
  // storage quota (meta/quota_store.h).
  Result<BlobLink> finish_upload(const RepositoryRecord& repo, std::string_view id,
                                 const Digest& digest, bool fresh = false);
  // As above, for the upload `held` has been appending to in this request
  // (PUT with a last chunk): the append's hold and lease carry over, so the
  // upload is never released between its last bytes and its commit.
  Result<BlobLink> finish_upload(const RepositoryRecord& repo, std::unique_ptr<UploadAppend> held,
                                 const Digest& digest);
  Status cancel_upload(const RepositoryRecord& repo, std::string_view id);
  // A one-request upload whose body is the whole blob (POST ?digest=). Its
  // bytes go to a temporary file with no session row, since nothing can
  // resume it: one metadata commit fewer per blob. A crash leaves only a file,
  // which upload expiry removes. kResourceExhausted as begin_append.
  Result<std::unique_ptr<UploadAppend>> begin_blob_put(const RepositoryRecord& repo,
                                                       const Uploader& uploader = {});
  // Verifies what `put` wrote against `digest` (kDigestInvalid otherwise),
  // then stores and links the blob as finish_upload does. The temporary
  // bytes are gone afterwards, whatever the outcome.
  Result<BlobLink> finish_blob_put(const RepositoryRecord& repo, std::unique_ptr<UploadAppend> put,
                                   const Digest& digest);
  // Discards an unfinished put and its bytes.
  void cancel_blob_put(std::unique_ptr<UploadAppend> put);
  // Makes a blob of `from` (or, without `from`, of any repository of the same
  // account for which `may_read` is true) visible in `repo`. kBlobUnknown
  // when there is nothing to mount, kLimitExceeded over a storage quota
  // (meta/quota_store.h). `may_read` may block; it is called only
  // for repositories holding the blob.
  Result<BlobLink> mount_blob(const RepositoryRecord& repo, const Digest& digest,
                              const std::optional<RepositoryRecord>& from,
                              const std::function<bool(const RepositoryRecord&)>& may_read);
  // Deletes uploads older than the TTL. Returns how many went.
  Result<size_t> expire_uploads();

  // --- blobs ---------------------------------------------------------------------
  // A blob the repository links and whose stored bytes have the recorded size.
  // kBlobUnknown otherwise: a missing or truncated file reads as absent, so
  // every API says "missing" alike and a client's next push uploads it again
  // (which heals it). A size mismatch or a missing file is logged as an error,
  // once per digest per process. Only sizes are compared here; `berth scrub`
  // verifies the bytes themselves.
  Result<BlobLink> stat_blob(const RepositoryRecord& repo, const Digest& digest);
  // As stat_blob, and opens the bytes. The size check is the opened file's, so
  // what is served is exactly what was checked.
  Result<OpenedBlob> open_blob(const RepositoryRecord& repo, const Digest& digest);
  Status delete_blob(const RepositoryRecord& repo, const Digest& digest);
  // Where a client may fetch the blob directly (a time-limited URL), when the
  // blob store offers that; nullopt otherwise (then serve open_blob's bytes).
  // Costs nothing when the store offers no redirects; when it does, the blob
  // must be linked to `repo` (kBlobUnknown as stat_blob otherwise). `ttl`:
  // nullopt for the configured blob_redirect_seconds.
  Result<std::optional<std::string>> blob_redirect_url(
      const RepositoryRecord& repo, const Digest& digest,
      std::optional<int64_t> ttl_seconds = std::nullopt);

  // --- manifests -----------------------------------------------------------------
  // `reference` is a tag or a digest. Validates, checks references and tag
  // mutability, stores. kDigestInvalid when pushed by digest and the bytes hash
  // differently. `media_type_given`: as parse_manifest's. kManifestInvalid when a descriptor's size
  // differs from the stored blob's or child manifest's, or its urls break the url policy;
  // kManifestBlobUnknown / kManifestUnknown when a reference is missing (a
  // foreign layer with allowed urls may be missing); kLimitExceeded when a
  // new manifest would exceed a storage quota (meta/quota_store.h).
  // `refuse_existing`: as PutManifestRequest's.
  Result<PutManifestResult> put_manifest(const RepositoryRecord& repo, std::string_view reference,
                                         std::string_view bytes, std::string_view content_type,
                                         bool media_type_given = false,
                                         bool refuse_existing = false);
  Result<ManifestRecord> get_manifest(const RepositoryRecord& repo, std::string_view reference);
  // As repository() then get_manifest(), in one metadata read: the pull path.
  Result<ResolvedManifest> get_manifest(std::string_view account, std::string_view name,
                                        std::string_view reference);
  // By digest: deletes the manifest and its tags, then its referrers (see
  // delete_referrers_of). By tag: removes the tag only.
  // kManifestUnknown when absent, kManifestReferenced when an index lists it.
  // On a full disk the space reserve is released to let it proceed.
  Status delete_manifest(const RepositoryRecord& repo, std::string_view reference);
  // Deletes the repository and everything in it (kRepositoryNotEmpty when it
  // has images and `force` is false); uses the space reserve as above.
  Status delete_repository(const RepositoryRecord& repo, bool force);

  // --- repositories (ECR settings and resource tags; repositories.cc) ---------------
  // Creates a repository with its settings and resource tags. kInvalidArgument
  // for a bad tag mutability setting, kAlreadyExists when it exists.
  Result<RepositoryRecord> create_repository(const NewRepository& request);
  // Replace one setting; return the repository as stored.
  Result<RepositoryRecord> set_tag_mutability(const RepositoryRecord& repo,
                                              const TagMutabilityConfig& config);
  Result<RepositoryRecord> set_scan_on_push(const RepositoryRecord& repo, bool scan_on_push);
  // The repository's resource tags, sorted by key.
  Result<ResourceTags> resource_tags(const RepositoryRecord& repo);
  // Merges `tags` over the current ones (same key: the new value wins).
  // kLimitExceeded (nothing changes) when more than kMaxResourceTags would result.
  Status tag_resource(const RepositoryRecord& repo, const ResourceTags& tags);
  // Removes the tags with these keys; unknown keys are ignored.
  Status untag_resource(const RepositoryRecord& repo, const std::vector<std::string>& keys);

  // --- IAM-style policies (policies.cc) -------------------------------------------------
  // A repository's policy text; nullopt when none.
  Result<std::optional<std::string>> repository_policy(const RepositoryRecord& repo);
  // Validates `text` as a resource policy (kInvalidArgument with IAM's words)
  // and stores it in place of the current one.
  Status set_repository_policy(const RepositoryRecord& repo, const std::string& text);
  // Removes the policy; returns the text removed, nullopt when there was none.
  Result<std::optional<std::string>> delete_repository_policy(const RepositoryRecord& repo);
  // The same for an account's registry policy.
  Result<std::optional<std::string>> registry_policy(std::string_view account);
  Status set_registry_policy(std::string_view account, const std::string& text);
  Result<std::optional<std::string>> delete_registry_policy(std::string_view account);

  // --- listings (listing.cc) ----------------------------------------------------------
  // Pages of repositories of an account (by name), tags of a repository (by
  // name) and a subject's referrers (by digest, all of them). A page's
  // next_after is set when more entries follow (never with limit 0).
  Result<Page<RepositoryRecord>> list_repositories(std::string_view account,
                                                   const PageRequest& page);
  Result<Page<std::string>> list_tags(const RepositoryRecord& repo, const PageRequest& page);
  Result<std::vector<ReferrerRecord>> list_referrers(const RepositoryRecord& repo,
                                                     const Digest& subject,
                                                     std::optional<std::string_view> artifact_type);
  // Bytes stored per repository of the account, by name (best effort: empty
  // when the store cannot say).
  std::map<std::string, int64_t> repository_usage(std::string_view account);

  // --- images (ECR's view of manifests; images.cc) ---------------------------------
  // Resolves an image id to its manifest, or says why it names none. Errors
  // are store failures only.
  Result<ResolvedImage> resolve_image(const RepositoryRecord& repo, const ImageId& id);
  // ListImages: one entry per tag and one per untagged image, passing
  // `status`, ordered by digest then tag, after the opaque key `after`.
  Result<Page<ImageListEntry>> list_image_ids(const RepositoryRecord& repo, TagStatus status,
                                              std::string_view after, size_t limit);
  // DescribeImages by ids (see DescribedImages).
  Result<DescribedImages> describe_images(const RepositoryRecord& repo,
                                          const std::vector<ImageId>& ids);
  // DescribeImages paged by digest (after the digest `after`), filtered by `status`.
  Result<Page<ImageDetail>> describe_images(const RepositoryRecord& repo, TagStatus status,
                                            std::string_view after, size_t limit);
  // BatchGetImage: resolves each id, refuses media types not in `accepted`
  // (empty: all), and records the pull of each image found (throttled as
  // record_pull).
  Result<ImageGetOutcome> batch_get_images(const RepositoryRecord& repo,
                                           const std::vector<ImageId>& ids,
                                           const std::vector<std::string>& accepted);
  // BatchDeleteImage: a tag alone untags (the image goes with its last tag,
  // unless an index lists it); a digest deletes the image with all its tags.
  // Each image is deleted in one store transaction; a deleted image's
  // referrers follow it (delete_referrers_of).
  Result<ImageDeleteOutcome> batch_delete_images(const RepositoryRecord& repo,
                                                 const std::vector<ImageId>& ids);
  // PutImage: as put_manifest by tag (or by digest without one), but
  // kAlreadyExists when the image already exists with that tag (or, without
  // a tag, at all), decided in the store's transaction. kInvalidArgument for
  // a malformed `digest`, kDigestInvalid when it does not match.
  Result<PutManifestResult> put_image(const RepositoryRecord& repo, const PutImageRequest& request);

  // --- the registry's own artifacts (system_writes.cc) ---------------------------------
  // The repository with this id (background work holds only ids).
  Result<RepositoryRecord> repository_by_id(RepositoryId id);
  // Stores `blobs` (each one blob's bytes), then `manifest` by digest, untagged,
  // in `repo`: the blob put and manifest put a client push makes, with the
  // same validation, but as a write of the registry itself rather than of a
  // user: it takes no upload slot, records no PUSH event, does not call
  // after_manifest_put (so no scan-on-push), and no tag rule applies (there is
  // no tag). Storing an existing manifest again changes nothing. Returns the
  // manifest's digest.
  Result<Digest> put_system_artifact(const RepositoryRecord& repo,
                                     const std::vector<std::string>& blobs,
                                     std::string_view manifest, std::string_view media_type);
  // Deletes a manifest the registry stored itself, and its referrers, recording
  // no DELETE event for it. kManifestUnknown when absent.
  Status delete_system_manifest(const RepositoryRecord& repo, const Digest& digest);

  // --- pulls ------------------------------------------------------------------------
  // As get_manifest(account, name, reference); with `record`, notes the pull
  // as record_pull does.
  Result<ResolvedManifest> pull_manifest(std::string_view account, std::string_view name,
                                         std::string_view reference, bool record);
  // Records a pull of `manifest` in `repo` at most once per kPullRecordInterval
  // (best effort: a failure is ignored), so that a busy pull path does not
  // become a write per request. The one place both APIs record pulls.
  void record_pull(RepositoryId repo, const ManifestRecord& manifest);
  static constexpr int64_t kPullRecordIntervalMs = 60 * 1000;

  // --- lifecycle policies (lifecycle_service.cc) --------------------------------------
  // Sets the policy after validating it (kInvalidArgument with the reason).
  Status set_lifecycle_policy(const RepositoryRecord& repo, const std::string& text);
  // kPolicyNotFound when the repository has none.
  Status delete_lifecycle_policy(const RepositoryRecord& repo);
  // Plans what `text` would expire now and stores it as the repository's
  // preview (complete on return). kInvalidArgument for a bad policy.
  Result<LifecyclePreview> start_lifecycle_preview(const RepositoryRecord& repo,
                                                   const std::string& text);
  // The stored preview; kLifecyclePolicyPreviewNotFound when none was started.
  Result<LifecyclePreview> lifecycle_preview(const RepositoryRecord& repo);

 private:
  friend class UploadAppend;
  std::shared_ptr<UploadHashState> hash_state(const std::string& id);
  void forget_hash_state(const std::string& id);
  Result<Digest> digest_of_upload(const std::string& id, DigestAlgorithm algorithm, uint64_t size);
  // Hashes the first `size` bytes of an upload (fewer if it is shorter;
  // Hasher::bytes() tells how many).
  Result<UploadHasher> hash_upload(const std::string& id, DigestAlgorithm algorithm, uint64_t size);
  // The hash of the upload's first `size` bytes from the state saved with it
  // when that state covers exactly `size` bytes, else hash_upload.
  Result<UploadHasher> resume_hash(const std::string& id, DigestAlgorithm algorithm, uint64_t size);
  // Saves `hasher` with the upload (BlobStore::save_hash_state); a failure
  // is logged and otherwise ignored, since the bytes remain the truth.
  void save_hash_state(const std::string& id, const UploadHasher& hasher);
  // Takes the upload's shared lease for `holder` (kBlobUploadInvalid when
  // another process or node holds it).
  Status acquire_lease(const std::string& id, const std::string& holder);
  // Verifies an upload this request holds (busy, and leased unless fresh)
  // against `digest`, then announces the write, moves the bytes into place
  // and links the blob. On a mismatch the upload is discarded.
  Result<BlobLink> finish_held_upload(const RepositoryRecord& repo, const std::string& id,
                                      const Digest& digest);
  // put_manifest's body; a `system_write` (put_system_artifact) records no
  // event and skips after_manifest_put.
  Result<PutManifestResult> store_manifest(const RepositoryRecord& repo, std::string_view reference,
                                           std::string_view bytes, std::string_view content_type,
                                           bool media_type_given, bool refuse_existing,
                                           bool system_write);
  // After `subject` was deleted from `repo`: deletes the manifests in `repo`
  // whose subject it was (signatures, SBOMs), and theirs in turn, so that
  // referrers live and die with their subject as lifecycle expiry already
  // has them. A DELETE event is recorded for each, except for the SBOMs
  // berth generated (whose push recorded none either). Best effort: the
  // subject is gone whatever happens here; a referrer that an index lists or
  // that cannot be deleted stays and is logged.
  void delete_referrers_of(const RepositoryRecord& repo, const Digest& subject);
  // Takes an upload slot for `uploader` (kResourceExhausted when a cap is
  // reached); release_slot gives it back. Both need mu_ held.
  Status take_slot(const Uploader& uploader);
  void release_slot(const Uploader& uploader);
  // Checks that stored bytes of `stored_size` (nullopt: no file) match `link`;
  // kBlobUnknown, logged once per digest, when they do not.
  Status check_stored(const BlobLink& link, std::optional<uint64_t> stored_size);
  // The test-only store delay (RegistryOptions::test_delay) for `name`.
  void test_delay(std::string_view name) const;

  MetadataStore& meta_;
  BlobStore& blobs_;
  const Clock& clock_;
  RegistryOptions options_;
  HashingPool hashing_pool_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<UploadHashState>> hashes_;  // guarded by mu_
  size_t active_appends_ = 0;                                       // guarded by mu_
  std::map<std::string, size_t, std::less<>> appends_by_account_;   // guarded by mu_
  std::map<std::string, size_t, std::less<>> appends_by_key_;       // guarded by mu_
  std::set<std::string>
      reported_broken_;  // digests already logged as missing or short; guarded by mu_
};

std::string new_upload_id();
// A fresh random event id (a version 4 UUID, as new_upload_id()).
inline std::string new_event_id() {
  return new_upload_id();
}

// The repository's tag mutability setting as the domain type.
TagMutabilityConfig tag_mutability_of(const RepositoryRecord& repo);

}  // namespace berth
