// A BlobStore on any S3-compatible service (tested on Ceph's RADOS Gateway).
//
// Layout under the bucket and the optional prefix P ("" or "some/prefix/"):
//   P blobs/<algorithm>/<hex>            committed blobs
//   P quarantine/<algorithm>/<hex>       blobs found corrupt, kept aside
//   P uploads/<id>/info                  marks that upload <id> exists
//   P uploads/<id>/data/<offset, 20 digits>  the upload's bytes, in segments
//   P uploads/<id>/hash                  the upload's saved hash state
//   P uploads/<id>/commit                a commit in progress: "<key>\n<S3 upload id>"
//
// Durable upload state lives in S3 alone, so any node continues any upload:
// the segments are ordinary objects, each holding the bytes from its offset
// on. Every segment but the last is at least kMinPartSize long; an append
// that follows a shorter last segment rewrites it with the new bytes added
// (the same prefix, so a reader's snapshot stays right). Appended bytes are
// buffered in memory; each full kMinPartSize buffer is written by a PUT in
// the background while the next fills (one PUT in flight per appender, so
// about 2 x kMinPartSize of memory), and flush() writes the rest and waits;
// bytes not flushed are lost with the appender.
//
// commit_upload copies the segments server-side into the blob's key: one
// segment by CopyObject, several by a multipart upload of UploadPartCopy
// parts, kCommitCopies at a time (whose S3 upload id is recorded in
// .../commit first, so that abort_upload, and so upload expiry, also aborts
// a commit a crash left half done). It returns once S3 completed the blob. Every commit writes the
// blob (a fresh x-amz-meta-berth-commit token), which is how quarantine tells bytes replaced since
// a check.
//
// Reads are ranged GETs of kReadWindow bytes; a reader read sequentially has
// the next kReadAhead windows in flight while its caller sends the current
// one: memory per reader is bounded by (1 + kReadAhead) x kReadWindow
// (12 MiB) whatever the blob's size.
//
// Thread-safe (the client is; readers and appenders are per-caller). Errors:
// kUnavailable after retries ran out (nothing changed by a failed
// append/commit in S3 terms: a part or copy may have been written but is not
// visible as the blob), kInternal for any other S3 answer (naming its code),
// kBlobUnknown / kBlobUploadUnknown as the interface says.
#pragma once

#include <memory>
#include <string>

#include "blob/blob_store.h"
#include "blob/s3/s3_client.h"

namespace berth::s3 {

struct S3StoreOptions {
  S3ClientOptions client;
  std::string prefix;     // "" or plain key segments without a trailing '/'
  bool redirect = false;  // redirect_url hands out presigned GET URLs
  // How long open() waits for the bucket to answer before giving up.
  std::chrono::milliseconds open_deadline{5000};
};

inline constexpr size_t kReadWindow = 4 << 20;
// Windows a sequential reader fetches ahead, each on its own connection.
inline constexpr size_t kReadAhead = 2;
// S3 requests a commit runs at once (UploadPartCopy parts, then the deletes
// of the upload's objects).
inline constexpr size_t kCommitCopies = 4;

class S3BlobStore final : public BlobStore {
 public:
  // Checks the bucket (creating it when missing) within open_deadline.
  // kUnavailable naming the endpoint when it does not answer or its TLS
  // certificate is refused (with OpenSSL's reason), kInvalidArgument for bad
  // options, kInternal naming S3's code (e.g. AccessDenied,
  // SignatureDoesNotMatch) for a refusal.
  static Result<std::unique_ptr<S3BlobStore>> open(S3StoreOptions options);

  Result<std::unique_ptr<BlobReader>> open(const Digest& digest) override;
  Result<uint64_t> stat(const Digest& digest) override;
  Status remove(const Digest& digest) override;
  Status quarantine(const Digest& digest, const BlobReader* checked) override;
  Result<std::vector<Digest>> list(const std::optional<Digest>& after, size_t limit) override;
  using BlobStore::list;
  // A presigned GET URL when `redirect` is set (existence not checked), else nullopt.
  Result<std::optional<std::string>> redirect_url(const Digest& digest,
                                                  std::chrono::seconds ttl) override;

  Status create_upload(std::string_view id) override;
  Result<UploadInfo> upload_info(std::string_view id) override;
  Result<std::unique_ptr<UploadAppender>> append_upload(std::string_view id) override;
  Result<std::unique_ptr<BlobReader>> read_upload(std::string_view id) override;
  Status save_hash_state(std::string_view id, const SavedHashState& state) override;
  Result<SavedHashState> load_hash_state(std::string_view id) override;
  Status commit_upload(std::string_view id, const Digest& digest) override;
  Status abort_upload(std::string_view id) override;
  // Lists every upload's id (S3 lists them in key order, not id order) and
  // returns the page; costs O(uploads) per page.
  Result<std::vector<UploadInfo>> list_uploads(const std::optional<std::string>& after,
                                               size_t limit) override;
  using BlobStore::list_uploads;

  // Readiness: a small object PUT and then DELETEd under the prefix
  // ("<prefix>ready-probe"; one key for every node, so a crash leaves no
  // litter), both within `timeout` whatever the endpoint does. OK when both
  // succeeded; otherwise the first failure (kUnavailable when S3 did not
  // answer in time).
  Status check_writable(std::chrono::milliseconds timeout);

  std::string blob_key(const Digest& digest) const;
  S3Client& client() { return *client_; }

  struct Segment {
    std::string key;
    uint64_t offset = 0;
    uint64_t size = 0;
  };
  struct UploadListing {
    bool exists = false;
    std::vector<Segment> segments;  // by offset
    uint64_t size = 0;
    int64_t modified_at = 0;
    std::vector<std::string> keys;  // every object under the upload
  };

 private:
  S3BlobStore(std::unique_ptr<S3Client> client, S3StoreOptions options);
  Result<UploadListing> list_upload(std::string_view id);
  Result<std::vector<std::string>> list_keys(const std::string& prefix);
  Status delete_key(const std::string& key);
  // Deletes every key but `except`, several at a time; the first failure.
  Status delete_keys(const std::vector<std::string>& keys, const std::string& except);
  Status put_object(const std::string& key, std::string_view body,
                    std::vector<sigv4::HttpHeader> headers = {});
  std::string upload_prefix(std::string_view id) const;

  std::unique_ptr<S3Client> client_;
  S3StoreOptions options_;
  std::string prefix_;  // options_.prefix + "/" or ""
};

// How S3 answered, as a berth Status: 404 → `missing`, 503/5xx → kUnavailable,
// anything else kInternal naming the operation, the HTTP status and S3's code.
Status s3_status(std::string_view what, const S3Response& res, Code missing = Code::kInternal);

}  // namespace berth::s3
