// The Registry application layer over the real stores (FsBlobStore and
// SqliteMetadataStore on a temporary directory) with a FakeClock
// (unit::RegistryFixture).
#include "registry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "blob/space_reserve.h"
#include "core/lifecycle.h"
#include "registry/lifecycle_runner.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {
namespace json = boost::json;

int64_t real_now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RegistryTest : public unit::RegistryFixture {
 protected:
  void SetUp() override {
    // The filesystem stamps uploads with real time; keep the fake clock near it
    // so that ages computed from both agree.
    clock_.set_seconds(real_now_seconds());
    options_.create_repository_on_push = true;  // the tests push to repositories they never created
    ASSERT_NO_FATAL_FAILURE(RegistryFixture::SetUp());
    auto repo = registry_->repository_for_push(kAccount, "team/app");
    ASSERT_TRUE(repo.is_ok()) << repo.status().to_string();
    repo_ = *repo;
  }

  Registry& registry() { return *registry_; }

  std::string start(Registry& reg) {
    auto up = reg.start_upload(repo_);
    EXPECT_TRUE(up.is_ok()) << up.status().to_string();
    EXPECT_EQ(up->size, 0u);
    return up.is_ok() ? up->id : std::string();
  }
  std::string start() { return start(registry()); }

  // One PATCH: appends `chunk` starting at `first` (a Content-Range) or, with
  // no range, wherever the upload is.
  Status append(Registry& reg, const std::string& id, const std::string& chunk,
                std::optional<uint64_t> first) {
    std::optional<ByteRange> range;
    if (first) range = ByteRange{*first, *first + (chunk.empty() ? 0 : chunk.size() - 1)};
    auto a = reg.begin_append(repo_, id, range);
    if (!a.is_ok()) return a.take_status();
    BERTH_RETURN_IF_ERROR((*a)->write(chunk.data(), chunk.size()));
    EXPECT_EQ((*a)->written(), chunk.size());
    return Status::ok();
  }
  Status append(const std::string& id, const std::string& chunk, std::optional<uint64_t> first) {
    return append(registry(), id, chunk, first);
  }

  uint64_t upload_size(const std::string& id) {
    auto st = registry().upload_status(repo_, id);
    EXPECT_TRUE(st.is_ok()) << st.status().to_string();
    return st.is_ok() ? st->size : ~0ull;
  }

  std::string read_blob(const RepositoryRecord& repo, const Digest& d) {
    auto opened = registry().open_blob(repo, d);
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    if (!opened.is_ok()) return {};
    std::string out(opened->reader->size(), '\0');
    size_t off = 0;
    while (off < out.size()) {
      auto n = opened->reader->read_at(off, out.data() + off, out.size() - off);
      EXPECT_TRUE(n.is_ok());
      if (!n.is_ok() || *n == 0) break;
      off += *n;
    }
    out.resize(off);
    return out;
  }

  RepositoryRecord repo_;
};

// --- repositories -----------------------------------------------------------------

TEST_F(RegistryTest, RepositoryLookups) {
  EXPECT_EQ(registry().repository(kAccount, "Bad/Name").status().code(), Code::kNameInvalid);
  EXPECT_EQ(registry().repository_for_push(kAccount, "bad//name").status().code(),
            Code::kNameInvalid);
  EXPECT_EQ(registry().repository(kAccount, "not/yet").status().code(), Code::kNameUnknown);
  auto found = registry().repository(kAccount, "team/app");
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->id, repo_.id);
  EXPECT_EQ(found->created_at, clock_.now_seconds());
}

TEST_F(RegistryTest, NoRepositoryCreationOnPushByDefault) {
  Registry strict(*meta_, *blobs_, clock_, RegistryOptions{});
  auto refused = strict.repository_for_push(kAccount, "brand/new");
  EXPECT_EQ(refused.status().code(), Code::kNameUnknown);
  // The message tells the user how to create it, as ECR users do.
  EXPECT_NE(refused.status().message().find("repository 'brand/new' does not exist in account " +
                                            std::string(kAccount)),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(
      refused.status().message().find("aws ecr create-repository --repository-name brand/new"),
      std::string::npos)
      << refused.status().message();
  EXPECT_EQ(registry().repository(kAccount, "brand/new").status().code(), Code::kNameUnknown);
  EXPECT_TRUE(strict.repository_for_push(kAccount, "team/app").is_ok());
}

TEST_F(RegistryTest, RepositoryCreationOnPushWhenEnabled) {
  RegistryOptions creating;
  creating.create_repository_on_push = true;
  Registry lenient(*meta_, *blobs_, clock_, creating);
  auto created = lenient.repository_for_push(kAccount, "brand/new");
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_EQ(registry().repository(kAccount, "brand/new")->id, created->id);
}

// --- uploads ---------------------------------------------------------------------------

TEST_F(RegistryTest, ChunkedUploadInOrder) {
  const std::string id = start();
  EXPECT_EQ(upload_size(id), 0u);
  ASSERT_TRUE(append(id, "hello", 0).is_ok());
  EXPECT_EQ(upload_size(id), 5u);
  ASSERT_TRUE(append(id, ", ", 5).is_ok());
  ASSERT_TRUE(append(id, "world", std::nullopt).is_ok());  // a PATCH without Content-Range
  EXPECT_EQ(upload_size(id), 12u);

  const Digest d = Digest::of("hello, world");
  auto link = registry().finish_upload(repo_, id, d);
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->digest, d);
  EXPECT_EQ(link->size, 12);
  EXPECT_EQ(registry().stat_blob(repo_, d)->size, 12);
  EXPECT_EQ(read_blob(repo_, d), "hello, world");
  // The session is gone from both stores.
  EXPECT_EQ(registry().upload_status(repo_, id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(blobs_->upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(meta_->get_upload(id).status().code(), Code::kBlobUploadUnknown);
}

TEST_F(RegistryTest, UploadOverAStorageQuotaIsDiscardedAndStoresNothing) {
  ASSERT_TRUE(meta_->set_quota(repo_.account_id, repo_.name, 11).is_ok());
  const std::string id = start();
  ASSERT_TRUE(append(id, "hello, world", 0).is_ok());
  const Digest d = Digest::of("hello, world");
  auto link = registry().finish_upload(repo_, id, d);
  EXPECT_EQ(link.status().code(), Code::kLimitExceeded) << link.status().to_string();
  EXPECT_EQ(link.status().message(), "storage quota of repository " + repo_.name +
                                         " exceeded: 11 bytes allowed, 12 would be stored");
  // Nothing stored, and the session is gone from both stores, as for a digest mismatch.
  EXPECT_EQ(blobs_->stat(d).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(repo_, d).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(blobs_->upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(meta_->get_upload(id).status().code(), Code::kBlobUploadUnknown);
  // Equal to the quota fits.
  const std::string fits = start();
  ASSERT_TRUE(append(fits, "hello world", 0).is_ok());
  EXPECT_TRUE(registry().finish_upload(repo_, fits, Digest::of("hello world")).is_ok());
}

TEST_F(RegistryTest, UploadAppendReportsSizeAndWritten) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "abc", 0).is_ok());
  auto a = registry().begin_append(repo_, id, ByteRange{3, 5});
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_EQ((*a)->size(), 3u);
  EXPECT_EQ((*a)->written(), 0u);
  ASSERT_TRUE((*a)->write("def", 3).is_ok());
  EXPECT_EQ((*a)->size(), 6u);
  EXPECT_EQ((*a)->written(), 3u);
}

TEST_F(RegistryTest, MonolithicUploadWithoutChunks) {
  const std::string id = start();
  const std::string data(300000, 'm');
  ASSERT_TRUE(append(id, data, std::nullopt).is_ok());
  auto link = registry().finish_upload(repo_, id, Digest::of(data));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, 300000);
}

TEST_F(RegistryTest, EmptyUpload) {
  const std::string id = start();
  auto link = registry().finish_upload(repo_, id, Digest::of(""));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, 0);
  EXPECT_EQ(read_blob(repo_, Digest::of("")), "");
}

TEST_F(RegistryTest, OutOfOrderChunkIsRangeInvalid) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "01234", 0).is_ok());
  for (uint64_t first : {0ull, 3ull, 4ull, 6ull, 100ull}) {
    Status s = append(id, "xx", first);
    EXPECT_EQ(s.code(), Code::kRangeInvalid) << "chunk at " << first << ": " << s.to_string();
    // The message tells the client where to resume.
    EXPECT_NE(s.message().find('5'), std::string::npos) << s.message();
  }
  EXPECT_EQ(upload_size(id), 5u);
  // The refused chunks left the upload usable.
  ASSERT_TRUE(append(id, "56789", 5).is_ok());
  auto link = registry().finish_upload(repo_, id, Digest::of("0123456789"));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
}

TEST_F(RegistryTest, AnotherNodeContinuesTheUpload) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "first part|", 0).is_ok());

  // The in-process hash state of the first node is not available to the
  // second: it must rebuild it from the stored bytes.
  auto node2 = node();
  auto st = node2->upload_status(repo_, id);
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ(st->size, 11u);
  ASSERT_TRUE(append(*node2, id, "second part", 11).is_ok());
  auto link = node2->finish_upload(repo_, id, Digest::of("first part|second part"));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, 22);
  EXPECT_EQ(read_blob(repo_, Digest::of("first part|second part")), "first part|second part");
}

TEST_F(RegistryTest, NodesTakingTurnsKeepTheHashRight) {
  // node1 appends, node2 appends, node1 appends again with its now stale
  // hash state, then node2 finishes.
  const std::string id = start();
  auto node2 = node();
  ASSERT_TRUE(append(id, "aaa", 0).is_ok());
  ASSERT_TRUE(append(*node2, id, "bbbb", 3).is_ok());
  ASSERT_TRUE(append(id, "cc", 7).is_ok());
  ASSERT_TRUE(append(*node2, id, "d", 9).is_ok());
  auto link = registry().finish_upload(repo_, id, Digest::of("aaabbbbccd"));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(read_blob(repo_, Digest::of("aaabbbbccd")), "aaabbbbccd");
}

TEST_F(RegistryTest, RestartedNodeFinishesAnUploadItNeverSaw) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "persisted bytes", 0).is_ok());
  registry_.reset();  // the process goes away
  registry_ = node();
  auto link = registry().finish_upload(repo_, id, Digest::of("persisted bytes"));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
}

TEST_F(RegistryTest, DigestMismatchDiscardsTheUpload) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "actual content", 0).is_ok());
  const Digest claimed = Digest::of("claimed content");
  auto link = registry().finish_upload(repo_, id, claimed);
  ASSERT_FALSE(link.is_ok());
  EXPECT_EQ(link.status().code(), Code::kDigestInvalid);
  EXPECT_EQ(registry().upload_status(repo_, id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(blobs_->upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(meta_->get_upload(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().stat_blob(repo_, claimed).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(repo_, Digest::of("actual content")).status().code(),
            Code::kBlobUnknown);
  EXPECT_EQ(blobs_->stat(claimed).status().code(), Code::kBlobUnknown);
  // Nothing more can be done with it.
  EXPECT_EQ(append(id, "more", std::nullopt).code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().finish_upload(repo_, id, Digest::of("actual content")).status().code(),
            Code::kBlobUploadUnknown);
}

TEST_F(RegistryTest, FinishingWhileHoldingTheLastChunk) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "first|", 0).is_ok());
  auto held = registry().begin_append(repo_, id, std::nullopt);
  ASSERT_TRUE(held.is_ok());
  ASSERT_TRUE((*held)->write("last", 4).is_ok());
  // Nobody else may touch the upload between the last bytes and the commit.
  EXPECT_EQ(node()->begin_append(repo_, id, std::nullopt).status().code(),
            Code::kBlobUploadInvalid);
  auto link = registry().finish_upload(repo_, std::move(*held), Digest::of("first|last"));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, 10);
  EXPECT_TRUE(registry().stat_blob(repo_, Digest::of("first|last")).is_ok());
  EXPECT_EQ(meta_->get_upload(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(blobs_->upload_info(id).status().code(), Code::kBlobUploadUnknown);
}

TEST_F(RegistryTest, FinishingWhileHoldingWithTheWrongDigestDiscards) {
  const std::string id = start();
  auto held = registry().begin_append(repo_, id, std::nullopt);
  ASSERT_TRUE(held.is_ok());
  ASSERT_TRUE((*held)->write("actual", 6).is_ok());
  auto link = registry().finish_upload(repo_, std::move(*held), Digest::of("claimed"));
  EXPECT_EQ(link.status().code(), Code::kDigestInvalid);
  EXPECT_EQ(registry().stat_blob(repo_, Digest::of("actual")).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(meta_->get_upload(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(blobs_->upload_info(id).status().code(), Code::kBlobUploadUnknown);
}

// --- one-request puts (POST ?digest=) --------------------------------------------------

TEST_F(RegistryTest, BlobPutLinksTheBlobAndLeavesNoSessionOrTemporaryFile) {
  const std::string data(3 << 20, 'x');  // large enough to be hashed beside the write
  auto put = registry().begin_blob_put(repo_);
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  ASSERT_TRUE((*put)->write(data.data(), 1 << 20).is_ok());
  ASSERT_TRUE((*put)->write(data.data() + (1 << 20), data.size() - (1 << 20)).is_ok());
  EXPECT_EQ((*put)->written(), data.size());
  auto link = registry().finish_blob_put(repo_, std::move(*put), Digest::of(data));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, static_cast<int64_t>(data.size()));
  auto opened = registry().open_blob(repo_, Digest::of(data));
  ASSERT_TRUE(opened.is_ok());
  EXPECT_EQ(opened->reader->size(), data.size());
  auto uploads = blobs_->list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
  auto stale = meta_->uploads_started_before(clock_.now_seconds() + 1);
  ASSERT_TRUE(stale.is_ok());
  EXPECT_TRUE(stale->empty());
}

TEST_F(RegistryTest, BlobPutWithTheWrongDigestStoresNothing) {
  auto put = registry().begin_blob_put(repo_);
  ASSERT_TRUE(put.is_ok());
  ASSERT_TRUE((*put)->write("actual", 6).is_ok());
  const Digest claimed = Digest::of("claimed");
  auto link = registry().finish_blob_put(repo_, std::move(*put), claimed);
  EXPECT_EQ(link.status().code(), Code::kDigestInvalid);
  EXPECT_EQ(registry().stat_blob(repo_, claimed).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(repo_, Digest::of("actual")).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(blobs_->stat(Digest::of("actual")).status().code(), Code::kBlobUnknown);
  auto uploads = blobs_->list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
}

TEST_F(RegistryTest, BlobPutSha512AndEmpty) {
  auto put = registry().begin_blob_put(repo_);
  ASSERT_TRUE(put.is_ok());
  ASSERT_TRUE((*put)->write("five!", 5).is_ok());
  auto link = registry().finish_blob_put(repo_, std::move(*put),
                                         Digest::of("five!", DigestAlgorithm::kSha512));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  auto empty = registry().begin_blob_put(repo_);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(registry().finish_blob_put(repo_, std::move(*empty), Digest::of("")).is_ok());
  EXPECT_TRUE(registry().stat_blob(repo_, Digest::of("")).is_ok());
}

TEST_F(RegistryTest, CancelledBlobPutLeavesNothingAndFreesItsSlot) {
  RegistryOptions one;
  one.max_concurrent_appends = 1;
  Registry limited(*meta_, *blobs_, clock_, one);
  auto put = limited.begin_blob_put(repo_);
  ASSERT_TRUE(put.is_ok());
  ASSERT_TRUE((*put)->write("partial", 7).is_ok());
  EXPECT_EQ(limited.begin_blob_put(repo_).status().code(), Code::kResourceExhausted);
  limited.cancel_blob_put(std::move(*put));
  auto uploads = blobs_->list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
  auto again = limited.begin_blob_put(repo_);
  ASSERT_TRUE(again.is_ok());
  limited.cancel_blob_put(std::move(*again));
}

// One account (or one access key) streaming many uploads must leave slots
// for the others: the global cap alone let a single tenant hold every slot.
TEST_F(RegistryTest, UploadSlotsAreCappedPerAccountAndPerKey) {
  RegistryOptions opts;
  opts.max_concurrent_appends = 10;
  opts.max_concurrent_appends_per_account = 3;
  opts.max_concurrent_appends_per_key = 2;
  Registry limited(*meta_, *blobs_, clock_, opts);
  const Uploader key_a1{"111111111111", "KEYA1"};
  const Uploader key_a2{"111111111111", "KEYA2"};
  const Uploader key_b{"222222222222", "KEYB"};

  std::vector<std::unique_ptr<UploadAppend>> held;
  auto take = [&](const Uploader& who) -> Code {
    auto put = limited.begin_blob_put(repo_, who);
    if (!put.is_ok()) return put.status().code();
    held.push_back(std::move(put).value());
    return Code::kOk;
  };
  EXPECT_EQ(take(key_a1), Code::kOk);
  EXPECT_EQ(take(key_a1), Code::kOk);
  EXPECT_EQ(take(key_a1), Code::kResourceExhausted);  // the key's cap
  EXPECT_EQ(take(key_a2), Code::kOk);
  EXPECT_EQ(take(key_a2), Code::kResourceExhausted);  // the account's cap
  EXPECT_EQ(take(key_b), Code::kOk);                  // another account still gets slots
  EXPECT_EQ(take(key_b), Code::kOk);

  // Sessions (PATCH) count against the same caps as one-request puts.
  const std::string id = start(limited);
  auto append = limited.begin_append(repo_, id, std::nullopt, false, key_a2);
  EXPECT_EQ(append.status().code(), Code::kResourceExhausted);

  // Releasing one of the account's uploads frees a slot for it.
  limited.cancel_blob_put(std::move(held.front()));
  held.erase(held.begin());
  auto again = limited.begin_append(repo_, id, std::nullopt, false, key_a2);
  EXPECT_TRUE(again.is_ok()) << again.status().to_string();
  again->reset();
  for (auto& put : held) limited.cancel_blob_put(std::move(put));
}

TEST_F(RegistryTest, Sha512Finish) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "sha512 ", 0).is_ok());
  ASSERT_TRUE(append(id, "content", 7).is_ok());
  const Digest d = Digest::of("sha512 content", DigestAlgorithm::kSha512);
  auto link = registry().finish_upload(repo_, id, d);
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->digest, d);
  EXPECT_EQ(read_blob(repo_, d), "sha512 content");
  // It is stored under its sha512 digest only.
  EXPECT_EQ(registry().stat_blob(repo_, Digest::of("sha512 content")).status().code(),
            Code::kBlobUnknown);
}

TEST_F(RegistryTest, Sha512MismatchIsDigestInvalid) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "abc", 0).is_ok());
  auto link = registry().finish_upload(repo_, id, Digest::of("abd", DigestAlgorithm::kSha512));
  EXPECT_EQ(link.status().code(), Code::kDigestInvalid);
}

TEST_F(RegistryTest, TwoConcurrentAppendsToOneUpload) {
  const std::string id = start();
  auto first = registry().begin_append(repo_, id, ByteRange{0, 3});
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  auto second = registry().begin_append(repo_, id, ByteRange{0, 3});
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), Code::kBlobUploadInvalid);
  auto second_no_range = registry().begin_append(repo_, id, std::nullopt);
  EXPECT_EQ(second_no_range.status().code(), Code::kBlobUploadInvalid);
  // Nor may the upload be finished under the appender's feet.
  EXPECT_EQ(registry().finish_upload(repo_, id, Digest::of("")).status().code(),
            Code::kBlobUploadInvalid);
  ASSERT_TRUE((*first)->write("abcd", 4).is_ok());
  first->reset();  // the first request ends

  ASSERT_TRUE(append(id, "efgh", 4).is_ok());
  auto link = registry().finish_upload(repo_, id, Digest::of("abcdefgh"));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
}

// BUG (src/registry/registry.cc, Registry::begin_append): the "someone is
// appending right now" guard is UploadHashState::busy, which lives only in one
// Registry's memory. Two nodes over the same stores both accept a chunk for
// the same offset of the same upload (both pass the range check against the
// stored size before either writes), the bytes land twice, and the client's
// final PUT then fails with DIGEST_INVALID and the whole upload is discarded.
// registry.h promises kBlobUploadInvalid "when another request is appending to
// it right now" and says upload state a second node needs lives in the stores.
TEST_F(RegistryTest, AppendsFromTwoNodesAtOnceAreExclusive) {
  const std::string id = start();
  auto node2 = node();
  auto first = registry().begin_append(repo_, id, ByteRange{0, 2});
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  auto second = node2->begin_append(repo_, id, ByteRange{0, 2});
  EXPECT_EQ(second.status().code(), Code::kBlobUploadInvalid)
      << "a second node accepted a chunk at the offset another node is writing";
  ASSERT_TRUE((*first)->write("abc", 3).is_ok());
  if (second.is_ok()) {
    ASSERT_TRUE((*second)->write("xyz", 3).is_ok());
  }
  first->reset();
  second = Status(Code::kInternal, "released");
  EXPECT_EQ(upload_size(id), 3u);
  auto link = registry().finish_upload(repo_, id, Digest::of("abc"));
  EXPECT_TRUE(link.is_ok()) << link.status().to_string();
}

TEST_F(RegistryTest, ConcurrentAppendsFromThreadsNeverInterleave) {
  const std::string id = start();
  constexpr int kThreads = 4;
  constexpr int kRounds = 20;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string chunk(1000, static_cast<char>('a' + t));
      for (int i = 0; i < kRounds; ++i) {
        auto a = registry().begin_append(repo_, id, std::nullopt);
        if (!a.is_ok()) {
          EXPECT_EQ(a.status().code(), Code::kBlobUploadInvalid);
          ++refused;
          continue;
        }
        EXPECT_TRUE((*a)->write(chunk.data(), chunk.size()).is_ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const uint64_t size = upload_size(id);
  EXPECT_EQ(size, static_cast<uint64_t>(kThreads * kRounds - refused.load()) * 1000);
  // Every accepted chunk landed whole: each 1000-byte block is one letter.
  auto reader = blobs_->read_upload(id);
  ASSERT_TRUE(reader.is_ok());
  std::string bytes(size, '\0');
  ASSERT_EQ(*(*reader)->read_at(0, bytes.data(), size), size);
  for (uint64_t block = 0; block < size / 1000; ++block) {
    EXPECT_EQ(bytes.substr(block * 1000, 1000), std::string(1000, bytes[block * 1000]))
        << "block " << block << " mixes chunks";
  }
  auto link = registry().finish_upload(repo_, id, Digest::of(bytes));
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
}

TEST_F(RegistryTest, TooManyConcurrentAppendsIsResourceExhausted) {
  RegistryOptions one;
  one.max_concurrent_appends = 1;
  Registry limited(*meta_, *blobs_, clock_, one);
  auto a = limited.start_upload(repo_);
  auto b = limited.start_upload(repo_);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto first = limited.begin_append(repo_, a->id, std::nullopt);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(limited.begin_append(repo_, b->id, std::nullopt).status().code(),
            Code::kResourceExhausted);
  first->reset();
  EXPECT_TRUE(limited.begin_append(repo_, b->id, std::nullopt).is_ok());
}

TEST_F(RegistryTest, UploadsBelongToTheirRepository) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "mine", 0).is_ok());
  auto other = registry().repository_for_push(kAccount, "team/other");
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(registry().upload_status(*other, id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().begin_append(*other, id, std::nullopt).status().code(),
            Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().finish_upload(*other, id, Digest::of("mine")).status().code(),
            Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().cancel_upload(*other, id).code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(upload_size(id), 4u);
}

TEST_F(RegistryTest, UnknownUploadIds) {
  for (const std::string& id : {std::string("00000000-0000-4000-8000-000000000000"),
                                std::string("../../etc"), std::string("")}) {
    EXPECT_EQ(registry().upload_status(repo_, id).status().code(), Code::kBlobUploadUnknown) << id;
    EXPECT_EQ(registry().begin_append(repo_, id, std::nullopt).status().code(),
              Code::kBlobUploadUnknown)
        << id;
    EXPECT_EQ(registry().finish_upload(repo_, id, Digest::of("")).status().code(),
              Code::kBlobUploadUnknown)
        << id;
    EXPECT_EQ(registry().cancel_upload(repo_, id).code(), Code::kBlobUploadUnknown) << id;
  }
}

TEST_F(RegistryTest, CancelUpload) {
  const std::string id = start();
  ASSERT_TRUE(append(id, "to be cancelled", 0).is_ok());
  ASSERT_TRUE(registry().cancel_upload(repo_, id).is_ok());
  EXPECT_EQ(registry().upload_status(repo_, id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(blobs_->upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().cancel_upload(repo_, id).code(), Code::kBlobUploadUnknown);
}

TEST_F(RegistryTest, UploadIdsAreFreshRandomUuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string id = new_upload_id();
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[13], '-');
    EXPECT_EQ(id[14], '4') << "version 4: " << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "variant: " << id;
    EXPECT_TRUE(seen.insert(id).second) << "repeated " << id;
  }
}

// --- mounts -----------------------------------------------------------------------------

TEST_F(RegistryTest, MountFromANamedRepository) {
  const BlobLink src = push_blob(repo_, "mountable layer");
  auto target = registry().repository_for_push(kAccount, "team/target");
  ASSERT_TRUE(target.is_ok());
  EXPECT_EQ(registry().stat_blob(*target, src.digest).status().code(), Code::kBlobUnknown);
  auto link = registry().mount_blob(*target, src.digest, repo_, {});
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->digest, src.digest);
  EXPECT_EQ(link->size, src.size);
  EXPECT_EQ(registry().stat_blob(*target, src.digest)->size, src.size);
  EXPECT_EQ(read_blob(*target, src.digest), "mountable layer");
}

TEST_F(RegistryTest, MountFromARepositoryWithoutTheBlobIsBlobUnknown) {
  const BlobLink src = push_blob(repo_, "only in team/app");
  auto empty = registry().repository_for_push(kAccount, "team/empty");
  auto target = registry().repository_for_push(kAccount, "team/target");
  ASSERT_TRUE(empty.is_ok() && target.is_ok());
  auto link = registry().mount_blob(*target, src.digest, *empty, {});
  EXPECT_EQ(link.status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(*target, src.digest).status().code(), Code::kBlobUnknown);
}

TEST_F(RegistryTest, MountWithoutFromFindsTheBlobInTheAccount) {
  const BlobLink src = push_blob(repo_, "findable layer");
  auto target = registry().repository_for_push(kAccount, "team/target");
  ASSERT_TRUE(target.is_ok());
  auto link = registry().mount_blob(*target, src.digest, std::nullopt, {});
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->size, src.size);
  EXPECT_TRUE(registry().stat_blob(*target, src.digest).is_ok());

  EXPECT_EQ(registry().mount_blob(*target, Digest::of("nowhere"), std::nullopt, {}).status().code(),
            Code::kBlobUnknown);
}

TEST_F(RegistryTest, MountWithoutFromFindsOnlyWhatTheCallerMayRead) {
  const BlobLink src = push_blob(repo_, "layer in a repository the caller may not read");
  auto target = registry().repository_for_push(kAccount, "team/target");
  ASSERT_TRUE(target.is_ok());
  std::vector<std::string> asked;
  auto may_read = [&](const RepositoryRecord& r) {
    asked.push_back(r.name);
    return r.name != repo_.name;
  };
  EXPECT_EQ(registry().mount_blob(*target, src.digest, std::nullopt, may_read).status().code(),
            Code::kBlobUnknown);
  EXPECT_EQ(asked, std::vector<std::string>{repo_.name})
      << "asked only about the repositories holding the blob";
  EXPECT_EQ(registry().stat_blob(*target, src.digest).status().code(), Code::kBlobUnknown);

  auto readable = [&](const RepositoryRecord&) { return true; };
  EXPECT_TRUE(registry().mount_blob(*target, src.digest, std::nullopt, readable).is_ok());
}

TEST_F(RegistryTest, MountWithoutFromStaysInsideTheAccount) {
  const BlobLink src = push_blob(repo_, "private layer");
  auto foreign = registry().repository_for_push("999999999999", "team/app");
  ASSERT_TRUE(foreign.is_ok());
  EXPECT_EQ(registry().mount_blob(*foreign, src.digest, std::nullopt, {}).status().code(),
            Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(*foreign, src.digest).status().code(), Code::kBlobUnknown);
}

TEST_F(RegistryTest, MountNeedsTheBytes) {
  const BlobLink src = push_blob(repo_, "bytes about to vanish");
  ASSERT_TRUE(blobs_->remove(src.digest).is_ok());  // e.g. a faulty GC
  auto target = registry().repository_for_push(kAccount, "team/target");
  ASSERT_TRUE(target.is_ok());
  EXPECT_EQ(registry().mount_blob(*target, src.digest, repo_, {}).status().code(),
            Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(*target, src.digest).status().code(), Code::kBlobUnknown);
}

TEST_F(RegistryTest, DeleteBlobRemovesOnlyTheLink) {
  const BlobLink src = push_blob(repo_, "shared layer");
  auto other = registry().repository_for_push(kAccount, "team/other");
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(registry().mount_blob(*other, src.digest, repo_, {}).is_ok());
  ASSERT_TRUE(registry().delete_blob(repo_, src.digest).is_ok());
  EXPECT_EQ(registry().stat_blob(repo_, src.digest).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().open_blob(repo_, src.digest).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(read_blob(*other, src.digest), "shared layer");
  EXPECT_EQ(registry().delete_blob(repo_, src.digest).code(), Code::kBlobUnknown);
}

// --- manifests ------------------------------------------------------------------------------

TEST_F(RegistryTest, PutManifestByTag) {
  const std::string bytes = image_manifest(repo_, "by-tag");
  auto put = registry().put_manifest(repo_, "latest", bytes, kOciManifest);
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(put->digest, Digest::of(bytes));
  EXPECT_FALSE(put->subject.has_value());

  for (const std::string& ref : {std::string("latest"), Digest::of(bytes).str()}) {
    auto got = registry().get_manifest(repo_, ref);
    ASSERT_TRUE(got.is_ok()) << ref << ": " << got.status().to_string();
    EXPECT_EQ(got->bytes, bytes);
    EXPECT_EQ(got->digest, Digest::of(bytes));
    EXPECT_EQ(got->media_type, kOciManifest);
    EXPECT_EQ(got->artifact_type, "application/vnd.oci.image.config.v1+json");
    EXPECT_EQ(got->pushed_at_ms, clock_.now_millis());
  }
}

TEST_F(RegistryTest, PutManifestByDigest) {
  const std::string bytes = image_manifest(repo_, "by-digest");
  const Digest d = Digest::of(bytes);
  auto put = registry().put_manifest(repo_, d.str(), bytes, kOciManifest);
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(put->digest, d);
  EXPECT_EQ(registry().get_manifest(repo_, d.str())->bytes, bytes);
  auto tags = meta_->list_tags(repo_.id, {});
  ASSERT_TRUE(tags.is_ok());
  EXPECT_TRUE(tags->empty());
}

TEST_F(RegistryTest, PutManifestBySha512Digest) {
  const std::string bytes = image_manifest(repo_, "sha512");
  const Digest d = Digest::of(bytes, DigestAlgorithm::kSha512);
  auto put = registry().put_manifest(repo_, d.str(), bytes, kOciManifest);
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(put->digest, d);
  EXPECT_TRUE(registry().get_manifest(repo_, d.str()).is_ok());
}

TEST_F(RegistryTest, PutManifestDigestMismatchIsDigestInvalid) {
  const std::string bytes = image_manifest(repo_, "mismatch");
  const Digest other = Digest::of(bytes + " ");
  auto put = registry().put_manifest(repo_, other.str(), bytes, kOciManifest);
  ASSERT_FALSE(put.is_ok());
  EXPECT_EQ(put.status().code(), Code::kDigestInvalid);
  EXPECT_EQ(registry().get_manifest(repo_, other.str()).status().code(), Code::kManifestUnknown);
  EXPECT_EQ(registry().get_manifest(repo_, Digest::of(bytes).str()).status().code(),
            Code::kManifestUnknown);

  EXPECT_EQ(registry().put_manifest(repo_, "sha256:abc", bytes, kOciManifest).status().code(),
            Code::kDigestInvalid);
  EXPECT_EQ(registry().put_manifest(repo_, "md5:abc", bytes, kOciManifest).status().code(),
            Code::kDigestInvalid);
}

TEST_F(RegistryTest, PutManifestWithBadTagOrBody) {
  const std::string bytes = image_manifest(repo_, "bad");
  EXPECT_EQ(registry().put_manifest(repo_, ".hidden", bytes, kOciManifest).status().code(),
            Code::kTagInvalid);
  EXPECT_EQ(
      registry().put_manifest(repo_, std::string(129, 'a'), bytes, kOciManifest).status().code(),
      Code::kTagInvalid);
  EXPECT_EQ(registry().put_manifest(repo_, "ok", "{not json", kOciManifest).status().code(),
            Code::kManifestInvalid);
  EXPECT_EQ(registry()
                .put_manifest(repo_, "ok", bytes,
                              "application/vnd.docker.distribution.manifest.v1+prettyjws")
                .status()
                .code(),
            Code::kManifestInvalid);
  EXPECT_EQ(registry().get_manifest(repo_, "ok").status().code(), Code::kManifestUnknown);
}

TEST_F(RegistryTest, PutManifestWithMissingBlobIsManifestBlobUnknown) {
  const std::string bytes = image_manifest(repo_, "unpushed", /*push=*/false);
  auto put = registry().put_manifest(repo_, "latest", bytes, kOciManifest);
  EXPECT_EQ(put.status().code(), Code::kManifestBlobUnknown);
  EXPECT_EQ(registry().get_manifest(repo_, "latest").status().code(), Code::kManifestUnknown);
}

// A descriptor promises a size; clients trust it to bound their downloads, so
// it must be the stored blob's.
TEST_F(RegistryTest, PutManifestWithAWrongLayerOrConfigSizeIsManifestInvalid) {
  const std::string bytes = image_manifest(repo_, "sizes");
  for (const char* field : {"layers", "config"}) {
    json::object m = json::parse(bytes).as_object();
    json::object& d = std::string_view(field) == "config" ? m["config"].as_object()
                                                          : m["layers"].as_array()[0].as_object();
    d["size"] = d["size"].to_number<int64_t>() + 1;
    auto put = registry().put_manifest(repo_, "wrong-size", json::serialize(m), kOciManifest);
    EXPECT_EQ(put.status().code(), Code::kManifestInvalid)
        << field << ": " << put.status().to_string();
    EXPECT_NE(put.status().message().find("size"), std::string::npos) << put.status().message();
    d["size"] = 0;  // e.g. a client that leaves the size out and writes 0
    EXPECT_EQ(registry()
                  .put_manifest(repo_, "wrong-size", json::serialize(m), kOciManifest)
                  .status()
                  .code(),
              Code::kManifestInvalid);
  }
  EXPECT_EQ(registry().get_manifest(repo_, "wrong-size").status().code(), Code::kManifestUnknown);
  EXPECT_TRUE(registry().put_manifest(repo_, "right-size", bytes, kOciManifest).is_ok());
}

TEST_F(RegistryTest, IndexWithAWrongChildSizeIsManifestInvalid) {
  const std::string child = image_manifest(repo_, "sized-child");
  ASSERT_TRUE(registry().put_manifest(repo_, Digest::of(child).str(), child, kOciManifest).is_ok());
  json::object index{{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.index.v1+json"},
                     {"manifests", json::array{json::object{{"mediaType", kOciManifest},
                                                            {"digest", Digest::of(child).str()},
                                                            {"size", child.size() + 7}}}}};
  EXPECT_EQ(registry().put_manifest(repo_, "multi", json::serialize(index), "").status().code(),
            Code::kManifestInvalid);
}

// A docker image whose first layer is foreign (a Windows base layer), as
// `docker push` of a Windows image writes it.
std::string foreign_layer_manifest(const std::string& config, const std::string& layer,
                                   const char* foreign_type, json::array urls) {
  json::object foreign{{"mediaType", foreign_type},
                       {"digest", Digest::of("foreign layer bytes").str()},
                       {"size", 19}};
  if (!urls.empty()) foreign["urls"] = std::move(urls);
  json::object m{
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
      {"config", json::object{{"mediaType", "application/vnd.docker.container.image.v1+json"},
                              {"digest", Digest::of(config).str()},
                              {"size", config.size()}}},
      {"layers",
       json::array{foreign,
                   json::object{{"mediaType", "application/vnd.docker.image.rootfs.diff.tar.gzip"},
                                {"digest", Digest::of(layer).str()},
                                {"size", layer.size()}}}}};
  return json::serialize(m);
}

constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr const char* kDockerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

TEST_F(RegistryTest, ForeignLayerUrlsAreRefusedByDefault) {
  const std::string config = R"({"os":"windows"})", layer = "windows app layer";
  push_blob(repo_, config);
  push_blob(repo_, layer);
  const std::string bytes = foreign_layer_manifest(
      config, layer, kDockerForeign, json::array{"https://mcr.microsoft.com/v2/windows/blobs/x"});
  auto put = registry().put_manifest(repo_, "win", bytes, kDockerManifest);
  EXPECT_EQ(put.status().code(), Code::kManifestInvalid) << put.status().to_string();
  // Without urls a foreign layer is an ordinary one: its blob must be here.
  const std::string plain = foreign_layer_manifest(config, layer, kDockerForeign, {});
  EXPECT_EQ(registry().put_manifest(repo_, "win", plain, kDockerManifest).status().code(),
            Code::kManifestBlobUnknown);
}

TEST_F(RegistryTest, AllowedForeignLayerUrlsLetTheBlobBeMissing) {
  options_.manifest_urls = ManifestUrlPolicy::compile({R"(^https://mcr\.microsoft\.com/)"}).value();
  registry_ = node();
  const std::string config = R"({"os":"windows"})", layer = "windows app layer";
  push_blob(repo_, config);
  push_blob(repo_, layer);
  const std::string allowed = foreign_layer_manifest(
      config, layer, kDockerForeign, json::array{"https://mcr.microsoft.com/v2/windows/blobs/x"});
  auto put = registry().put_manifest(repo_, "win", allowed, kDockerManifest);
  EXPECT_TRUE(put.is_ok()) << put.status().to_string();
  const std::string elsewhere = foreign_layer_manifest(
      config, layer, kDockerForeign, json::array{"https://evil.example/mcr.microsoft.com/x"});
  EXPECT_EQ(registry().put_manifest(repo_, "evil", elsewhere, kDockerManifest).status().code(),
            Code::kManifestInvalid);
  // urls on an ordinary layer stay refused whatever the policy.
  json::object m = json::parse(allowed).as_object();
  m["layers"].as_array()[1].as_object()["urls"] = json::array{"https://mcr.microsoft.com/v2/x"};
  EXPECT_EQ(
      registry().put_manifest(repo_, "odd", json::serialize(m), kDockerManifest).status().code(),
      Code::kManifestInvalid);
}

TEST_F(RegistryTest, IndexNeedsItsChildrenAndPinsThem) {
  const std::string child = image_manifest(repo_, "child");
  const Digest child_digest = Digest::of(child);
  json::object index{{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.index.v1+json"},
                     {"manifests", json::array{json::object{{"mediaType", kOciManifest},
                                                            {"digest", child_digest.str()},
                                                            {"size", child.size()}}}}};
  const std::string index_bytes = json::serialize(index);
  EXPECT_EQ(registry().put_manifest(repo_, "multi", index_bytes, "").status().code(),
            Code::kManifestUnknown);
  ASSERT_TRUE(registry().put_manifest(repo_, child_digest.str(), child, kOciManifest).is_ok());
  ASSERT_TRUE(registry().put_manifest(repo_, "multi", index_bytes, "").is_ok());
  EXPECT_EQ(registry().delete_manifest(repo_, child_digest.str()).code(),
            Code::kManifestReferenced);
  ASSERT_TRUE(registry().delete_manifest(repo_, Digest::of(index_bytes).str()).is_ok());
  EXPECT_TRUE(registry().delete_manifest(repo_, child_digest.str()).is_ok());
}

TEST_F(RegistryTest, PutManifestRecordsSubject) {
  const std::string subject = image_manifest(repo_, "subject");
  ASSERT_TRUE(registry().put_manifest(repo_, "v1", subject, kOciManifest).is_ok());
  const std::string sig_blob = "signature payload";
  push_blob(repo_, sig_blob);
  push_blob(repo_, "{}");
  json::object referrer{
      {"schemaVersion", 2},
      {"mediaType", kOciManifest},
      {"artifactType", "application/vnd.example.signature"},
      {"config", json::object{{"mediaType", "application/vnd.oci.empty.v1+json"},
                              {"digest", Digest::of("{}").str()},
                              {"size", 2}}},
      {"layers", json::array{json::object{{"mediaType", "application/vnd.example.signature"},
                                          {"digest", Digest::of(sig_blob).str()},
                                          {"size", sig_blob.size()}}}},
      {"subject", json::object{{"mediaType", kOciManifest},
                               {"digest", Digest::of(subject).str()},
                               {"size", subject.size()}}},
      {"annotations", json::object{{"org.example.signer", "ci"}}}};
  const std::string bytes = json::serialize(referrer);
  auto put = registry().put_manifest(repo_, Digest::of(bytes).str(), bytes, kOciManifest);
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  ASSERT_TRUE(put->subject.has_value());
  EXPECT_EQ(*put->subject, Digest::of(subject));

  auto refs = meta_->list_referrers(repo_.id, Digest::of(subject), std::nullopt);
  ASSERT_TRUE(refs.is_ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].digest, Digest::of(bytes));
  EXPECT_EQ((*refs)[0].artifact_type, "application/vnd.example.signature");
  EXPECT_EQ((*refs)[0].annotations,
            (std::map<std::string, std::string>{{"org.example.signer", "ci"}}));
}

// ECR's imageSizeInBytes counts an image's layers, not its config
// (ECR-API.md §2.2).
TEST_F(RegistryTest, ImageSizeIsTheSumOfItsLayers) {
  const std::string bytes = image_manifest(repo_, "sized");
  ASSERT_TRUE(registry().put_manifest(repo_, "sized", bytes, kOciManifest).is_ok());
  auto got = registry().get_manifest(repo_, "sized");
  ASSERT_TRUE(got.is_ok());
  const std::string layer = "layer bytes of sized";
  EXPECT_EQ(got->image_size, static_cast<int64_t>(layer.size()));
}

TEST_F(RegistryTest, TagMovesOnMutableRepository) {
  const std::string one = image_manifest(repo_, "one");
  const std::string two = image_manifest(repo_, "two");
  ASSERT_TRUE(registry().put_manifest(repo_, "latest", one, kOciManifest).is_ok());
  ASSERT_TRUE(registry().put_manifest(repo_, "latest", two, kOciManifest).is_ok());
  EXPECT_EQ(registry().get_manifest(repo_, "latest")->digest, Digest::of(two));
}

TEST_F(RegistryTest, ImmutableRepositoryKeepsItsTags) {
  RepositoryRecord r = repo_;
  r.tag_mutability = "IMMUTABLE";
  ASSERT_TRUE(meta_->update_repository(r).is_ok());
  const std::string one = image_manifest(r, "one");
  const std::string two = image_manifest(r, "two");
  ASSERT_TRUE(registry().put_manifest(r, "v1", one, kOciManifest).is_ok());
  EXPECT_EQ(registry().put_manifest(r, "v1", two, kOciManifest).status().code(),
            Code::kTagImmutable);
  EXPECT_TRUE(registry().put_manifest(r, "v1", one, kOciManifest).is_ok());  // same digest
  EXPECT_TRUE(registry().put_manifest(r, "v2", two, kOciManifest).is_ok());  // a new tag
  EXPECT_EQ(registry().get_manifest(r, "v1")->digest, Digest::of(one));
}

TEST_F(RegistryTest, DeleteManifestByTagAndByDigest) {
  const std::string bytes = image_manifest(repo_, "deletable");
  const Digest d = Digest::of(bytes);
  ASSERT_TRUE(registry().put_manifest(repo_, "a", bytes, kOciManifest).is_ok());
  ASSERT_TRUE(registry().put_manifest(repo_, "b", bytes, kOciManifest).is_ok());

  ASSERT_TRUE(registry().delete_manifest(repo_, "a").is_ok());
  EXPECT_EQ(registry().get_manifest(repo_, "a").status().code(), Code::kManifestUnknown);
  EXPECT_TRUE(registry().get_manifest(repo_, "b").is_ok());
  EXPECT_TRUE(registry().get_manifest(repo_, d.str()).is_ok());

  ASSERT_TRUE(registry().delete_manifest(repo_, d.str()).is_ok());
  EXPECT_EQ(registry().get_manifest(repo_, "b").status().code(), Code::kManifestUnknown);
  EXPECT_EQ(registry().get_manifest(repo_, d.str()).status().code(), Code::kManifestUnknown);
  EXPECT_EQ(registry().delete_manifest(repo_, d.str()).code(), Code::kManifestUnknown);
  EXPECT_EQ(registry().delete_manifest(repo_, "sha256:short").code(), Code::kDigestInvalid);
  EXPECT_EQ(registry().delete_manifest(repo_, "-bad-tag").code(), Code::kTagInvalid);
  EXPECT_EQ(registry().get_manifest(repo_, "-bad-tag").status().code(), Code::kTagInvalid);
}

// --- expiry ---------------------------------------------------------------------------------

TEST_F(RegistryTest, ExpireUploadsAfterTheTtl) {
  const int64_t ttl = options_.upload_ttl_seconds;
  const std::string old_id = start();
  ASSERT_TRUE(append(old_id, "old bytes", 0).is_ok());
  clock_.advance_seconds(ttl - 3600);
  const std::string young_id = start();

  // Nothing is past the TTL yet.
  auto none = registry().expire_uploads();
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_EQ(*none, 0u);
  EXPECT_EQ(upload_size(old_id), 9u);

  clock_.advance_seconds(3601);  // old_id is now ttl + 1 s old, young_id 3601 s
  auto first = registry().expire_uploads();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(*first, 1u);
  EXPECT_EQ(registry().upload_status(repo_, old_id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(blobs_->upload_info(old_id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(meta_->get_upload(old_id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(upload_size(young_id), 0u);

  clock_.advance_seconds(ttl);
  auto second = registry().expire_uploads();
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(*second, 1u);
  EXPECT_EQ(registry().upload_status(repo_, young_id).status().code(), Code::kBlobUploadUnknown);
  auto left = blobs_->list_uploads();
  ASSERT_TRUE(left.is_ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(RegistryTest, ExpireUploadsRemovesBytesWithoutASession) {
  // A crash between creating the bytes and recording the session.
  ASSERT_TRUE(blobs_->create_upload("orphan-upload").is_ok());
  const std::string live = start();
  auto soon = registry().expire_uploads();
  ASSERT_TRUE(soon.is_ok());
  EXPECT_EQ(*soon, 0u);
  EXPECT_TRUE(blobs_->upload_info("orphan-upload").is_ok());

  clock_.advance_seconds(options_.upload_ttl_seconds + 60);
  auto n = registry().expire_uploads();
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 2u);  // the orphan and the stale session
  EXPECT_EQ(blobs_->upload_info("orphan-upload").status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(registry().upload_status(repo_, live).status().code(), Code::kBlobUploadUnknown);
}

TEST_F(RegistryTest, ExpireUploadsLeavesFinishedBlobsAlone) {
  const BlobLink done = push_blob(repo_, "finished blob");
  clock_.advance_seconds(options_.upload_ttl_seconds * 10);
  auto n = registry().expire_uploads();
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(read_blob(repo_, done.digest), "finished blob");
}

// --- stored bytes that do not match their record ------------------------------------

TEST_F(RegistryTest, TruncatedBlobIsUnknownToStatAndOpen) {
  const std::string data(10000, 'x');
  BlobLink link = push_blob(repo_, data);
  ASSERT_EQ(link.size, 10000);
  std::filesystem::resize_file(blobs_->blob_path(link.digest), 4000);
  EXPECT_EQ(registry().open_blob(repo_, link.digest).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().stat_blob(repo_, link.digest).status().code(), Code::kBlobUnknown);
  // A file grown past its record is refused alike.
  std::filesystem::resize_file(blobs_->blob_path(link.digest), 12000);
  EXPECT_EQ(registry().open_blob(repo_, link.digest).status().code(), Code::kBlobUnknown);
}

TEST_F(RegistryTest, BlobWhoseFileIsGoneIsUnknownToStatAndOpenAlike) {
  BlobLink link = push_blob(repo_, "bytes that will vanish");
  ASSERT_TRUE(std::filesystem::remove(blobs_->blob_path(link.digest)));
  EXPECT_EQ(registry().stat_blob(repo_, link.digest).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(registry().open_blob(repo_, link.digest).status().code(), Code::kBlobUnknown);
  auto other = registry().repository_for_push(kAccount, "team/other");
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(registry().mount_blob(*other, link.digest, repo_, {}).status().code(),
            Code::kBlobUnknown);
}

TEST_F(RegistryTest, PushingABrokenBlobAgainHealsIt) {
  const std::string data = "layer bytes that rot";
  BlobLink link = push_blob(repo_, data);
  std::filesystem::resize_file(blobs_->blob_path(link.digest), 3);
  ASSERT_EQ(registry().stat_blob(repo_, link.digest).status().code(), Code::kBlobUnknown);
  push_blob(repo_, data);
  auto healed = registry().stat_blob(repo_, link.digest);
  ASSERT_TRUE(healed.is_ok()) << healed.status().to_string();
  EXPECT_EQ(read_blob(repo_, link.digest), data);
}

// A reserve that records what happened to it, to see the registry use it.
class CountingReserve final : public SpaceReserve {
 public:
  bool release() override {
    ++releases;
    bool was = held_;
    held_ = false;
    return was;
  }
  Status restore() override {
    held_ = true;
    return Status::ok();
  }
  bool held() const override { return held_; }
  int releases = 0;

 private:
  bool held_ = true;
};

TEST(RunReleasingReserveTest, RetriesOnceAfterReleasingOnAFullDisk) {
  CountingReserve reserve;
  int calls = 0;
  Status st = run_releasing_reserve(&reserve, "test", [&] {
    return ++calls == 1 ? error(Code::kStorageFull, "no space left on device") : Status::ok();
  });
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(reserve.held());
  // Released already: nothing more to free, the failure stands.
  calls = 0;
  st = run_releasing_reserve(&reserve, "test", [&] {
    ++calls;
    return error(Code::kStorageFull, "no space left on device");
  });
  EXPECT_EQ(st.code(), Code::kStorageFull);
  EXPECT_EQ(calls, 1);
  // Other failures are not retried.
  ASSERT_TRUE(reserve.restore().is_ok());
  calls = 0;
  st = run_releasing_reserve(&reserve, "test", [&] {
    ++calls;
    return error(Code::kInternal, "boom");
  });
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(reserve.held());
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

// Regression: push times were whole seconds and ties went by digest, so a
// "keep 1" rule kept whichever image had the largest digest among those
// pushed in the same second and expired the newer ones. Now the last push
// stays, whatever the digests.
TEST_F(RegistryTest, LifecycleKeepsTheLastPushWithinOneSecond) {
  // Four images, pushed (all within one second) in DESCENDING digest order:
  // the newest has the smallest digest.
  std::vector<std::pair<std::string, std::string>> images;  // (digest, tag)
  for (int i = 0; i < 4; ++i) {
    std::string tag = "t" + std::to_string(i);
    std::string bytes = image_manifest(repo_, "same-second-" + tag);
    images.emplace_back(Digest::of(bytes).str(), tag);
  }
  std::sort(images.begin(), images.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [digest, tag] : images) {
    std::string bytes = image_manifest(repo_, "same-second-" + tag, false);
    ASSERT_EQ(Digest::of(bytes).str(), digest);
    ASSERT_TRUE(registry().put_manifest(repo_, tag, bytes, kOciManifest).is_ok());
  }
  auto policy = lifecycle::parse_lifecycle_policy(
      R"({"rules":[{"rulePriority":1,"description":"keep one","selection":{"tagStatus":"any",)"
      R"("countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]})");
  ASSERT_TRUE(policy.is_ok()) << policy.status().to_string();
  LifecycleRunner runner(*meta_, clock_);
  auto planned = runner.plan(repo_, *policy);
  ASSERT_TRUE(planned.is_ok()) << planned.status().to_string();
  std::set<std::string> expired;
  for (const auto& p : *planned) expired.insert(p.expiration.digest);
  EXPECT_EQ(expired.size(), 3u);
  EXPECT_EQ(expired.count(images.back().first), 0u)
      << "the last push (" << images.back().second << ") must be the one kept";
}

}  // namespace
}  // namespace berth
