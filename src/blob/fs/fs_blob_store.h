// A BlobStore on a local directory:
//   <root>/blobs/<algorithm>/<first two hex>/<hex>   committed blobs, read-only
//   <root>/uploads/<id>                               in-progress uploads
//   <root>/uploads/<id>.hash                          an upload's saved hash state
//   <root>/quarantine/<algorithm>/<hex>               blobs found corrupt, kept aside
// Directories are created 0700 and files 0600: only berth's user reads them.
// A commit fsyncs the upload file, renames it into place and fsyncs the target
// directory, so a committed blob survives a crash and a partial one is never
// visible under its digest.
#pragma once

#include <filesystem>

#include "blob/blob_store.h"

namespace berth {

// Creates `dir` and any missing parents, and fsyncs the parent of every
// directory it created (and of `dir` itself), so that the whole path survives
// power loss: a new directory entry is durable only once its parent directory
// is synced. Fails with kInternal naming the directory. Thread-safe (only
// system calls on the given path).
Status create_directories_durably(const std::filesystem::path& dir);

class FsBlobStore final : public BlobStore {
 public:
  // Creates the directory layout if needed, durably. The two-hex-digit
  // fan-out directories are made (and their entries synced) by the first
  // commit into each in this process.
  static Result<std::unique_ptr<FsBlobStore>> open_at(const std::filesystem::path& root);

  Result<std::unique_ptr<BlobReader>> open(const Digest& digest) override;
  Result<uint64_t> stat(const Digest& digest) override;
  Status remove(const Digest& digest) override;
  Status quarantine(const Digest& digest, const BlobReader* checked) override;
  Result<std::vector<Digest>> list(const std::optional<Digest>& after, size_t limit) override;
  using BlobStore::list;
  // Always nullopt: a local directory has no URL to hand out.
  Result<std::optional<std::string>> redirect_url(const Digest& digest,
                                                  std::chrono::seconds ttl) override;

  Status create_upload(std::string_view id) override;
  Result<UploadInfo> upload_info(std::string_view id) override;
  Result<std::unique_ptr<UploadAppender>> append_upload(std::string_view id) override;
  Result<std::unique_ptr<BlobReader>> read_upload(std::string_view id) override;
  // Written to a temporary file and renamed over <id>.hash; not synced.
  Status save_hash_state(std::string_view id, const SavedHashState& state) override;
  Result<SavedHashState> load_hash_state(std::string_view id) override;
  Status commit_upload(std::string_view id, const Digest& digest) override;
  Status abort_upload(std::string_view id) override;
  Result<std::vector<UploadInfo>> list_uploads(const std::optional<std::string>& after,
                                               size_t limit) override;
  using BlobStore::list_uploads;

  std::filesystem::path blob_path(const Digest& digest) const;
  std::filesystem::path quarantine_path(const Digest& digest) const;

 private:
  explicit FsBlobStore(std::filesystem::path root) : root_(std::move(root)) {}
  Result<std::filesystem::path> upload_path(std::string_view id) const;

  std::filesystem::path root_;
};

}  // namespace berth
