#include "core/side_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace berth {
namespace {

TEST(SideThread, RunsTasksOneAfterAnotherOnItsOwnThread) {
  SideThread side;
  const auto caller = std::this_thread::get_id();
  int total = 0;
  for (int i = 1; i <= 100; ++i) {
    std::thread::id ran_on;
    side.run([&, i] {
      ran_on = std::this_thread::get_id();
      total += i;
    });
    side.wait();
    EXPECT_NE(ran_on, caller);
  }
  EXPECT_EQ(total, 5050);
}

TEST(SideThread, OverlapsWithTheCaller) {
  SideThread side;
  std::atomic<bool> caller_done{false};
  std::atomic<bool> seen_caller_done{false};
  side.run([&] {
    // Waits for the caller's half: only possible if both run at once.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!caller_done && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    seen_caller_done = caller_done.load();
  });
  caller_done = true;
  side.wait();
  EXPECT_TRUE(seen_caller_done);
}

TEST(SideThread, DestructorWaitsForTheRunningTask) {
  std::atomic<bool> finished{false};
  {
    SideThread side;
    side.run([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      finished = true;
    });
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace berth
