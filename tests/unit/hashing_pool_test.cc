#include "registry/hashing_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "registry/upload_hasher.h"

namespace berth {
namespace {

TEST(HashingPool, OneCallerWaitingForEachJobKeepsItsUpdatesInOrder) {
  HashingPool pool(3, 8);
  UploadHasher pooled;
  UploadHasher inline_hash;
  std::vector<std::string> chunks;
  for (int i = 0; i < 200; ++i)
    chunks.push_back(
        std::string(static_cast<size_t>(1 + i * 37 % 5000), static_cast<char>('a' + i % 26)));
  for (const auto& c : chunks) {
    auto job = pool.submit([&pooled, &c] {
      pooled.update(c.data(), c.size());
      return Status::ok();
    });
    ASSERT_TRUE(job->wait().is_ok());
    inline_hash.update(c.data(), c.size());
  }
  EXPECT_EQ(pooled.peek(), inline_hash.peek());
}

TEST(HashingPool, JobsRunBesideTheCaller) {
  HashingPool pool(1, 4);
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> caller_done{false};
  std::atomic<bool> seen_caller_done{false};
  std::thread::id ran_on;
  auto job = pool.submit([&] {
    ran_on = std::this_thread::get_id();
    // Waits for the caller's half: only possible if both run at once.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!caller_done && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    seen_caller_done = caller_done.load();
    return Status::ok();
  });
  caller_done = true;
  ASSERT_TRUE(job->wait().is_ok());
  EXPECT_TRUE(seen_caller_done);
  EXPECT_NE(ran_on, caller);
}

TEST(HashingPool, ManyUploadsShareTheFewThreads) {
  HashingPool pool(2, 64);
  std::mutex mu;
  std::set<std::thread::id> workers;
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      UploadHasher mine;
      UploadHasher expected;
      for (int i = 0; i < 50; ++i) {
        std::string chunk(1000 + static_cast<size_t>(t * 13 + i), static_cast<char>(t * 7 + i));
        auto job = pool.submit([&] {
          std::lock_guard lock(mu);
          workers.insert(std::this_thread::get_id());
          mine.update(chunk.data(), chunk.size());
          return Status::ok();
        });
        if (!job->wait().is_ok()) ++failures;
        expected.update(chunk.data(), chunk.size());
      }
      if (!(mine.peek() == expected.peek())) ++failures;
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(failures.load(), 0);
  // Pool threads, plus at most the callers themselves when the queue was full.
  EXPECT_LE(workers.size(), 2u + 8u);
  EXPECT_EQ(pool.threads(), 2u);
}

TEST(HashingPool, AFullQueueRunsTheJobOnTheCaller) {
  HashingPool pool(1, 1);
  std::atomic<bool> release{false};
  auto blocker = pool.submit([&] {  // occupies the only worker
    while (!release) std::this_thread::yield();
    return Status::ok();
  });
  // Wait until the worker has taken the blocker, so the queue is empty.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto queued = pool.submit([] { return Status::ok(); });  // fills the queue of one
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  auto overflow = pool.submit([&] {
    ran_on = std::this_thread::get_id();
    return Status::ok();
  });
  EXPECT_TRUE(overflow->wait().is_ok());
  EXPECT_EQ(ran_on, caller);
  release = true;
  EXPECT_TRUE(blocker->wait().is_ok());
  EXPECT_TRUE(queued->wait().is_ok());
}

TEST(HashingPool, ErrorsAndExceptionsComeBackFromWait) {
  HashingPool pool(2, 4);
  auto failed = pool.submit([] { return error(Code::kInternal, "disk on fire"); });
  auto threw = pool.submit([]() -> Status { throw std::runtime_error("boom"); });
  Status f = failed->wait();
  EXPECT_EQ(f.code(), Code::kInternal);
  EXPECT_EQ(f.message(), "disk on fire");
  Status t = threw->wait();
  EXPECT_EQ(t.code(), Code::kInternal);
  EXPECT_NE(t.message().find("boom"), std::string::npos);
  // The pool still works afterwards.
  EXPECT_TRUE(pool.submit([] { return Status::ok(); })->wait().is_ok());
}

TEST(HashingPool, ShutdownRunsWhatIsQueuedAndLaterJobsInline) {
  std::atomic<int> ran{0};
  std::vector<std::shared_ptr<HashingPool::Job>> jobs;
  {
    HashingPool pool(1, 100);
    for (int i = 0; i < 50; ++i) {
      jobs.push_back(pool.submit([&] {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        ++ran;
        return Status::ok();
      }));
    }
    pool.shutdown();
    EXPECT_EQ(ran.load(), 50);  // nothing queued was dropped
    const auto caller = std::this_thread::get_id();
    std::thread::id ran_on;
    auto late = pool.submit([&] {
      ran_on = std::this_thread::get_id();
      return Status::ok();
    });
    EXPECT_TRUE(late->wait().is_ok());
    EXPECT_EQ(ran_on, caller);
    pool.shutdown();  // idempotent; the destructor calls it once more
  }
  for (auto& j : jobs) EXPECT_TRUE(j->wait().is_ok());
}

TEST(UploadHasher, MatchesTheEvpHasherAndResumesFromItsSavedState) {
  for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    const std::string data(100003, 'q');
    UploadHasher first(alg);
    first.update(data.data(), 777);  // mid-block, so the saved state holds a partial block
    auto resumed = UploadHasher::restore(first.serialize());
    ASSERT_TRUE(resumed.is_ok()) << resumed.status().to_string();
    EXPECT_EQ(resumed->bytes(), 777u);
    EXPECT_EQ(resumed->algorithm(), alg);
    resumed->update(data.data() + 777, data.size() - 777);
    EXPECT_EQ(resumed->peek(), Digest::of(data, alg));
    EXPECT_EQ(UploadHasher(alg).peek(), Digest::of("", alg));
  }
}

TEST(UploadHasher, RefusesStatesThatAreNotOne) {
  UploadHasher h;
  h.update("abc", 3);
  const std::string good = h.serialize();
  EXPECT_TRUE(UploadHasher::restore(good).is_ok());
  EXPECT_FALSE(UploadHasher::restore("").is_ok());
  EXPECT_FALSE(UploadHasher::restore(good.substr(0, good.size() - 1)).is_ok());
  EXPECT_FALSE(UploadHasher::restore(good + "x").is_ok());
  std::string wrong_count = good;
  wrong_count[20] =
      static_cast<char>(wrong_count[20] + 1);  // the byte count no longer matches the context's
  EXPECT_FALSE(UploadHasher::restore(wrong_count).is_ok());
  std::string other = good;
  other[0] = 'X';
  EXPECT_FALSE(UploadHasher::restore(other).is_ok());
}

}  // namespace
}  // namespace berth
