// BlobLinkStore: which repository may see which blob (the bytes are in the
// BlobStore, once per digest). A role of MetadataStore (meta/metadata_store.h);
// every method is thread-safe and atomic, failures are values as described there.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

class BlobLinkStore {
 public:
  virtual ~BlobLinkStore() = default;

  // Makes blob `digest` (already stored in the BlobStore) visible in `repo`.
  // kLimitExceeded (nothing changes) when that would take the repository or
  // its account over a storage quota (meta/quota_store.h).
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
};

}  // namespace berth
