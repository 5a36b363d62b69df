#include "registry/hashing_pool.h"

#include <exception>
#include <utility>

#include <fmt/format.h>

namespace berth {

Status HashingPool::Job::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  return result_;
}

HashingPool::HashingPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { loop(); });
}

HashingPool::~HashingPool() {
  shutdown();
}

void HashingPool::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void HashingPool::run(Job& job) {
  Status result;
  try {
    result = job.task_();
  } catch (const std::exception& e) {
    result = error(Code::kInternal, fmt::format("hashing job failed: {}", e.what()));
  } catch (...) {
    result = error(Code::kInternal, "hashing job failed");
  }
  job.task_ = nullptr;
  {
    std::lock_guard lock(job.mu_);
    job.result_ = std::move(result);
    job.done_ = true;
  }
  job.cv_.notify_all();
}

std::shared_ptr<HashingPool::Job> HashingPool::submit(std::function<Status()> task) {
  auto job = std::make_shared<Job>();
  job->task_ = std::move(task);
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < max_queued_) {
      queue_.push_back(job);
      cv_.notify_one();
      return job;
    }
  }
  run(*job);
  return job;
}

void HashingPool::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    run(*job);
    lock.lock();
  }
}

}  // namespace berth
