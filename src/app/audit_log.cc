#include "app/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "log/log.h"

namespace berth::app {

struct AuditLog::Impl {
  std::string target;
  AuditLogOptions options;
  bool is_file = false;

  std::mutex fd_mu;  // held by the writer for a batch's write and sync, by reopen() for the swap
  int fd = -1;       // guarded by fd_mu

  std::mutex mu;
  std::condition_variable wake_writer;   // something queued, or stopping
  std::condition_variable room_or_done;  // the writer took a batch or finished one
  std::deque<std::string> queue;         // guarded by mu
  uint64_t appended = 0;                 // guarded by mu: records ever queued
  uint64_t written = 0;                  // guarded by mu: records ever written
  uint64_t dropped = 0;                  // guarded by mu
  bool stopping = false;                 // guarded by mu
  std::thread writer;

  void run();
  void write_batch(const std::deque<std::string>& batch);
};

namespace {

Result<int> open_target(const std::string& target) {
  if (target == "stderr") return ::dup(STDERR_FILENO);
  int fd = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return error(Code::kInternal, fmt::format("audit log {}: {}", target, std::strerror(errno)));
  return fd;
}

}  // namespace

void AuditLog::Impl::write_batch(const std::deque<std::string>& batch) {
  std::string out;
  for (const auto& line : batch) {
    out += line;
    out += '\n';
  }
  std::lock_guard fd_lock(fd_mu);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::error("cannot write the audit log",
                 {{"audit_log", target}, {"error", std::strerror(errno)}});
      return;
    }
    done += static_cast<size_t>(n);
  }
  if (is_file && ::fdatasync(fd) != 0) {
    log::error("cannot sync the audit log",
               {{"audit_log", target}, {"error", std::strerror(errno)}});
  }
}

void AuditLog::Impl::run() {
  uint64_t dropped_reported = 0;
  std::unique_lock lock(mu);
  for (;;) {
    wake_writer.wait(lock, [&] { return stopping || !queue.empty(); });
    if (queue.empty() && stopping) return;
    std::deque<std::string> batch;
    batch.swap(queue);
    const uint64_t dropped_now = dropped;
    room_or_done.notify_all();
    lock.unlock();
    write_batch(batch);
    if (dropped_now > dropped_reported) {
      log::warn("audit records dropped: the audit log's queue stayed full",
                {{"audit_log", target}, {"dropped_total", dropped_now}});
      dropped_reported = dropped_now;
    }
    lock.lock();
    written += batch.size();
    room_or_done.notify_all();
  }
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& target,
                                                 AuditLogOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->target = target;
  impl->options = options;
  impl->is_file = target != "stderr";
  BERTH_ASSIGN_OR_RETURN(impl->fd, open_target(target));
  if (impl->fd < 0) return error(Code::kInternal, "audit log: cannot duplicate stderr");
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->run(); });
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake_writer.notify_all();
  impl_->writer.join();
  ::close(impl_->fd);
}

void AuditLog::append(std::string line) {
  Impl& d = *impl_;
  std::unique_lock lock(d.mu);
  if (d.queue.size() >= d.options.capacity &&
      !d.room_or_done.wait_for(lock, d.options.full_wait,
                               [&] { return d.queue.size() < d.options.capacity; })) {
    ++d.dropped;
    return;
  }
  d.queue.push_back(std::move(line));
  ++d.appended;
  lock.unlock();
  d.wake_writer.notify_one();
}

void AuditLog::flush() {
  Impl& d = *impl_;
  std::unique_lock lock(d.mu);
  const uint64_t target = d.appended;
  d.room_or_done.wait(lock, [&] { return d.written >= target; });
}

Status AuditLog::reopen() {
  Impl& d = *impl_;
  if (!d.is_file) return Status::ok();
  BERTH_ASSIGN_OR_RETURN(int fresh, open_target(d.target));
  int old = -1;
  {
    std::lock_guard fd_lock(d.fd_mu);
    old = d.fd;
    d.fd = fresh;
  }
  ::close(old);
  return Status::ok();
}

uint64_t AuditLog::dropped() const {
  std::lock_guard lock(impl_->mu);
  return impl_->dropped;
}

}  // namespace berth::app
