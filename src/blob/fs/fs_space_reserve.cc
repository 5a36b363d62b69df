#include "blob/fs/fs_space_reserve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace berth {

namespace {

Status io_error(std::string_view what, const std::filesystem::path& p, int err) {
  const Code code = err == ENOSPC || err == EDQUOT ? Code::kStorageFull : Code::kInternal;
  return error(code, fmt::format("{} {}: {}", what, p.string(), std::strerror(err)));
}

}  // namespace

FsSpaceReserve::FsSpaceReserve(std::filesystem::path dir, uint64_t bytes)
    : path_(std::move(dir) / "space.reserve"), bytes_(bytes) {}

bool FsSpaceReserve::held_locked() const {
  struct stat st {};
  return ::stat(path_.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= bytes_;
}

bool FsSpaceReserve::held() const {
  std::lock_guard lock(mu_);
  return bytes_ > 0 && held_locked();
}

bool FsSpaceReserve::release() {
  std::lock_guard lock(mu_);
  if (bytes_ == 0) return false;
  return ::unlink(path_.c_str()) == 0;
}

Status FsSpaceReserve::restore() {
  std::lock_guard lock(mu_);
  if (bytes_ == 0 || held_locked()) return Status::ok();
  struct statvfs vfs {};
  if (::statvfs(path_.parent_path().c_str(), &vfs) != 0)
    return io_error("statvfs", path_.parent_path(), errno);
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < 2 * bytes_) {
    return error(Code::kStorageFull,
                 fmt::format("{} bytes free, too few to set {} aside", free_bytes, bytes_));
  }
  // Written under a temporary name and renamed, so that a crash never leaves
  // a short reserve that looks held.
  const std::filesystem::path tmp = path_.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create", tmp, errno);
  int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes_));
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::rename(tmp.c_str(), path_.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return io_error("reserve", path_, err);
  }
  return Status::ok();
}

}  // namespace berth
