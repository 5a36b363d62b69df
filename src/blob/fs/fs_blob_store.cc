#include "blob/fs/fs_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_set>

#include <fmt/format.h>

namespace berth {
namespace fs = std::filesystem;

namespace {

// A full disk (or quota) is its own code so that the APIs can say so and
// deletes can release the space reserve; everything else is kInternal.
Status io_error(std::string_view what, const fs::path& p, int err = errno) {
  const Code code = err == ENOSPC || err == EDQUOT ? Code::kStorageFull : Code::kInternal;
  return error(code, fmt::format("{} {}: {}", what, p.string(), std::strerror(err)));
}

// Creates `dir` and its missing parents with mode 0700: blob bytes are
// readable by berth's own user only, whatever the umask.
Status make_private_dirs(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return Status::ok();
  if (errno != ENOENT || !dir.has_parent_path() || dir.parent_path() == dir)
    return io_error("mkdir", dir);
  BERTH_RETURN_IF_ERROR(make_private_dirs(dir.parent_path()));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir", dir);
  return Status::ok();
}

class FdHolder {
 public:
  explicit FdHolder(int fd) : fd_(fd) {}
  ~FdHolder() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdHolder(const FdHolder&) = delete;
  FdHolder& operator=(const FdHolder&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open dir", dir);
  FdHolder h(fd);
  if (::fsync(fd) != 0) return io_error("fsync dir", dir);
  return Status::ok();
}

}  // namespace

Status create_directories_durably(const fs::path& dir) {
  // The missing components, deepest first.
  std::vector<fs::path> missing;
  fs::path p = dir;
  struct stat st {};
  while (!p.empty() && ::stat(p.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error("stat", p);
    missing.push_back(p);
    if (!p.has_relative_path() || p.parent_path() == p) break;
    p = p.parent_path();
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    // EEXIST: created concurrently; its creator may not have synced the
    // parent yet, so sync it here too.
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir", *it);
    BERTH_RETURN_IF_ERROR(fsync_dir(it->parent_path().empty() ? fs::path(".") : it->parent_path()));
  }
  return Status::ok();
}

namespace {

// Makes the fan-out directory `dir` exist with its entry durable in its
// parent. The first call for a directory in this process syncs the parent
// even when the directory already exists: its creator, maybe a concurrent
// commit, may not have synced it yet. Later calls cost one mkdir(2). A
// directory this process creates is always synced into its parent, so a name
// found in the set below is durable. Thread-safe.
Status ensure_durable_fanout_dir(const fs::path& dir) {
  static std::mutex mu;
  static std::unordered_set<std::string> durable;  // guarded by mu
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno != EEXIST) return io_error("mkdir", dir);
    std::lock_guard lock(mu);
    if (durable.count(dir.string()) != 0) return Status::ok();
  }
  BERTH_RETURN_IF_ERROR(fsync_dir(dir.parent_path()));
  std::lock_guard lock(mu);
  durable.insert(dir.string());
  return Status::ok();
}

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileReader() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  std::optional<int> native_fd() const override { return fd_; }
  // Reads stop at the size seen at open: an upload still being appended to
  // reads as the snapshot it was.
  Result<size_t> read_at(uint64_t offset, void* buf, size_t len) override {
    if (offset >= size_) return size_t{0};
    len = static_cast<size_t>(std::min<uint64_t>(len, size_ - offset));
    while (true) {
      ssize_t n = ::pread(fd_, buf, len, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR)
        return error(Code::kInternal, fmt::format("pread: {}", std::strerror(errno)));
    }
  }

 private:
  int fd_;
  uint64_t size_;
};

// Writeback is started every this many bytes while an upload streams in, so
// that the fdatasync at commit finds little left to write.
constexpr off_t kWritebackWindow = 8 << 20;

class FileAppender final : public UploadAppender {
 public:
  FileAppender(int fd, fs::path path, off_t size)
      : fd_(fd), path_(std::move(path)), end_(size), synced_to_(size) {}
  ~FileAppender() override { ::close(fd_); }
  Status append(const void* data, size_t len) override {
    const char* p = static_cast<const char*>(data);
    while (len > 0) {
      ssize_t n = ::write(fd_, p, len);
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("write", path_);
      }
      p += n;
      len -= static_cast<size_t>(n);
      end_ += n;
    }
    if (end_ - synced_to_ >= kWritebackWindow) {
      // Only starts writeback of the pages written so far; it neither waits
      // nor promises durability (commit_upload's fdatasync does). Failure
      // just leaves the work to that fdatasync.
      (void)::sync_file_range(fd_, synced_to_, end_ - synced_to_, SYNC_FILE_RANGE_WRITE);
      synced_to_ = end_;
    }
    return Status::ok();
  }
  Status flush() override { return Status::ok(); }  // write(2) is already visible

 private:
  int fd_;
  fs::path path_;
  off_t end_;        // the file's size as this appender has written it
  off_t synced_to_;  // writeback started for everything before this offset
};

Result<std::unique_ptr<BlobReader>> open_reader(const fs::path& p, Code missing) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return error(missing, "not found");
    return io_error("open", p);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = io_error("fstat", p);
    ::close(fd);
    return s;
  }
  return std::unique_ptr<BlobReader>(new FileReader(fd, static_cast<uint64_t>(st.st_size)));
}

bool valid_upload_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<FsBlobStore>> FsBlobStore::open_at(const fs::path& root) {
  for (const char* sub : {"uploads", "blobs/sha256", "blobs/sha512", "quarantine"}) {
    BERTH_RETURN_IF_ERROR(create_directories_durably(root / sub));
  }
  // A layout made by an older berth (or a wider umask) is narrowed too.
  for (const char* sub : {"blobs", "blobs/sha256", "blobs/sha512", "uploads", "quarantine"}) {
    if (::chmod((root / sub).c_str(), 0700) != 0) return io_error("chmod", root / sub);
  }
  // Synced even when nothing was created: directories made without a sync
  // (by an earlier version) become durable before anything in them is
  // acknowledged.
  BERTH_RETURN_IF_ERROR(fsync_dir(root));
  BERTH_RETURN_IF_ERROR(fsync_dir(root / "blobs"));
  return std::unique_ptr<FsBlobStore>(new FsBlobStore(root));
}

fs::path FsBlobStore::blob_path(const Digest& digest) const {
  return root_ / "blobs" / std::string(digest.algorithm_name()) / digest.hex().substr(0, 2) /
         digest.hex();
}

Result<fs::path> FsBlobStore::upload_path(std::string_view id) const {
  if (!valid_upload_id(id)) return error(Code::kBlobUploadUnknown, "malformed upload id");
  return root_ / "uploads" / std::string(id);
}

Result<std::unique_ptr<BlobReader>> FsBlobStore::open(const Digest& digest) {
  return open_reader(blob_path(digest), Code::kBlobUnknown);
}

Result<uint64_t> FsBlobStore::stat(const Digest& digest) {
  struct stat st {};
  fs::path p = blob_path(digest);
  if (::stat(p.c_str(), &st) != 0) {
    if (errno == ENOENT) return error(Code::kBlobUnknown, "blob not found");
    return io_error("stat", p);
  }
  return static_cast<uint64_t>(st.st_size);
}

fs::path FsBlobStore::quarantine_path(const Digest& digest) const {
  return root_ / "quarantine" / std::string(digest.algorithm_name()) / digest.hex();
}

Status FsBlobStore::quarantine(const Digest& digest, const BlobReader* checked) {
  fs::path p = blob_path(digest);
  const std::optional<int> checked_fd = checked != nullptr ? checked->native_fd() : std::nullopt;
  if (checked_fd) {
    // Only the file that was found bad goes: a good copy renamed into place
    // since (a push that heals the blob) stays.
    struct stat held {};
    struct stat now {};
    if (::fstat(*checked_fd, &held) != 0) return io_error("fstat", p);
    if (::stat(p.c_str(), &now) != 0) {
      if (errno == ENOENT) return error(Code::kBlobUnknown, "blob not found");
      return io_error("stat", p);
    }
    if (held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
      return error(Code::kFailedPrecondition, "the blob was replaced since it was checked");
    }
  }
  fs::path dst = quarantine_path(digest);
  BERTH_RETURN_IF_ERROR(make_private_dirs(dst.parent_path()));
  if (::rename(p.c_str(), dst.c_str()) != 0) {
    if (errno == ENOENT) return error(Code::kBlobUnknown, "blob not found");
    return io_error("rename", dst);
  }
  BERTH_RETURN_IF_ERROR(fsync_dir(p.parent_path()));
  return fsync_dir(dst.parent_path());
}

Status FsBlobStore::remove(const Digest& digest) {
  fs::path p = blob_path(digest);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return io_error("unlink", p);
  return Status::ok();
}

Result<std::vector<Digest>> FsBlobStore::list(const std::optional<Digest>& after, size_t limit) {
  std::vector<Digest> out;
  if (limit == 0) limit = 1;
  // Sorted names of the entries of `dir` (regular files or directories).
  auto sorted_names = [](const fs::path& dir, bool dirs,
                         std::vector<std::string>& names) -> Status {
    names.clear();
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
      std::error_code type_ec;
      if (dirs ? it->is_directory(type_ec) : it->is_regular_file(type_ec))
        names.push_back(it->path().filename().string());
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return error(Code::kInternal, fmt::format("list {}: {}", dir.string(), ec.message()));
    }
    std::sort(names.begin(), names.end());
    return Status::ok();
  };
  const std::string after_text = after ? after->str() : std::string();
  std::vector<std::string> fanouts;
  std::vector<std::string> files;
  for (const char* alg : {"sha256", "sha512"}) {  // in byte order
    const std::string prefix = std::string(alg) + ":";
    if (after && after_text.compare(0, prefix.size(), prefix) > 0) continue;  // a later algorithm
    const bool same_alg = after && after_text.compare(0, prefix.size(), prefix) == 0;
    const fs::path alg_dir = root_ / "blobs" / alg;
    BERTH_RETURN_IF_ERROR(sorted_names(alg_dir, true, fanouts));
    for (const auto& fan : fanouts) {
      if (same_alg && fan < after->hex().substr(0, 2))
        continue;  // every name in it sorts before `after`
      BERTH_RETURN_IF_ERROR(sorted_names(alg_dir / fan, false, files));
      for (const auto& name : files) {
        auto d = Digest::parse(prefix + name);
        if (!d || (after && !(*after < *d))) continue;
        out.push_back(std::move(d).value());
        if (out.size() == limit) return out;
      }
    }
  }
  return out;
}

Result<std::optional<std::string>> FsBlobStore::redirect_url(const Digest&, std::chrono::seconds) {
  return std::optional<std::string>();
}

Status FsBlobStore::create_upload(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(fs::path p, upload_path(id));
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create upload", p);
  ::close(fd);
  return Status::ok();
}

Result<UploadInfo> FsBlobStore::upload_info(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(fs::path p, upload_path(id));
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    if (errno == ENOENT) return error(Code::kBlobUploadUnknown, "upload not found");
    return io_error("stat", p);
  }
  return UploadInfo{std::string(id), static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec};
}

Result<std::unique_ptr<UploadAppender>> FsBlobStore::append_upload(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(fs::path p, upload_path(id));
  int fd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return error(Code::kBlobUploadUnknown, "upload not found");
    return io_error("open upload", p);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = io_error("fstat upload", p);
    ::close(fd);
    return s;
  }
  return std::unique_ptr<UploadAppender>(new FileAppender(fd, p, st.st_size));
}

Result<std::unique_ptr<BlobReader>> FsBlobStore::read_upload(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(fs::path p, upload_path(id));
  return open_reader(p, Code::kBlobUploadUnknown);
}

namespace {

fs::path hash_state_path(const fs::path& upload) {
  fs::path p = upload;
  p += ".hash";
  return p;
}

}  // namespace

Status FsBlobStore::save_hash_state(std::string_view id, const SavedHashState& state) {
  BERTH_ASSIGN_OR_RETURN(fs::path upload, upload_path(id));
  const fs::path dst = hash_state_path(upload);
  fs::path tmp = dst;
  tmp += ".tmp";  // one writer per upload at a time: the caller holds it
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((state.offset >> (8 * i)) & 0xff);
  bytes += state.state;
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == ENOENT) return error(Code::kBlobUploadUnknown, "upload not found");
      return io_error("create", tmp);
    }
    FdHolder h(fd);
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = io_error("write", tmp);
        ::unlink(tmp.c_str());
        return s;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    Status s = io_error("rename", dst);
    ::unlink(tmp.c_str());
    return s;
  }
  // An abort or commit may have removed the upload meanwhile: leave nothing.
  struct stat st {};
  if (::stat(upload.c_str(), &st) != 0 && errno == ENOENT) {
    ::unlink(dst.c_str());
    return error(Code::kBlobUploadUnknown, "upload not found");
  }
  return Status::ok();
}

Result<SavedHashState> FsBlobStore::load_hash_state(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(fs::path upload, upload_path(id));
  const fs::path p = hash_state_path(upload);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return error(Code::kNotFound, "no saved hash state");
    return io_error("open", p);
  }
  FdHolder h(fd);
  std::string bytes;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read", p);
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > (1 << 16))
      return error(Code::kInternal, fmt::format("{}: too large", p.string()));
  }
  if (bytes.size() < 8) return error(Code::kNotFound, "saved hash state is truncated");
  SavedHashState out;
  for (int i = 0; i < 8; ++i)
    out.offset |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  out.state = bytes.substr(8);
  return out;
}

Status FsBlobStore::commit_upload(std::string_view id, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(fs::path src, upload_path(id));
  fs::path dst = blob_path(digest);
  {
    int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return error(Code::kBlobUploadUnknown, "upload not found");
      return io_error("open upload", src);
    }
    FdHolder h(fd);
    if (::fdatasync(fd) != 0) return io_error("fdatasync", src);
  }
  BERTH_RETURN_IF_ERROR(ensure_durable_fanout_dir(dst.parent_path()));
  // Replacing an existing blob with the same digest is harmless: same bytes, and
  // readers keep their open inode.
  if (::rename(src.c_str(), dst.c_str()) != 0) return io_error("rename", dst);
  // The upload is gone, and its saved hash state with it (there is rarely one:
  // only uploads sent in several requests save it).
  const fs::path state = hash_state_path(src);
  if (::unlink(state.c_str()) != 0 && errno != ENOENT) return io_error("unlink", state);
  // Syncing the blob's directory makes the new name durable. The uploads
  // directory is not synced: should the old name come back after a crash, it
  // is a stray upload file, which upload expiry deletes.
  return fsync_dir(dst.parent_path());
}

Status FsBlobStore::abort_upload(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(fs::path p, upload_path(id));
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return io_error("unlink", p);
  const fs::path state = hash_state_path(p);
  if (::unlink(state.c_str()) != 0 && errno != ENOENT) return io_error("unlink", state);
  fs::path tmp = state;
  tmp += ".tmp";  // left by a crash in the middle of a save
  (void)::unlink(tmp.c_str());
  return Status::ok();
}

Result<std::vector<UploadInfo>> FsBlobStore::list_uploads(const std::optional<std::string>& after,
                                                          size_t limit) {
  if (limit == 0) limit = 1;
  std::vector<std::string> ids;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ / "uploads", ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!valid_upload_id(name) || (after && name <= *after)) continue;  // hash states, temporaries
    ids.push_back(std::move(name));
  }
  if (ec) return error(Code::kInternal, fmt::format("list uploads: {}", ec.message()));
  std::sort(ids.begin(), ids.end());
  std::vector<UploadInfo> out;
  for (const auto& id : ids) {
    auto info = upload_info(id);
    if (!info) continue;  // removed since the directory was read
    out.push_back(std::move(info).value());
    if (out.size() == limit) break;
  }
  return out;
}

}  // namespace berth
