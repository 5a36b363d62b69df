// BlobStore: where blob bytes live, addressed by digest, plus the in-progress
// upload areas they are written through. Implementations: fs/ (local disk).
// An S3-compatible store fits behind the same interface: uploads are appended
// in order and committed under a digest; nothing here assumes one process.
//
// Every method is thread-safe. Visibility (which repository may read a blob) is
// metadata and not this interface's concern.
//
// What a remote (S3-like) store needs from its callers, and promises them:
//  - Part size: such a store uploads parts of at least kMinPartSize bytes
//    (S3's limit: 5 MiB for every part but the last). Appends of any size are
//    accepted; the store buffers small ones (a shorter upload is one part).
//  - Errors: kUnavailable is transient (a throttled, slow or unreachable
//    backend) and the same call may be retried as is: a call that fails with
//    it has changed nothing (an append appended nothing, a commit committed
//    nothing). kStorageFull, kInternal, kBlobUnknown and kBlobUploadUnknown
//    are final for that call and are not retried.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/blob_reader.h"
#include "core/digest.h"
#include "core/status.h"

namespace berth {

// Appends to one upload. Not thread-safe; one appender per upload at a time
// (the caller serialises requests on the same upload).
class UploadAppender {
 public:
  virtual ~UploadAppender() = default;
  virtual Status append(const void* data, size_t len) = 0;
  // Makes appended bytes visible to upload_size(). Durability is only promised
  // by BlobStore::commit_upload.
  virtual Status flush() = 0;
};

struct UploadInfo {
  std::string id;
  uint64_t size = 0;
  int64_t modified_at = 0;  // seconds since epoch of the last append
};

// The running hash of an upload's first `offset` bytes, saved with the upload
// so that another node continues hashing where the last request stopped. The
// bytes are opaque to the store.
struct SavedHashState {
  uint64_t offset = 0;
  std::string state;
};

// The minimum size of every part but the last that a multipart (S3-like)
// store uploads; see the header comment.
inline constexpr uint64_t kMinPartSize = 5 * 1024 * 1024;

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Content. kBlobUnknown when absent.
  virtual Result<std::unique_ptr<BlobReader>> open(const Digest& digest) = 0;
  virtual Result<uint64_t> stat(const Digest& digest) = 0;
  // Removes the bytes. Removing an absent blob is ok.
  virtual Status remove(const Digest& digest) = 0;
  // Moves the bytes of a blob found corrupt out of open()'s reach, kept for
  // the operator to inspect; afterwards the blob is absent (kBlobUnknown) until
  // a commit_upload stores good bytes again. With `checked` (a reader of the
  // bytes that were found bad), only those bytes go: when a commit replaced
  // them since, nothing moves and kFailedPrecondition says so. kBlobUnknown
  // when absent.
  virtual Status quarantine(const Digest& digest, const BlobReader* checked) = 0;
  // Up to `limit` (at least 1) stored digests in byte order of their text
  // ("sha256:..." before "sha512:..."), all greater than `after` when given.
  // An empty result is the end. Digests committed or removed during a walk
  // may or may not appear.
  virtual Result<std::vector<Digest>> list(const std::optional<Digest>& after, size_t limit) = 0;
  // Every stored digest, paged through list(after, limit) (for garbage
  // collection and admin tools).
  Result<std::vector<Digest>> list();

  // An optional capability: a URL from which a client may GET the blob's
  // bytes without credentials for about `ttl` (an S3 presigned URL), or
  // nullopt when the store offers none (the filesystem store); callers then
  // serve the bytes themselves. kBlobUnknown when the store knows the blob
  // is absent (a store may also not check).
  virtual Result<std::optional<std::string>> redirect_url(const Digest& digest,
                                                          std::chrono::seconds ttl) = 0;

  // Uploads, named by an id the caller chooses (a random UUID). The id is the
  // only state a node needs to continue an upload another node began.
  virtual Status create_upload(std::string_view id) = 0;
  // kBlobUploadUnknown when the upload does not exist.
  virtual Result<UploadInfo> upload_info(std::string_view id) = 0;
  virtual Result<std::unique_ptr<UploadAppender>> append_upload(std::string_view id) = 0;
  virtual Result<std::unique_ptr<BlobReader>> read_upload(std::string_view id) = 0;
  // Saves `state` with the upload, replacing any earlier one, atomically: a
  // load sees the old state or the new, never a mix. Not durable (a lost
  // state only costs a re-read). kBlobUploadUnknown when the upload does not
  // exist (then nothing is left behind). The caller holds the upload.
  virtual Status save_hash_state(std::string_view id, const SavedHashState& state) = 0;
  // The state last saved with the upload; kNotFound when none was saved,
  // kBlobUploadUnknown for a malformed id. The caller checks that its offset
  // is the upload's size before trusting it.
  virtual Result<SavedHashState> load_hash_state(std::string_view id) = 0;
  // Durably stores the upload's bytes as blob `digest` (the caller has verified
  // the bytes hash to it) and removes the upload. When the blob already exists
  // the upload is simply removed. After success, open(digest) works even after
  // a crash. The upload's saved hash state goes with it.
  virtual Status commit_upload(std::string_view id, const Digest& digest) = 0;
  // Removes the upload, its bytes and its saved hash state. Absent is ok.
  virtual Status abort_upload(std::string_view id) = 0;
  // Up to `limit` (at least 1) uploads in byte order of their ids, all
  // greater than `after` when given; empty at the end.
  virtual Result<std::vector<UploadInfo>> list_uploads(const std::optional<std::string>& after,
                                                       size_t limit) = 0;
  // Every upload, paged through list_uploads(after, limit).
  Result<std::vector<UploadInfo>> list_uploads();
};

inline Result<std::vector<Digest>> BlobStore::list() {
  std::vector<Digest> all;
  std::optional<Digest> after;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(auto page, list(after, 1000));
    if (page.empty()) return all;
    after = page.back();
    all.insert(all.end(), std::make_move_iterator(page.begin()),
               std::make_move_iterator(page.end()));
  }
}

inline Result<std::vector<UploadInfo>> BlobStore::list_uploads() {
  std::vector<UploadInfo> all;
  std::optional<std::string> after;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(auto page, list_uploads(after, 1000));
    if (page.empty()) return all;
    after = page.back().id;
    all.insert(all.end(), std::make_move_iterator(page.begin()),
               std::make_move_iterator(page.end()));
  }
}

}  // namespace berth
