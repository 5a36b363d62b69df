// BlobStore: where blob bytes live, addressed by digest, plus the in-progress
// upload areas they are written through. Implementations: fs/ (local disk).
// An S3-compatible store fits behind the same interface: uploads are appended
// in order and committed under a digest; nothing here assumes one process.
//
// Every method is thread-safe. Visibility (which repository may read a blob) is
// metadata and not this interface's concern.
#pragma once

#include <cstdint>
#include <memory>
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
  // Every stored digest (for garbage collection and admin tools).
  virtual Result<std::vector<Digest>> list() = 0;

  // Uploads, named by an id the caller chooses (a random UUID). The id is the
  // only state a node needs to continue an upload another node began.
  virtual Status create_upload(std::string_view id) = 0;
  // kBlobUploadUnknown when the upload does not exist.
  virtual Result<UploadInfo> upload_info(std::string_view id) = 0;
  virtual Result<std::unique_ptr<UploadAppender>> append_upload(std::string_view id) = 0;
  virtual Result<std::unique_ptr<BlobReader>> read_upload(std::string_view id) = 0;
  // Durably stores the upload's bytes as blob `digest` (the caller has verified
  // the bytes hash to it) and removes the upload. When the blob already exists
  // the upload is simply removed. After success, open(digest) works even after
  // a crash.
  virtual Status commit_upload(std::string_view id, const Digest& digest) = 0;
  // Removes the upload and its bytes. Absent is ok.
  virtual Status abort_upload(std::string_view id) = 0;
  virtual Result<std::vector<UploadInfo>> list_uploads() = 0;
};

}  // namespace berth
