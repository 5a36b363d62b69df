// app::Readiness: the store checks (they write to the disk or to S3 and need
// no credentials) run at most once per `reuse`; draining is read every time.
#include "app/readiness.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace berth::app {
namespace {

struct Counting {
  std::atomic<int> metadata{0};
  std::atomic<int> blobs{0};
  std::atomic<bool> storage_ok{true};
};

ReadinessOptions options(Counting& c, std::chrono::steady_clock::time_point* clock,
                         const std::atomic<bool>* draining) {
  ReadinessOptions o;
  o.check_metadata = [&c] {
    ++c.metadata;
    return Status::ok();
  };
  o.check_blobs = [&c] {
    ++c.blobs;
    return c.storage_ok.load() ? Status::ok() : error(Code::kUnavailable, "S3 refused");
  };
  o.draining = draining;
  o.reuse = std::chrono::seconds(1);
  o.now = [clock] { return *clock; };
  return o;
}

TEST(ReadinessTest, ProbesWithinReuseShareOneRunOfTheStoreChecks) {
  Counting c;
  auto clock = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::atomic<bool> draining{false};
  Readiness r(options(c, &clock, &draining));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(r.check().ready);
  EXPECT_EQ(c.metadata.load(), 1);
  EXPECT_EQ(c.blobs.load(), 1);

  // A failure shows once the last run is older than reuse, not before.
  c.storage_ok = false;
  clock += std::chrono::milliseconds(999);
  EXPECT_TRUE(r.check().ready);
  clock += std::chrono::milliseconds(1);
  auto report = r.check();
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(report.failing, std::vector<std::string>{"storage"});
  EXPECT_EQ(c.blobs.load(), 2);
  EXPECT_FALSE(r.check().ready);  // the failure is shared too
  EXPECT_EQ(c.blobs.load(), 2);
}

TEST(ReadinessTest, DrainingIsReadOnEveryProbe) {
  Counting c;
  auto clock = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::atomic<bool> draining{false};
  Readiness r(options(c, &clock, &draining));
  EXPECT_TRUE(r.check().ready);
  draining = true;
  auto report = r.check();
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(report.failing, std::vector<std::string>{"draining"});
  EXPECT_EQ(c.blobs.load(), 1);
}

// Probes arriving together run the store checks once, one at a time: the
// check counts how many runs overlap.
TEST(ReadinessTest, ConcurrentProbesRunTheStoreChecksOnce) {
  std::atomic<int> runs{0};
  std::atomic<int> running{0};
  std::atomic<int> overlapped{0};
  ReadinessOptions o;
  o.check_blobs = [&] {
    if (running.fetch_add(1) > 0) ++overlapped;
    ++runs;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --running;
    return Status::ok();
  };
  o.reuse = std::chrono::hours(1);
  Readiness r(std::move(o));
  std::vector<std::thread> probes;
  for (int i = 0; i < 8; ++i) probes.emplace_back([&] { EXPECT_TRUE(r.check().ready); });
  for (auto& t : probes) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(overlapped.load(), 0);
}

}  // namespace
}  // namespace berth::app
