// A thread that runs one task at a time beside its owner, so that two halves
// of one step can overlap: hashing a chunk of an upload while writing it.
// Not thread-safe: one owner starts a task and waits for it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace berth {

class SideThread {
 public:
  SideThread();
  ~SideThread();  // waits for the running task, then joins
  SideThread(const SideThread&) = delete;
  SideThread& operator=(const SideThread&) = delete;

  // Starts `task` on the side thread. Call wait() before the next run().
  void run(std::function<void()> task);
  // Blocks until the task given to run() has returned.
  void wait();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> task_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace berth
