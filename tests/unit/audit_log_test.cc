// AuditLog::reopen(): rotation by moving the file away and reopening its path,
// with writers appending all the while.
#include "app/audit_log.h"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace berth::app {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-audit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::vector<std::string> lines_of(const std::filesystem::path& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(AuditLogTest, ReopenSendsLaterRecordsToANewFileAtThePath) {
  const auto live = dir_ / "audit.log";
  const auto rotated = dir_ / "audit.log.1";
  auto log = AuditLog::open(live.string());
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  (*log)->append(R"({"n":1})");
  (*log)->flush();
  std::filesystem::rename(live, rotated);
  (*log)->append(R"({"n":2})");  // may land in either file, but in one only
  ASSERT_TRUE((*log)->reopen().is_ok());
  (*log)->append(R"({"n":3})");
  (*log)->flush();

  const auto old_lines = lines_of(rotated);
  const auto new_lines = lines_of(live);
  ASSERT_FALSE(old_lines.empty());
  EXPECT_EQ(old_lines.front(), R"({"n":1})");
  ASSERT_FALSE(new_lines.empty()) << "nothing written to the reopened path";
  EXPECT_EQ(new_lines.back(), R"({"n":3})");
  EXPECT_EQ(old_lines.size() + new_lines.size(), 3u);
  struct stat st {};
  ASSERT_EQ(::stat(live.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, EveryRecordLandsOnceWhileWritersRaceRotations) {
  const auto live = dir_ / "audit.log";
  auto log = AuditLog::open(live.string());
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  constexpr int kWriters = 4;
  constexpr int kEach = 2000;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i)
        (*log)->append("{\"w\":" + std::to_string(w) + ",\"i\":" + std::to_string(i) + "}");
    });
  }
  int rotations = 0;
  for (; rotations < 5; ++rotations) {
    std::error_code ec;
    std::filesystem::rename(live, dir_ / ("audit.log." + std::to_string(rotations + 1)), ec);
    ASSERT_TRUE((*log)->reopen().is_ok());
    std::this_thread::yield();
  }
  for (auto& t : writers) t.join();
  (*log)->flush();
  EXPECT_EQ((*log)->dropped(), 0u);

  std::map<std::string, int> seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    for (const auto& line : lines_of(entry.path())) {
      ASSERT_TRUE(line.size() > 2 && line.front() == '{' && line.back() == '}') << line;
      ++seen[line];
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kWriters * kEach));
  for (const auto& [line, count] : seen) EXPECT_EQ(count, 1) << line;
}

}  // namespace
}  // namespace berth::app
