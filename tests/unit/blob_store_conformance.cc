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

// The same over https, verifying the gateway's certificate against the CA
// ceph-up.sh made.
std::unique_ptr<BlobStore> make_s3_https_blob_store(const std::filesystem::path&) {
  auto o = s3_test::s3_tls_options(s3_test::random_prefix());
  if (!o) {
    []() { GTEST_SKIP() << "BERTH_TEST_S3_TLS_ENDPOINT or BERTH_TEST_S3_CA_FILE is not set"; }();
    return nullptr;
  }
  return s3_test::open_s3(o);
}

INSTANTIATE_TEST_SUITE_P(S3, BlobStoreConformance,
                         ::testing::Values(BlobStoreFactory{"s3", make_s3_blob_store},
                                           BlobStoreFactory{"s3_https", make_s3_https_blob_store}),
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
    ASSERT_TRUE(
        (*store)->commit_upload("00000000-0000-4000-8000-000000000002", Digest::of(data)).is_ok());
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
}  // namespace berth::conformance
