// Runs the BlobStore conformance suite (blob_store_conformance.h) for every
// BlobStore implementation. One INSTANTIATE line per implementation.
#include "blob_store_conformance.h"
#include "blob_store_conformance_concurrency.h"

#include <sys/stat.h>

#include "blob/fs/fs_blob_store.h"
#include "s3_test_env.h"

namespace berth::conformance {
namespace {

std::unique_ptr<BlobStore> make_fs_blob_store(const std::filesystem::path& scratch_dir) {
  auto store = FsBlobStore::open_at(scratch_dir / "blobs");
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  if (!store.is_ok()) return nullptr;
  return std::move(store).value();
}

INSTANTIATE_TEST_SUITE_P(Fs, BlobStoreConformance,
                         ::testing::Values(BlobStoreFactory{"fs", make_fs_blob_store}),
                         BlobStoreFactory::Name);

// Against a real S3 service (Ceph RGW in scripts/test.sh), each test under a
// fresh prefix; skipped when none is configured (test.sh fails on that).
std::unique_ptr<BlobStore> make_s3_blob_store(const std::filesystem::path&) {
  auto o = s3_test::s3_options(s3_test::random_prefix());
  if (!o) {
    []() { GTEST_SKIP() << "BERTH_TEST_S3_ENDPOINT is not set"; }();
    return nullptr;
  }
  return s3_test::open_s3(o);
}

INSTANTIATE_TEST_SUITE_P(S3, BlobStoreConformance,
                         ::testing::Values(BlobStoreFactory{"s3", make_s3_blob_store}),
                         BlobStoreFactory::Name);

// FsBlobStore specifics the interface leaves open.

TEST(FsBlobStoreTest, LayoutIsAlgorithmPrefixHex) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-fs-blob-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path root = tmpl;
  {
    auto store = FsBlobStore::open_at(root);
    ASSERT_TRUE(store.is_ok());
    EXPECT_TRUE(std::filesystem::is_directory(root / "uploads"));
    const Digest d = Digest::of("abc");
    EXPECT_EQ((*store)->blob_path(d), root / "blobs" / "sha256" / d.hex().substr(0, 2) / d.hex());
    const Digest d512 = Digest::of("abc", DigestAlgorithm::kSha512);
    EXPECT_EQ((*store)->blob_path(d512),
              root / "blobs" / "sha512" / d512.hex().substr(0, 2) / d512.hex());

    ASSERT_TRUE((*store)->create_upload("u1").is_ok());
    auto a = (*store)->append_upload("u1");
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->append("abc", 3).is_ok());
    a->reset();
    ASSERT_TRUE((*store)->commit_upload("u1", d).is_ok());
    EXPECT_TRUE(std::filesystem::is_regular_file((*store)->blob_path(d)));
    EXPECT_FALSE(std::filesystem::exists(root / "uploads" / "u1"));
    auto r = (*store)->open(d);
    ASSERT_TRUE(r.is_ok());
    ASSERT_TRUE((*r)->native_fd().has_value());
    EXPECT_GE(*(*r)->native_fd(), 0);
  }
  // A second store over the same directory (another process, or a restart)
  // sees the committed blob.
  {
    auto again = FsBlobStore::open_at(root);
    ASSERT_TRUE(again.is_ok());
    auto size = (*again)->stat(Digest::of("abc"));
    ASSERT_TRUE(size.is_ok());
    EXPECT_EQ(*size, 3u);
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}


TEST(FsBlobStoreTest, FilesAre0600AndDirectories0700WhateverTheUmask) {
  const mode_t old_umask = ::umask(0);  // the widest: modes must come from the store itself
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-fs-modes-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path root = tmpl;
  {
    auto store = FsBlobStore::open_at(root / "data");
    ASSERT_TRUE(store.is_ok());
    const std::string data = "private bytes";
    ASSERT_TRUE((*store)->create_upload("00000000-0000-4000-8000-000000000001").is_ok());
    ASSERT_TRUE((*store)->create_upload("00000000-0000-4000-8000-000000000002").is_ok());
    {
      auto a = (*store)->append_upload("00000000-0000-4000-8000-000000000002");
      ASSERT_TRUE(a.is_ok());
      ASSERT_TRUE((*a)->append(data.data(), data.size()).is_ok());
    }
    ASSERT_TRUE((*store)->commit_upload("00000000-0000-4000-8000-000000000002", Digest::of(data)).is_ok());
    size_t files = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root / "data")) {
      struct stat st {};
      ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
      const unsigned mode = st.st_mode & 07777;
      if (e.is_directory()) {
        EXPECT_EQ(mode, 0700u) << e.path();
      } else {
        EXPECT_EQ(mode, 0600u) << e.path();
        ++files;
      }
    }
    EXPECT_EQ(files, 2u);  // the open upload and the blob
  }
  ::umask(old_umask);
  std::filesystem::remove_all(root);
}

}  // namespace
// Commits racing into one fan-out directory share its fsync: the group commit
// syncs each distinct directory once per group, so fewer directory syncs than
// commits are issued, and every commit still succeeds and reads back.
TEST(FsBlobStoreTest, ConcurrentCommitsShareDirectorySyncs) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-fs-blob-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path root = tmpl;
  {
    auto opened = FsBlobStore::open_at(root);
    ASSERT_TRUE(opened.is_ok());
    FsBlobStore& store = **opened;
    // Contents whose digests all start with "00": one fan-out directory.
    constexpr int kCommits = 48;
    std::vector<std::string> blobs;
    for (int n = 0; static_cast<int>(blobs.size()) < kCommits; ++n) {
      std::string data = "blob " + std::to_string(n);
      if (Digest::of(data).hex().compare(0, 2, "00") == 0) blobs.push_back(std::move(data));
    }
    for (int i = 0; i < kCommits; ++i) {
      const std::string id = "g" + std::to_string(i);
      ASSERT_TRUE(store.create_upload(id).is_ok());
      auto a = store.append_upload(id);
      ASSERT_TRUE(a.is_ok());
      ASSERT_TRUE((*a)->append(blobs[i].data(), blobs[i].size()).is_ok());
    }
    const auto before = store.commit_stats();
    constexpr int kThreads = 8;
    std::vector<Status> results(kCommits);
    {
      std::latch start(kThreads);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          start.arrive_and_wait();
          for (int i = t; i < kCommits; i += kThreads) {
            results[i] = store.commit_upload("g" + std::to_string(i), Digest::of(blobs[i]));
          }
        });
      }
      for (auto& t : threads) t.join();
    }
    for (int i = 0; i < kCommits; ++i) {
      ASSERT_TRUE(results[i].is_ok()) << i << ": " << results[i].to_string();
      auto size = store.stat(Digest::of(blobs[i]));
      ASSERT_TRUE(size.is_ok());
      EXPECT_EQ(*size, blobs[i].size());
    }
    const auto after = store.commit_stats();
    EXPECT_EQ(after.commits - before.commits, static_cast<uint64_t>(kCommits));
    EXPECT_EQ(after.directory_syncs - before.directory_syncs, after.groups - before.groups);
    EXPECT_LT(after.directory_syncs - before.directory_syncs, static_cast<uint64_t>(kCommits));
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

}  // namespace berth::conformance
