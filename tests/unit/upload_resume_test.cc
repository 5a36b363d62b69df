// An upload continued by another application node (a second Registry over the
// same stores, with an empty in-process cache) resumes hashing from the state
// saved with the upload instead of re-reading the bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "registry/registry.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {

// A BlobStore decorator over a real store that counts the upload bytes read
// back through read_upload (the re-reading that the saved state avoids).
class CountingBlobStore final : public BlobStore {
 public:
  explicit CountingBlobStore(BlobStore& inner) : inner_(inner) {}

  std::atomic<uint64_t> upload_bytes_read{0};
  std::atomic<int> upload_opens{0};

  Result<std::unique_ptr<BlobReader>> open(const Digest& d) override { return inner_.open(d); }
  Result<uint64_t> stat(const Digest& d) override { return inner_.stat(d); }
  Status remove(const Digest& d) override { return inner_.remove(d); }
  Status quarantine(const Digest& d, const BlobReader* checked) override {
    return inner_.quarantine(d, checked);
  }
  Result<std::vector<Digest>> list(const std::optional<Digest>& after, size_t limit) override {
    return inner_.list(after, limit);
  }
  Result<std::optional<std::string>> redirect_url(const Digest& d,
                                                  std::chrono::seconds ttl) override {
    return inner_.redirect_url(d, ttl);
  }
  Status create_upload(std::string_view id) override { return inner_.create_upload(id); }
  Result<UploadInfo> upload_info(std::string_view id) override { return inner_.upload_info(id); }
  Result<std::unique_ptr<UploadAppender>> append_upload(std::string_view id) override {
    return inner_.append_upload(id);
  }
  Result<std::unique_ptr<BlobReader>> read_upload(std::string_view id) override {
    ++upload_opens;
    BERTH_ASSIGN_OR_RETURN(auto r, inner_.read_upload(id));
    return std::unique_ptr<BlobReader>(new Counting(std::move(r), upload_bytes_read));
  }
  Status save_hash_state(std::string_view id, const SavedHashState& s) override {
    return inner_.save_hash_state(id, s);
  }
  Result<SavedHashState> load_hash_state(std::string_view id) override {
    return inner_.load_hash_state(id);
  }
  Status commit_upload(std::string_view id, const Digest& d) override {
    return inner_.commit_upload(id, d);
  }
  Status abort_upload(std::string_view id) override { return inner_.abort_upload(id); }
  Result<std::vector<UploadInfo>> list_uploads(const std::optional<std::string>& after,
                                               size_t limit) override {
    return inner_.list_uploads(after, limit);
  }

 private:
  class Counting final : public BlobReader {
   public:
    Counting(std::unique_ptr<BlobReader> r, std::atomic<uint64_t>& n) : r_(std::move(r)), n_(n) {}
    uint64_t size() const override { return r_->size(); }
    std::optional<int> native_fd() const override {
      return std::nullopt;
    }  // every byte through read_at
    Result<size_t> read_at(uint64_t offset, void* buf, size_t len) override {
      BERTH_ASSIGN_OR_RETURN(size_t got, r_->read_at(offset, buf, len));
      n_ += got;
      return got;
    }

   private:
    std::unique_ptr<BlobReader> r_;
    std::atomic<uint64_t>& n_;
  };

  BlobStore& inner_;
};

class UploadResumeTest : public unit::RegistryFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(open_stores());
    counting_ = std::make_unique<CountingBlobStore>(*blobs_);
    clock_.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    options_.create_repository_on_push = true;
    auto repo = node()->repository_for_push(kAccount, "team/app");
    ASSERT_TRUE(repo.is_ok()) << repo.status().to_string();
    repo_ = *repo;
  }

  void TearDown() override {
    counting_.reset();
    RegistryFixture::TearDown();
  }

  // A node over the shared stores (blobs through the counter) with its own,
  // empty in-process state.
  std::unique_ptr<Registry> node() {
    return std::make_unique<Registry>(*meta_, *counting_, clock_, options_);
  }

  // One PATCH request on `reg`: appends `chunk` at `first`.
  void patch(Registry& reg, const std::string& id, const std::string& chunk, uint64_t first) {
    auto a = reg.begin_append(repo_, id, ByteRange{first, first + chunk.size() - 1});
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    ASSERT_TRUE((*a)->write(chunk.data(), chunk.size()).is_ok());
  }

  static std::string bytes(size_t n, char seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 % 251);
    return s;
  }

  std::unique_ptr<CountingBlobStore> counting_;
  RepositoryRecord repo_;
};

TEST_F(UploadResumeTest, AnotherNodeContinuesAndFinishesWithoutReadingTheUpload) {
  // Large and small chunks: the large ones are hashed on the pool.
  const std::string a = bytes(300 * 1024 + 7, 'a');
  const std::string b = bytes(1000, 'b');
  const std::string c = bytes(512 * 1024 + 1, 'c');
  std::string id;
  {
    auto first = node();
    auto up = first->start_upload(repo_);
    ASSERT_TRUE(up.is_ok());
    id = up->id;
    patch(*first, id, a, 0);
  }
  {
    auto second = node();
    patch(*second, id, b, a.size());
  }
  {
    auto third = node();
    patch(*third, id, c, a.size() + b.size());
  }
  auto fourth = node();
  auto link = fourth->finish_upload(repo_, id, Digest::of(a + b + c));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, static_cast<int64_t>(a.size() + b.size() + c.size()));
  EXPECT_EQ(counting_->upload_bytes_read.load(), 0u);
  EXPECT_EQ(counting_->upload_opens.load(), 0);
  // The state went with the upload.
  EXPECT_EQ(blobs_->load_hash_state(id).status().code(), Code::kNotFound);
}

TEST_F(UploadResumeTest, AStaleSavedStateIsIgnoredAndTheBytesReRead) {
  const std::string a = bytes(4000, 'x');
  const std::string b = bytes(3000, 'y');
  std::string id;
  {
    auto first = node();
    auto up = first->start_upload(repo_);
    ASSERT_TRUE(up.is_ok());
    id = up->id;
    patch(*first, id, a, 0);
  }
  // A writer that died between its bytes and its save: the saved state
  // covers fewer bytes than the upload holds.
  {
    auto raw = blobs_->append_upload(id);
    ASSERT_TRUE(raw.is_ok());
    ASSERT_TRUE((*raw)->append(b.data(), b.size()).is_ok());
  }
  auto second = node();
  auto link = second->finish_upload(repo_, id, Digest::of(a + b));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(counting_->upload_bytes_read.load(), a.size() + b.size());
}

TEST_F(UploadResumeTest, AGarbledSavedStateIsIgnoredAndTheBytesReRead) {
  const std::string a = bytes(5000, 'g');
  std::string id;
  {
    auto first = node();
    auto up = first->start_upload(repo_);
    ASSERT_TRUE(up.is_ok());
    id = up->id;
    patch(*first, id, a, 0);
  }
  ASSERT_TRUE(blobs_->save_hash_state(id, SavedHashState{a.size(), "not a hash state"}).is_ok());
  auto second = node();
  const std::string b = bytes(10, 'h');
  patch(*second, id, b, a.size());
  EXPECT_EQ(counting_->upload_bytes_read.load(), a.size());
  auto link = second->finish_upload(repo_, id, Digest::of(a + b));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
}

TEST_F(UploadResumeTest, AMonolithicPutSavesNoState) {
  auto reg = node();
  auto up = reg->start_upload(repo_);
  ASSERT_TRUE(up.is_ok());
  const std::string data = bytes(100, 'm');
  auto a = reg->begin_append(repo_, up->id, std::nullopt, true);
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE((*a)->write(data.data(), data.size()).is_ok());
  auto link = reg->finish_upload(repo_, std::move(a).value(), Digest::of(data));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  // Nothing of the upload is left: no stray state file beside the uploads.
  size_t left = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(dir_ / "blobs" / "uploads"))
    ++left;
  EXPECT_EQ(left, 0u);
}

}  // namespace
}  // namespace berth
