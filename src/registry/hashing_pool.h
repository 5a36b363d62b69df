// A small, bounded pool of threads shared by every upload of a Registry, for
// hashing a large chunk while the request's own thread writes it to the store:
// the two take about as long as each other, so overlapping them nearly halves
// the time a chunk holds up the next read from the client.
//
// Thread-safe. One pool serves every upload; a caller keeps the order of its
// own hash updates by waiting for each job before submitting the next (an
// upload has one appender at a time), so the pool needs no per-upload queues.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace berth {

class HashingPool {
 public:
  // A submitted job. wait() blocks until it has run and returns its status.
  class Job {
   public:
    // The job's own result; kInternal when it threw.
    Status wait();

   private:
    friend class HashingPool;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    Status result_;
    std::function<Status()> task_;
  };

  // `threads` workers (at least one). At most `max_queued` jobs wait for a
  // worker; beyond that submit() runs the job on the caller's thread, so a
  // burst of uploads degrades to hashing inline, never to an unbounded queue.
  HashingPool(size_t threads, size_t max_queued);
  // Runs every job already queued, then joins the workers.
  ~HashingPool();
  HashingPool(const HashingPool&) = delete;
  HashingPool& operator=(const HashingPool&) = delete;

  // Runs `task` on a worker, or on the calling thread (before returning) when
  // the queue is full or the pool is shutting down. The caller must call
  // wait() on the returned job before anything `task` refers to goes away.
  std::shared_ptr<Job> submit(std::function<Status()> task);

  // Stops taking jobs (later submits run inline), lets the workers finish the
  // queue, and joins them. Idempotent; the destructor calls it.
  void shutdown();

  size_t threads() const { return workers_.size(); }

 private:
  static void run(Job& job);
  void loop();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace berth
