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
#include "core/status.h"

namespace berth {

using RepositoryId = int64_t;

struct RepositoryRecord {
  RepositoryId id = 0;
  std::string account_id;
  std::string name;
  int64_t created_at = 0;  // seconds since epoch
  // ECR settings, stored as ECR spells them.
  std::string tag_mutability = "MUTABLE";
  std::string tag_mutability_exclusions_json = "[]";
  bool scan_on_push = false;
  std::string encryption_type = "AES256";
  std::string kms_key;
};

struct ManifestRecord {
  Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::optional<Digest> subject;
  std::string annotations_json;  // the manifest's top-level annotations, "{}" when none
  std::string bytes;             // exactly as pushed
  int64_t image_size = 0;        // config + layers, as ECR's imageSizeInBytes
  int64_t pushed_at = 0;         // seconds since epoch
  std::optional<int64_t> last_pulled_at;
};

// What a manifest refers to; recorded with it so that deletes and garbage
// collection know the graph without re-parsing.
struct ManifestReferences {
  std::vector<Digest> blobs;      // must be linked to the repository
  std::vector<Digest> manifests;  // must exist in the repository (index children)
};

struct PutManifestRequest {
  RepositoryId repository = 0;
  ManifestRecord manifest;
  ManifestReferences references;
  std::optional<std::string> tag;
  // When set and the tag already points at a different digest, the put fails
  // with kTagImmutable and nothing changes.
  bool tag_immutable = false;
};

struct BlobLink {
  Digest digest;
  int64_t size = 0;
};

struct UploadRecord {
  std::string id;
  RepositoryId repository = 0;
  int64_t started_at = 0;
};

struct ReferrerRecord {
  Digest digest;
  std::string media_type;
  std::string artifact_type;
  int64_t size = 0;
  std::string annotations_json;
};

struct ImageRecord {
  ManifestRecord manifest;  // bytes left empty by list calls
  std::vector<std::string> tags;
};

// A page request: entries strictly after `after` (empty: from the start), at
// most `limit` (0: no limit), in lexical order.
struct PageRequest {
  std::string after;
  size_t limit = 0;
};

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

  // --- uploads ---------------------------------------------------------------
  virtual Status create_upload(const UploadRecord& upload) = 0;
  // kBlobUploadUnknown when absent.
  virtual Result<UploadRecord> get_upload(std::string_view id) = 0;
  virtual Status delete_upload(std::string_view id) = 0;
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
  // Deletes the manifest and every tag pointing at it. kManifestUnknown when
  // absent; kManifestReferenced when an index in the repository still lists it.
  virtual Status delete_manifest(RepositoryId repo, const Digest& digest) = 0;
  // kManifestUnknown when the tag does not exist.
  virtual Status delete_tag(RepositoryId repo, std::string_view tag) = 0;
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
  // Records a pull time (best effort; may be coalesced).
  virtual Status record_pull(RepositoryId repo, const Digest& digest, int64_t when) = 0;

  // --- resource tags (ECR TagResource) ------------------------------------------
  // Sorted by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> get_resource_tags(RepositoryId repo) = 0;
  // Replaces the whole tag set.
  virtual Status set_resource_tags(RepositoryId repo,
                                   const std::vector<std::pair<std::string, std::string>>& tags) = 0;
};

}  // namespace berth
