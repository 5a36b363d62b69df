#include "core/side_thread.h"

#include <utility>

namespace berth {

SideThread::SideThread() : thread_([this] { loop(); }) {}

SideThread::~SideThread() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !busy_; });
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SideThread::run(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    task_ = std::move(task);
    busy_ = true;
  }
  cv_.notify_all();
}

void SideThread::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !busy_; });
}

void SideThread::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || busy_; });
    if (busy_) {
      std::function<void()> task = std::move(task_);
      lock.unlock();
      task();
      lock.lock();
      busy_ = false;
      cv_.notify_all();
      continue;
    }
    return;  // stop_ and nothing left to run
  }
}

}  // namespace berth
