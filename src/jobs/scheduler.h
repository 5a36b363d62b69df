// One scheduler for background work (upload expiry, garbage collection,
// lifecycle policies, scans): each job runs on the scheduler's own thread at
// its interval, never two at once, and stop() waits for the running one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::jobs {

class Scheduler {
 public:
  Scheduler() = default;
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Registers `fn` to run every `interval` (first run one interval after
  // start). Call before start(). A zero interval disables the job.
  void every(std::string name, std::chrono::seconds interval, std::function<void()> fn);
  // As above, but the first run comes `first` after start (at most
  // `interval`): for work a server restarted more often than its interval
  // must still do.
  void every(std::string name, std::chrono::seconds interval, std::chrono::seconds first,
             std::function<void()> fn);
  void start();
  // Wakes the thread and joins it; idempotent.
  void stop();
  // Runs job `name` now on the scheduler thread (e.g. an operator's request).
  void trigger(const std::string& name);

 private:
  struct Job {
    std::string name;
    std::chrono::seconds interval;
    std::function<void()> fn;
    std::chrono::steady_clock::time_point next;
    bool triggered = false;
  };
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace berth::jobs
