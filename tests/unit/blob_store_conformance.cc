// Runs the BlobStore conformance suite (blob_store_conformance.h) for every
// BlobStore implementation. One INSTANTIATE line per implementation.
#include "blob_store_conformance.h"
#include "blob_store_conformance_concurrency.h"

#include "blob/fs/fs_blob_store.h"

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
    EXPECT_GE((*r)->native_fd(), 0);
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

}  // namespace
}  // namespace berth::conformance
