// Scrubber over the real stores (FsBlobStore, SqliteMetadataStore) on a
// temporary directory, with blobs damaged on disk as bit rot would.
#include "registry/scrubber.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "blob/fs/fs_space_reserve.h"
#include "core/clock.h"
#include "registry/registry.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {

class ScrubberTest : public unit::RegistryFixture {
 protected:
  void SetUp() override {
    registry_clock_ = &Clock::system();
    options_.create_repository_on_push = true;  // the tests push to a repository they never created
    ASSERT_NO_FATAL_FAILURE(RegistryFixture::SetUp());
    auto repo = registry_->repository_for_push(kAccount, "team/app");
    ASSERT_TRUE(repo.is_ok());
    repo_ = *repo;
  }

  Digest push(const std::string& data) { return put_blob(repo_, data).digest; }

  void flip_a_bit(const Digest& d, size_t offset) {
    std::fstream f(blobs_->blob_path(d), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x10;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }

  struct Outcome {
    ScrubReport report;
    std::vector<ScrubIssue> issues;
  };
  Outcome scrub(Scrubber& s, const ScrubOptions& options) {
    Outcome out;
    auto r = s.run(options, [&](const ScrubIssue& i) { out.issues.push_back(i); });
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (r.is_ok()) out.report = *r;
    return out;
  }

  RepositoryRecord repo_;
};

TEST_F(ScrubberTest, IntactStoreHasNoFindings) {
  push("one");
  push(std::string(300000, 'z'));
  Scrubber s(*meta_, *blobs_);
  auto out = scrub(s, {});
  EXPECT_EQ(out.report.checked, 2u);
  EXPECT_EQ(out.report.bytes, 300003u);
  EXPECT_TRUE(out.report.complete);
  EXPECT_TRUE(out.issues.empty());
}

TEST_F(ScrubberTest, FindsABitFlipAndLeavesItWithoutRepair) {
  Digest good = push("good blob");
  Digest bad = push(std::string(70000, 'b'));
  flip_a_bit(bad, 65000);
  Scrubber s(*meta_, *blobs_);
  auto out = scrub(s, {});
  ASSERT_EQ(out.issues.size(), 1u);
  EXPECT_EQ(out.issues[0].kind, ScrubIssue::Kind::kCorrupt);
  EXPECT_EQ(out.issues[0].digest, bad);
  EXPECT_FALSE(out.issues[0].quarantined);
  EXPECT_EQ(out.report.corrupt, 1u);
  EXPECT_TRUE(std::filesystem::exists(blobs_->blob_path(bad)));
  EXPECT_TRUE(registry_->stat_blob(repo_, good).is_ok());
}

TEST_F(ScrubberTest, RepairQuarantinesSoTheBlobReadsAsMissingUntilPushedAgain) {
  const std::string data(5000, 'q');
  Digest bad = push(data);
  flip_a_bit(bad, 10);
  Scrubber s(*meta_, *blobs_);
  ScrubOptions repair;
  repair.repair = true;
  auto out = scrub(s, repair);
  ASSERT_EQ(out.issues.size(), 1u);
  EXPECT_TRUE(out.issues[0].quarantined);
  EXPECT_EQ(out.report.quarantined, 1u);
  EXPECT_TRUE(std::filesystem::exists(blobs_->quarantine_path(bad)));
  EXPECT_EQ(registry_->stat_blob(repo_, bad).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry_->open_blob(repo_, bad).status().code(), Code::kBlobUnknown);
  // Its link is kept, so the next scrub sees the bytes as missing...
  auto again = scrub(s, repair);
  ASSERT_EQ(again.issues.size(), 1u);
  EXPECT_EQ(again.issues[0].kind, ScrubIssue::Kind::kMissing);
  // ...until a push brings them back.
  push(data);
  EXPECT_TRUE(registry_->stat_blob(repo_, bad).is_ok());
  EXPECT_TRUE(scrub(s, repair).issues.empty());
}

TEST_F(ScrubberTest, ReportsTruncationAndMissingFiles) {
  Digest shortened = push(std::string(9000, 't'));
  Digest gone = push("gone");
  std::filesystem::resize_file(blobs_->blob_path(shortened), 100);
  std::filesystem::remove(blobs_->blob_path(gone));
  Scrubber s(*meta_, *blobs_);
  auto out = scrub(s, {});
  EXPECT_EQ(out.report.corrupt, 1u);
  EXPECT_EQ(out.report.missing, 1u);
  ASSERT_EQ(out.issues.size(), 2u);
  for (const auto& i : out.issues) {
    if (i.digest == shortened) {
      EXPECT_EQ(i.kind, ScrubIssue::Kind::kCorrupt);
      EXPECT_NE(i.detail.find("9000 recorded"), std::string::npos) << i.detail;
    } else {
      EXPECT_EQ(i.digest, gone);
      EXPECT_EQ(i.kind, ScrubIssue::Kind::kMissing);
    }
  }
}

TEST_F(ScrubberTest, RateLimitAndBudgetSpreadAPassOverRuns) {
  for (int i = 0; i < 4; ++i) push(std::string(64 * 1024, static_cast<char>('a' + i)));
  Scrubber s(*meta_, *blobs_);
  ScrubOptions slow;
  slow.rate_bytes_per_second = 128 * 1024;  // 64 KiB take half a second
  slow.time_budget = std::chrono::seconds(1);
  size_t checked = 0;
  int runs = 0;
  bool complete = false;
  while (!complete && runs < 10) {
    auto out = scrub(s, slow);
    checked += out.report.checked;
    complete = out.report.complete;
    ++runs;
  }
  EXPECT_TRUE(complete);
  EXPECT_EQ(checked, 4u);  // each blob once over the runs, none twice
  EXPECT_GE(runs, 2);      // the one-second budget cannot cover two seconds of reading
  // A whole pass takes at least what the rate allows: 256 KiB at 128 KiB/s
  // is two seconds, of which the first chunk of each blob needs no wait.
  auto start = std::chrono::steady_clock::now();
  ScrubOptions paced;
  paced.rate_bytes_per_second = 128 * 1024;
  (void)scrub(s, paced);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1200));
}

TEST_F(ScrubberTest, StopsWhenTold) {
  push(std::string(512 * 1024, 's'));
  Scrubber s(*meta_, *blobs_);
  ScrubOptions stop;
  stop.rate_bytes_per_second = 1024;  // would take minutes
  stop.should_stop = [] { return true; };
  auto start = std::chrono::steady_clock::now();
  auto out = scrub(s, stop);
  EXPECT_FALSE(out.report.complete);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(FsSpaceReserveTest, RestoreSetsTheSpaceAsideAndReleaseFreesIt) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-reserve-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  FsSpaceReserve reserve(tmpl, 1 << 20);
  EXPECT_FALSE(reserve.held());
  EXPECT_FALSE(reserve.release());
  ASSERT_TRUE(reserve.restore().is_ok());
  EXPECT_TRUE(reserve.held());
  EXPECT_EQ(std::filesystem::file_size(reserve.path()), 1u << 20);
  EXPECT_EQ(std::filesystem::status(reserve.path()).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_TRUE(reserve.release());
  EXPECT_FALSE(std::filesystem::exists(reserve.path()));
  EXPECT_FALSE(reserve.release());
  FsSpaceReserve none(tmpl, 0);
  EXPECT_TRUE(none.restore().is_ok());
  EXPECT_FALSE(none.held());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace berth
