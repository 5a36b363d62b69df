// jobs::Scheduler: when a job first runs.
#include "jobs/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace berth::jobs {
namespace {

// A job given a first-run delay runs that soon after start, although its
// interval is an hour; a job without one waits its whole interval.
TEST(SchedulerTest, FirstRunComesAfterTheFirstDelayNotTheInterval) {
  std::mutex mu;
  std::condition_variable cv;
  int early_runs = 0;
  std::atomic<int> late_runs{0};
  Scheduler s;
  s.every("early", std::chrono::hours(1), std::chrono::seconds(0), [&] {
    std::lock_guard lock(mu);
    ++early_runs;
    cv.notify_all();
  });
  s.every("late", std::chrono::hours(1), [&] { ++late_runs; });
  s.start();
  {
    std::unique_lock lock(mu);
    // Generous: the run is due at once; this only bounds a hang.
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return early_runs > 0; }));
  }
  s.stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(early_runs, 1);  // the next run is an hour away
  EXPECT_EQ(late_runs.load(), 0);
}

// A first delay longer than the interval is cut to the interval; a zero
// interval still disables the job.
TEST(SchedulerTest, FirstDelayIsAtMostTheIntervalAndZeroIntervalDisables) {
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  std::atomic<int> disabled_runs{0};
  Scheduler s;
  s.every("capped", std::chrono::seconds(1), std::chrono::hours(5), [&] {
    std::lock_guard lock(mu);
    ++runs;
    cv.notify_all();
  });
  s.every("disabled", std::chrono::seconds(0), std::chrono::seconds(0), [&] { ++disabled_runs; });
  s.start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return runs > 0; }));
  }
  s.stop();
  EXPECT_EQ(disabled_runs.load(), 0);
}

}  // namespace
}  // namespace berth::jobs
