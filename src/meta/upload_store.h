// UploadStore: upload sessions, their leases, and the blob writes that end
// them. A role of MetadataStore (meta/metadata_store.h); every method is
// thread-safe and atomic, failures are values as described there.
//
// Durability: upload sessions, their leases, blob-write announcements and
// pull times must be visible to every process and node as soon as the call
// returns, but need not survive power loss on their own (an upload's bytes
// are not synced before the blob is finished either). A store may make them
// durable lazily; everything else is durable when the call returns.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

class UploadStore {
 public:
  virtual ~UploadStore() = default;

  virtual Status create_upload(const UploadRecord& upload) = 0;
  // kBlobUploadUnknown when absent.
  virtual Result<UploadRecord> get_upload(std::string_view id) = 0;
  virtual Status delete_upload(std::string_view id) = 0;
  // Exclusive right to write an upload, across processes and nodes: granted
  // when free, expired (its `until` is before `now`), or already `holder`'s
  // (then extended to `until`). kBlobUploadInvalid while someone else holds
  // it; kBlobUploadUnknown when the upload does not exist. Of concurrent
  // callers for a free lease exactly one gets it.
  virtual Status acquire_upload_lease(std::string_view id, std::string_view holder, int64_t now,
                                      int64_t until) = 0;
  // Frees the lease at once if `holder` has it; otherwise changes nothing.
  virtual Status release_upload_lease(std::string_view id, std::string_view holder) = 0;
  virtual Result<std::vector<UploadRecord>> uploads_started_before(int64_t when) = 0;

  // A blob write announces itself before the bytes are renamed into place and
  // ends once linked; kUnavailable while the digest is pending deletion.
  // Writes of one digest are counted: it is being written until every
  // begin_blob_write has had its end_blob_write.
  virtual Status begin_blob_write(const Digest& digest, int64_t now) = 0;
  virtual Status end_blob_write(const Digest& digest) = 0;
  // The last step of an upload, in one transaction: link_blob, end_blob_write
  // and delete_upload. kUnavailable (and nothing changes) while the digest is
  // pending deletion; kLimitExceeded (nothing changes) over a storage quota,
  // as link_blob.
  virtual Status complete_upload(RepositoryId repo, const Digest& digest, int64_t size,
                                 std::string_view upload_id, int64_t now) = 0;
};

}  // namespace berth
