#include "jobs/scheduler.h"

#include <algorithm>
#include <exception>

#include "log/log.h"

namespace berth::jobs {

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::every(std::string name, std::chrono::seconds interval, std::function<void()> fn) {
  every(std::move(name), interval, interval, std::move(fn));
}

void Scheduler::every(std::string name, std::chrono::seconds interval, std::chrono::seconds first,
                      std::function<void()> fn) {
  if (interval.count() <= 0) return;
  first = std::clamp(first, std::chrono::seconds(0), interval);
  std::lock_guard lock(mu_);
  jobs_.push_back(
      Job{std::move(name), interval, std::move(fn), std::chrono::steady_clock::now() + first});
}

void Scheduler::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::trigger(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    for (auto& j : jobs_) {
      if (j.name == name) j.triggered = true;
    }
  }
  cv_.notify_all();
}

void Scheduler::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto wake = now + std::chrono::hours(24);
    Job* due = nullptr;
    for (auto& j : jobs_) {
      if (j.triggered || j.next <= now) {
        due = &j;
        break;
      }
      wake = std::min(wake, j.next);
    }
    if (due == nullptr) {
      cv_.wait_until(lock, wake);
      continue;
    }
    due->triggered = false;
    due->next = now + due->interval;
    auto fn = due->fn;
    std::string name = due->name;
    lock.unlock();
    try {
      fn();
    } catch (const std::exception& e) {
      log::error("background job failed", {{"job", name}, {"error", e.what()}});
    }
    lock.lock();
  }
}

}  // namespace berth::jobs
