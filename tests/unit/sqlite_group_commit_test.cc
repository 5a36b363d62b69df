// The SQLite pool's group commit: writers that arrive while a commit is in
// progress share the next one, each with its own result.
#include "meta/sqlite/sqlite_db.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace berth::sqlite {
namespace {

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-group-commit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto pool = Pool::open({(dir_ / "t.db").string(), true});
    ASSERT_TRUE(pool.is_ok()) << pool.status().to_string();
    pool_ = std::move(pool).value();
    ASSERT_TRUE(
        pool_->write([](Connection& c) { return c.exec("CREATE TABLE t (v INTEGER PRIMARY KEY)"); })
            .is_ok());
  }
  void TearDown() override {
    pool_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static Status insert(Connection& c, int64_t v) {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("INSERT INTO t (v) VALUES (?1)"));
    return s.bind(1, v).run();
  }

  std::vector<int64_t> rows() {
    auto lease = pool_->acquire();
    EXPECT_TRUE(lease.is_ok());
    auto s = (*lease)->prepare("SELECT v FROM t ORDER BY v");
    EXPECT_TRUE(s.is_ok());
    auto out = s->collect<int64_t>([](Statement& st) { return st.int64(0); });
    EXPECT_TRUE(out.is_ok());
    return out.is_ok() ? *out : std::vector<int64_t>{};
  }

  // Holds the write turn (a commit in progress) until `followers` writers
  // wait behind it, then lets them go: they form the next group.
  void hold_until_waiting(size_t followers, const std::function<void()>& start_followers) {
    std::thread leader([&] {
      Status st = pool_->write([&](Connection& c) {
        start_followers();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (pool_->waiting() < followers && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return insert(c, 1000);
      });
      EXPECT_TRUE(st.is_ok()) << st.to_string();
    });
    leader.join();
  }

  std::filesystem::path dir_;
  std::unique_ptr<Pool> pool_;
};

TEST_F(GroupCommitTest, WritersWaitingTogetherShareOneCommit) {
  constexpr int kFollowers = 6;
  std::vector<std::thread> followers;
  std::vector<Status> results(kFollowers);
  const uint64_t before = pool_->commits();
  hold_until_waiting(kFollowers, [&] {
    for (int i = 0; i < kFollowers; ++i) {
      followers.emplace_back(
          [&, i] { results[i] = pool_->write([i](Connection& c) { return insert(c, i); }); });
    }
  });
  for (auto& f : followers) f.join();
  for (int i = 0; i < kFollowers; ++i)
    EXPECT_TRUE(results[i].is_ok()) << i << ": " << results[i].to_string();
  // One commit for the leader, one for the six that waited behind it.
  EXPECT_EQ(pool_->commits() - before, 2u);
  EXPECT_EQ(rows(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 1000}));
}

TEST_F(GroupCommitTest, AFailingMemberIsRolledBackAloneAndGetsItsOwnError) {
  constexpr int kFollowers = 5;
  std::vector<std::thread> followers;
  std::vector<Status> results(kFollowers);
  hold_until_waiting(kFollowers, [&] {
    for (int i = 0; i < kFollowers; ++i) {
      followers.emplace_back([&, i] {
        results[i] = pool_->write([i](Connection& c) -> Status {
          BERTH_RETURN_IF_ERROR(insert(c, 10 + i));
          if (i == 2)
            return error(Code::kTagImmutable, "member two refuses");  // after writing a row
          if (i == 3) return insert(c, 1000);  // a constraint error: the leader's row exists
          return Status::ok();
        });
      });
    }
  });
  for (auto& f : followers) f.join();
  for (int i : {0, 1, 4}) EXPECT_TRUE(results[i].is_ok()) << i << ": " << results[i].to_string();
  EXPECT_EQ(results[2].code(), Code::kTagImmutable);
  EXPECT_EQ(results[2].message(), "member two refuses");
  EXPECT_FALSE(results[3].is_ok());
  // Members 2 and 3 left nothing behind, not even the rows they wrote first.
  EXPECT_EQ(rows(), (std::vector<int64_t>{10, 11, 14, 1000}));
}

TEST_F(GroupCommitTest, ALoneWriterCommitsAtOnce) {
  const uint64_t before = pool_->commits();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(pool_->write([i](Connection& c) { return insert(c, i); }).is_ok());
  EXPECT_EQ(pool_->commits() - before, 3u);
  EXPECT_EQ(pool_->write([](Connection& c) { return insert(c, 1); }).code() == Code::kOk, false);
  EXPECT_EQ(rows(), (std::vector<int64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace berth::sqlite
