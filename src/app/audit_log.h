// The audit trail's sink: one JSON line per record, appended to a file (or
// stderr) by a writer thread, so that a request never waits on the disk.
//
// Queueing: append() puts the line on a bounded in-memory queue. When the
// queue is full (the disk has fallen `capacity` records behind), append()
// waits up to `full_wait` for room: an audit trail that silently loses a
// mutating call is worse than a request that stalls briefly. Should the queue
// still be full after that, the record is dropped and counted; dropped()
// reports the count and the writer logs a warning line naming the total each
// time it grows (never the record itself).
//
// Durability: the writer takes everything queued, writes it with write(2) in
// one pass and then fdatasync(2)s the file (not stderr) before it takes the
// next batch. A record is therefore on disk within one sync of the request
// ending; a crash may lose the records of the last batch in flight, never an
// older one. Records are not synced before the client hears its answer.
//
// Rotation: reopen() closes the file and opens its path again (logrotate's
// `postrotate kill -HUP`). Each batch goes whole to one file: the writer holds
// `fd_mu` for a batch's write and sync, reopen() swaps the descriptor under the
// same mutex, so a record lands in exactly one of the two files, never in both
// and never in neither.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace berth::app {

struct AuditLogOptions {
  size_t capacity = 65536;                    // queued records at most
  std::chrono::milliseconds full_wait{1000};  // how long append() waits on a full queue
};

class AuditLog {
 public:
  // `target` is a file path (created 0600, appended to) or "stderr".
  // kInternal naming the path when the file cannot be opened.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& target,
                                                AuditLogOptions options = {});
  // Writes out everything queued, then stops the writer.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues one record; `line` is a JSON object without the newline.
  void append(std::string line);
  // Waits until everything appended so far is written (and synced, for a file).
  void flush();
  // Opens the file's path again (creating it 0600) and sends every later
  // batch there; the batch being written when it is called finishes in the old
  // file. kInternal naming the path when the path cannot be opened: the old
  // file stays in use. A no-op for "stderr".
  Status reopen();
  // Records dropped because the queue stayed full.
  uint64_t dropped() const;

  struct Impl;

 private:
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::app
