// The upload half of the Registry: sessions, leases, admission (upload
// slots), hashing as bytes arrive (with large chunks hashed on the shared
// HashingPool beside the write), the hash state saved with the upload so that
// another node resumes it, and the commit, mount and expiry of blobs.
#include "registry/registry.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "blob/blob_store.h"
#include "blob/space_reserve.h"
#include "log/log.h"
#include "meta/metadata_store.h"
#include "registry/upload_hasher.h"

namespace berth {

// Hash progress of one upload, kept between requests so that a chunked upload
// is hashed once, as it arrives.
struct UploadHashState {
  bool busy = false;  // an append or finish holds the upload (guarded by Registry::mu_)
  UploadHasher hasher{DigestAlgorithm::kSha256};
  uint64_t offset = 0;  // bytes fed to `hasher`
  bool valid = false;   // false: rebuild from the upload's bytes before use
};

std::string new_upload_id() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string hex = to_hex(b, sizeof b);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
}

// --- uploads ---------------------------------------------------------------------------

std::shared_ptr<UploadHashState> Registry::hash_state(const std::string& id) {
  std::lock_guard lock(mu_);
  auto& slot = hashes_[id];
  if (!slot) slot = std::make_shared<UploadHashState>();
  return slot;
}

void Registry::forget_hash_state(const std::string& id) {
  std::lock_guard lock(mu_);
  hashes_.erase(id);
}

Result<UploadStatus> Registry::start_upload(const RepositoryRecord& repo) {
  std::string id = new_upload_id();
  BERTH_RETURN_IF_ERROR(blobs_.create_upload(id));
  Status st = meta_.create_upload(UploadRecord{id, repo.id, clock_.now_seconds()});
  if (!st.is_ok()) {
    (void)blobs_.abort_upload(id);
    return st;
  }
  return UploadStatus{id, 0};
}

Result<UploadStatus> Registry::upload_status(const RepositoryRecord& repo, std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(auto rec, meta_.get_upload(id));
  if (rec.repository != repo.id)
    return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
  BERTH_ASSIGN_OR_RETURN(auto info, blobs_.upload_info(id));
  return UploadStatus{std::string(id), info.size};
}

Status Registry::acquire_lease(const std::string& id, const std::string& holder) {
  int64_t now = clock_.now_seconds();
  return meta_.acquire_upload_lease(id, holder, now, now + options_.upload_lease_seconds);
}

Status UploadAppend::renew_lease_if_due() {
  if (lease_holder_.empty()) return Status::ok();
  int64_t now = registry_->clock_.now_seconds();
  if (now - lease_renewed_at_ < registry_->options_.upload_lease_seconds / 4) return Status::ok();
  BERTH_RETURN_IF_ERROR(registry_->acquire_lease(id_, lease_holder_));
  lease_renewed_at_ = now;
  return Status::ok();
}

UploadAppend::~UploadAppend() {
  if (registry_ == nullptr) return;
  // The end of an append request: the running hash goes with the upload, so
  // that whichever node takes the next request resumes it without re-reading
  // the bytes. Saved before the lease is released, so the next holder finds it.
  if (save_hash_state_ && written_ > 0 && state_->valid)
    registry_->save_hash_state(id_, state_->hasher);
  if (!lease_holder_.empty()) (void)registry_->meta_.release_upload_lease(id_, lease_holder_);
  std::lock_guard lock(registry_->mu_);
  state_->offset = offset_;
  state_->busy = false;
  registry_->release_slot(uploader_);
}

Status Registry::take_slot(const Uploader& uploader) {
  auto at_cap = [](const std::map<std::string, size_t, std::less<>>& counts, const std::string& who,
                   size_t cap) {
    if (cap == 0 || who.empty()) return false;
    auto it = counts.find(who);
    return it != counts.end() && it->second >= cap;
  };
  if (options_.max_concurrent_appends != 0 && active_appends_ >= options_.max_concurrent_appends) {
    return error(Code::kResourceExhausted, "too many uploads in progress; retry later");
  }
  if (at_cap(appends_by_account_, uploader.account, options_.max_concurrent_appends_per_account)) {
    return error(Code::kResourceExhausted,
                 "too many uploads in progress for this account; retry later");
  }
  if (at_cap(appends_by_key_, uploader.access_key_id, options_.max_concurrent_appends_per_key)) {
    return error(Code::kResourceExhausted,
                 "too many uploads in progress for this access key; retry later");
  }
  ++active_appends_;
  if (!uploader.account.empty()) ++appends_by_account_[uploader.account];
  if (!uploader.access_key_id.empty()) ++appends_by_key_[uploader.access_key_id];
  return Status::ok();
}

void Registry::release_slot(const Uploader& uploader) {
  --active_appends_;
  auto release = [](std::map<std::string, size_t, std::less<>>& counts, const std::string& who) {
    if (who.empty()) return;
    auto it = counts.find(who);
    if (it != counts.end() && --it->second == 0) counts.erase(it);
  };
  release(appends_by_account_, uploader.account);
  release(appends_by_key_, uploader.access_key_id);
}

Status UploadAppend::write(const void* data, size_t len) {
  BERTH_RETURN_IF_ERROR(renew_lease_if_due());
  Status st;
  if (len >= kOverlapHashFrom) {
    // Large chunks are hashed on the shared pool while this thread writes
    // them (see HashingPool). This append waits for its job before returning,
    // so the upload's hash updates stay in order.
    auto job = registry_->hashing_pool_.submit([this, data, len] {
      state_->hasher.update(data, len);
      return Status::ok();
    });
    st = appender_->append(data, len);
    Status hashed = job->wait();
    if (st.is_ok() && !hashed.is_ok()) st = hashed;
  } else {
    st = appender_->append(data, len);
    if (st.is_ok()) state_->hasher.update(data, len);
  }
  if (!st.is_ok()) {
    // Part of the chunk may be on disk: the hash no longer matches the bytes.
    state_->valid = false;
    return st;
  }
  offset_ += len;
  written_ += len;
  return Status::ok();
}

Status UploadAppend::close() {
  Status st = appender_->flush();
  if (!st.is_ok()) state_->valid = false;  // the store may hold part of the bytes
  return st;
}

Result<std::unique_ptr<UploadAppend>> Registry::begin_append(const RepositoryRecord& repo,
                                                             std::string_view id_view,
                                                             std::optional<ByteRange> range,
                                                             bool fresh, const Uploader& uploader) {
  std::string id(id_view);
  BERTH_ASSIGN_OR_RETURN(auto rec, meta_.get_upload(id));
  if (rec.repository != repo.id)
    return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
  auto state = hash_state(id);
  {
    std::lock_guard lock(mu_);
    if (state->busy) {
      return error(Code::kBlobUploadInvalid, "another request is writing to this upload");
    }
    BERTH_RETURN_IF_ERROR(take_slot(uploader));
    state->busy = true;
  }
  std::unique_ptr<UploadAppend> append(new UploadAppend());
  append->uploader_ = uploader;
  append->registry_ = this;  // from here on the destructor releases the upload
  append->id_ = id;
  append->state_ = state;
  append->offset_ = state->offset;
  // Another process or node may be writing this upload too, unless nobody
  // but this request has heard of it yet.
  if (!fresh) {
    const std::string holder = new_upload_id();
    BERTH_RETURN_IF_ERROR(acquire_lease(id, holder));
    append->lease_holder_ = holder;
    append->lease_renewed_at_ = clock_.now_seconds();
  }

  BERTH_ASSIGN_OR_RETURN(auto info, blobs_.upload_info(id));
  append->offset_ = info.size;
  if (range && range->first != info.size) {
    append->offset_ = state->offset;
    return error(Code::kRangeInvalid, fmt::format("chunk starts at {} but the upload has {} bytes",
                                                  range->first, info.size));
  }
  if (!state->valid || state->offset != info.size ||
      state->hasher.algorithm() != DigestAlgorithm::kSha256) {
    // Another node or an earlier process wrote this upload: resume from the
    // hash state saved with it, or hash what is there.
    BERTH_ASSIGN_OR_RETURN(UploadHasher h, resume_hash(id, DigestAlgorithm::kSha256, info.size));
    state->offset = h.bytes();
    state->hasher = std::move(h);
    state->valid = state->offset == info.size;
    if (!state->valid) return error(Code::kInternal, "upload shrank while being read");
  }
  BERTH_ASSIGN_OR_RETURN(append->appender_, blobs_.append_upload(id));
  return append;
}

Result<Digest> Registry::digest_of_upload(const std::string& id, DigestAlgorithm algorithm,
                                          uint64_t size) {
  auto state = hash_state(id);
  if (state->valid && state->offset == size && state->hasher.algorithm() == algorithm) {
    return state->hasher.peek();
  }
  BERTH_ASSIGN_OR_RETURN(UploadHasher h, resume_hash(id, algorithm, size));
  return h.peek();
}

Result<UploadHasher> Registry::resume_hash(const std::string& id, DigestAlgorithm algorithm,
                                           uint64_t size) {
  if (size == 0) return UploadHasher(algorithm);  // nothing to read
  auto saved = blobs_.load_hash_state(id);
  if (saved && saved->offset == size) {
    auto h = UploadHasher::restore(saved->state);
    if (h && h->algorithm() == algorithm && h->bytes() == size) return std::move(h).value();
  }
  // None saved, a stale one (a writer died between its bytes and its save),
  // or another algorithm's: the bytes themselves are the truth.
  return hash_upload(id, algorithm, size);
}

void Registry::save_hash_state(const std::string& id, const UploadHasher& hasher) {
  Status st = blobs_.save_hash_state(id, SavedHashState{hasher.bytes(), hasher.serialize()});
  // Only an optimisation: without it the next node re-reads the upload.
  if (!st.is_ok() && st.code() != Code::kBlobUploadUnknown) {
    log::warn("could not save an upload's hash state; another node will re-read the upload",
              {{"upload", id}, {"cause", st.message()}});
  }
}

Result<UploadHasher> Registry::hash_upload(const std::string& id, DigestAlgorithm algorithm,
                                           uint64_t size) {
  UploadHasher h(algorithm);
  BERTH_ASSIGN_OR_RETURN(auto reader, blobs_.read_upload(id));
  std::vector<char> buf(1 << 20);
  uint64_t off = 0;
  while (off < size) {
    BERTH_ASSIGN_OR_RETURN(
        size_t n, reader->read_at(off, buf.data(), std::min<uint64_t>(buf.size(), size - off)));
    if (n == 0) break;
    h.update(buf.data(), n);
    off += n;
  }
  return h;
}

Result<BlobLink> Registry::finish_upload(const RepositoryRecord& repo, std::string_view id_view,
                                         const Digest& digest, bool fresh) {
  std::string id(id_view);
  BERTH_ASSIGN_OR_RETURN(auto rec, meta_.get_upload(id));
  if (rec.repository != repo.id)
    return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
  // Hold the upload so that no append slips in between hashing and commit.
  auto state = hash_state(id);
  {
    std::lock_guard lock(mu_);
    if (state->busy)
      return error(Code::kBlobUploadInvalid, "another request is writing to this upload");
    state->busy = true;
  }
  struct Release {
    Registry* r;
    std::shared_ptr<UploadHashState> s;
    ~Release() {
      std::lock_guard lock(r->mu_);
      s->busy = false;
    }
  } release{this, state};
  std::string holder = fresh ? std::string() : new_upload_id();
  if (!fresh) BERTH_RETURN_IF_ERROR(acquire_lease(id, holder));
  struct ReleaseLease {
    MetadataStore& meta;
    const std::string& id;
    const std::string& holder;
    ~ReleaseLease() {
      if (!holder.empty()) (void)meta.release_upload_lease(id, holder);
    }
  } release_lease{meta_, id, holder};
  auto link = finish_held_upload(repo, id, digest);
  if (link) holder.clear();  // the session is gone, and its lease with it
  return link;
}

Result<BlobLink> Registry::finish_upload(const RepositoryRecord& repo,
                                         std::unique_ptr<UploadAppend> held, const Digest& digest) {
  const std::string id = held->id_;
  BERTH_RETURN_IF_ERROR(held->close());
  held->save_hash_state_ = false;  // the upload ends here, one way or another
  {
    std::lock_guard lock(mu_);
    held->state_->offset = held->offset_;  // what the hash state has seen
  }
  auto link = finish_held_upload(repo, id, digest);
  if (link) held->lease_holder_.clear();  // the session is gone, and its lease with it
  return link;
}

Result<BlobLink> Registry::finish_held_upload(const RepositoryRecord& repo, const std::string& id,
                                              const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto info, blobs_.upload_info(id));
  BERTH_ASSIGN_OR_RETURN(Digest actual, digest_of_upload(id, digest.algorithm(), info.size));
  if (!(actual == digest)) {
    (void)blobs_.abort_upload(id);
    (void)meta_.delete_upload(id);
    forget_hash_state(id);
    return error(Code::kDigestInvalid,
                 fmt::format("provided digest {} does not match the uploaded content ({})",
                             digest.str(), actual.str()));
  }
  const uint64_t size = info.size;
  // Over a storage quota: refused before the bytes move, and the upload ends
  // as one whose digest does not match (its bytes would never fit anyway).
  if (Status quota = meta_.check_blob_quota(repo.id, digest, static_cast<int64_t>(size));
      !quota.is_ok()) {
    if (quota.code() == Code::kLimitExceeded) {
      (void)blobs_.abort_upload(id);
      (void)meta_.delete_upload(id);
      forget_hash_state(id);
    }
    return quota;
  }
  // Announce the write so the garbage collector leaves this digest alone
  // between the rename and the link (or refuses us while it deletes it).
  BERTH_RETURN_IF_ERROR(meta_.begin_blob_write(digest, clock_.now_seconds()));
  Status st = blobs_.commit_upload(id, digest);
  if (!st.is_ok()) {
    (void)meta_.end_blob_write(digest);
    return st;
  }
  forget_hash_state(id);
  st = meta_.complete_upload(repo.id, digest, static_cast<int64_t>(size), id, clock_.now_seconds());
  if (!st.is_ok()) {
    (void)meta_.end_blob_write(digest);
    // A concurrent push took the quota since the check above: the session's
    // bytes are already in the blob store, unlinked (`berth gc --full` finds
    // them), so the session itself goes.
    if (st.code() == Code::kLimitExceeded) (void)meta_.delete_upload(id);
    return st;
  }
  {
    std::lock_guard lock(mu_);
    reported_broken_.erase(digest.str());  // healed: should it break again, say so again
  }
  return BlobLink{digest, static_cast<int64_t>(size)};
}

Result<std::unique_ptr<UploadAppend>> Registry::begin_blob_put(const RepositoryRecord& repo,
                                                               const Uploader& uploader) {
  (void)repo;  // the blob is linked to it only when finished
  std::string id = new_upload_id();
  auto state = hash_state(id);
  Status slot;
  {
    std::lock_guard lock(mu_);
    slot = take_slot(uploader);
    if (slot.is_ok()) {
      state->busy = true;
      state->valid = true;  // an empty upload, hashed so far: nothing
      state->offset = 0;
    }
  }
  if (!slot.is_ok()) {
    forget_hash_state(id);
    return slot;
  }
  std::unique_ptr<UploadAppend> put(new UploadAppend());
  put->save_hash_state_ = false;  // nothing can resume a put
  put->uploader_ = uploader;
  put->registry_ = this;  // from here on the destructor releases the slot
  put->id_ = id;
  put->state_ = state;
  Status st = blobs_.create_upload(id);
  if (st.is_ok()) {
    auto appender = blobs_.append_upload(id);
    if (appender) {
      put->appender_ = std::move(appender).value();
      return put;
    }
    st = appender.status();
  }
  cancel_blob_put(std::move(put));
  return st;
}

Result<BlobLink> Registry::finish_blob_put(const RepositoryRecord& repo,
                                           std::unique_ptr<UploadAppend> put,
                                           const Digest& digest) {
  const std::string id = put->id_;
  if (Status st = put->close(); !st.is_ok()) {
    cancel_blob_put(std::move(put));
    return st;
  }
  put.reset();  // closes the file and frees the upload slot; the hash state stays
  auto link = finish_held_upload(repo, id, digest);
  if (!link) {  // nothing can resume a put: its bytes go whatever the failure
    (void)blobs_.abort_upload(id);
    forget_hash_state(id);
  }
  return link;
}

void Registry::cancel_blob_put(std::unique_ptr<UploadAppend> put) {
  const std::string id = put->id_;
  put.reset();
  (void)blobs_.abort_upload(id);
  forget_hash_state(id);
}

Status Registry::cancel_upload(const RepositoryRecord& repo, std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(auto rec, meta_.get_upload(id));
  if (rec.repository != repo.id)
    return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
  BERTH_RETURN_IF_ERROR(blobs_.abort_upload(id));
  forget_hash_state(std::string(id));
  return meta_.delete_upload(id);
}

Result<BlobLink> Registry::mount_blob(
    const RepositoryRecord& repo, const Digest& digest, const std::optional<RepositoryRecord>& from,
    const std::function<bool(const RepositoryRecord&)>& may_read) {
  std::optional<BlobLink> source;
  if (from) {
    auto link = meta_.get_blob_link(from->id, digest);
    if (!link) return link.take_status();
    source = *link;
  } else {
    BERTH_ASSIGN_OR_RETURN(auto holders, meta_.repositories_with_blob(repo.account_id, digest));
    std::set<RepositoryId> pending(holders.begin(), holders.end());
    // The holders' records, for may_read: walk the account's repositories
    // until each holder is met (a mount without `from` is rare).
    PageRequest page{"", 1000};
    while (!pending.empty() && !source) {
      BERTH_ASSIGN_OR_RETURN(auto batch, meta_.list_repositories(repo.account_id, page));
      for (const auto& r : batch) {
        if (pending.erase(r.id) == 0 || (may_read && !may_read(r))) continue;
        auto link = meta_.get_blob_link(r.id, digest);
        if (link) {
          source = *link;
          break;
        }
      }
      if (batch.size() < page.limit) break;
      page.after = batch.back().name;
    }
    if (!source) return error(Code::kBlobUnknown, "blob unknown to registry");
  }
  // The bytes must really be there, whole: a link never outlives its blob.
  auto stored = blobs_.stat(digest);
  if (!stored && stored.status().code() != Code::kBlobUnknown) return stored.take_status();
  BERTH_RETURN_IF_ERROR(
      check_stored(*source, stored ? std::optional<uint64_t>(*stored) : std::nullopt));
  BERTH_RETURN_IF_ERROR(meta_.link_blob(repo.id, digest, source->size, clock_.now_seconds()));
  return *source;
}

Result<size_t> Registry::expire_uploads() {
  int64_t cutoff = clock_.now_seconds() - options_.upload_ttl_seconds;
  size_t n = 0;
  BERTH_ASSIGN_OR_RETURN(auto stale, meta_.uploads_started_before(cutoff));
  for (const auto& u : stale) {
    BERTH_RETURN_IF_ERROR(blobs_.abort_upload(u.id));
    BERTH_RETURN_IF_ERROR(meta_.delete_upload(u.id));
    forget_hash_state(u.id);
    ++n;
  }
  // Bytes without a session (a crash between the two creates) expire too.
  BERTH_ASSIGN_OR_RETURN(auto files, blobs_.list_uploads());
  for (const auto& f : files) {
    if (f.modified_at >= cutoff) continue;
    if (meta_.get_upload(f.id).is_ok()) continue;
    BERTH_RETURN_IF_ERROR(blobs_.abort_upload(f.id));
    ++n;
  }
  return n;
}

}  // namespace berth
