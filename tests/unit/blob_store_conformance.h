// The BlobStore conformance suite: what every BlobStore implementation must do,
// written against the interface only (blob/blob_store.h).
//
// To run it for an implementation, add one line to blob_store_conformance.cc:
//
//   INSTANTIATE_TEST_SUITE_P(S3, BlobStoreConformance,
//                            ::testing::Values(BlobStoreFactory{"s3", make_s3_store}),
//                            BlobStoreFactory::Name);
//
// The factory is called once per test with a fresh, empty scratch directory
// that the suite removes afterwards; it must return a fresh, empty store (an
// implementation that keeps no local files may ignore the directory). A
// factory whose backend is not available calls GTEST_SKIP() and returns null.
//
// Upload ids: 1 to 64 characters of [A-Za-z0-9-] (a UUID fits). Any other id
// is malformed: create_upload refuses it, the other upload calls answer
// kBlobUploadUnknown, and none of them may touch anything outside that id.
//
// This header defines the tests themselves, so include it from exactly one
// translation unit of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.h"
#include "core/digest.h"

namespace berth::conformance {

struct BlobStoreFactory {
  std::string name;  // a gtest name: letters, digits and '_'
  std::function<std::unique_ptr<BlobStore>(const std::filesystem::path& scratch_dir)> make;

  static std::string Name(const ::testing::TestParamInfo<BlobStoreFactory>& info) {
    return info.param.name;
  }
};

inline void PrintTo(const BlobStoreFactory& f, std::ostream* os) {
  *os << f.name;
}

class BlobStoreConformance : public ::testing::TestWithParam<BlobStoreFactory> {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-blob-conformance-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
    store_ = GetParam().make(scratch_);
    if (IsSkipped()) return;  // the factory's backend is not configured here
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  BlobStore& store() { return *store_; }

  // Upload ids are chosen by the caller; the registry uses random UUIDs.
  static std::string upload_id(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
    return buf;
  }

  // Appends `chunks` to upload `id`, one appender per chunk (as one request each).
  void append_chunks(std::string_view id, const std::vector<std::string>& chunks) {
    for (const std::string& c : chunks) {
      auto appender = store().append_upload(id);
      ASSERT_TRUE(appender.is_ok()) << appender.status().to_string();
      ASSERT_TRUE((*appender)->append(c.data(), c.size()).is_ok());
      ASSERT_TRUE((*appender)->flush().is_ok());
    }
  }

  // Stores `data` as a committed blob through a whole upload; returns its digest.
  Digest put_blob(const std::string& data, int upload_n = 9000,
                  DigestAlgorithm alg = DigestAlgorithm::kSha256) {
    const std::string id = upload_id(upload_n);
    EXPECT_TRUE(store().create_upload(id).is_ok());
    append_chunks(id, {data});
    const Digest d = Digest::of(data, alg);
    Status st = store().commit_upload(id, d);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return d;
  }

  // Reads everything a reader holds, in `piece`-sized read_at calls.
  static std::string read_all(BlobReader& r, size_t piece = 4096) {
    std::string out;
    std::vector<char> buf(piece);
    uint64_t off = 0;
    while (true) {
      auto n = r.read_at(off, buf.data(), buf.size());
      EXPECT_TRUE(n.is_ok()) << n.status().to_string();
      if (!n.is_ok() || *n == 0) break;
      out.append(buf.data(), *n);
      off += *n;
    }
    return out;
  }

  std::string read_blob(const Digest& d) {
    auto r = store().open(d);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? read_all(**r) : std::string();
  }

  static std::string pattern(size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
      x = x * 1103515245u + 12345u;
      s[i] = static_cast<char>(x >> 24);
    }
    return s;
  }

  static bool contains(const std::vector<Digest>& v, const Digest& d) {
    return std::find(v.begin(), v.end(), d) != v.end();
  }

  static const UploadInfo* find_upload(const std::vector<UploadInfo>& v, std::string_view id) {
    for (const auto& u : v) {
      if (u.id == id) return &u;
    }
    return nullptr;
  }

  std::filesystem::path scratch_;
  std::unique_ptr<BlobStore> store_;
};

// --- uploads ----------------------------------------------------------------------

TEST_P(BlobStoreConformance, NewUploadIsEmpty) {
  const std::string id = upload_id(1);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  auto info = store().upload_info(id);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->id, id);
  EXPECT_EQ(info->size, 0u);
  auto reader = store().read_upload(id);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_EQ((*reader)->size(), 0u);
  char c;
  auto n = (*reader)->read_at(0, &c, 1);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
}

TEST_P(BlobStoreConformance, AppendsAccumulateInOrder) {
  const std::string id = upload_id(2);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"hello", ", ", "world"});
  auto info = store().upload_info(id);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->size, 12u);
  auto reader = store().read_upload(id);
  ASSERT_TRUE(reader.is_ok());
  EXPECT_EQ((*reader)->size(), 12u);
  EXPECT_EQ(read_all(**reader), "hello, world");
}

TEST_P(BlobStoreConformance, SeveralAppendsThroughOneAppender) {
  const std::string id = upload_id(3);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  const std::string data = pattern(10000);
  {
    auto appender = store().append_upload(id);
    ASSERT_TRUE(appender.is_ok());
    for (size_t off = 0; off < data.size(); off += 1000) {
      ASSERT_TRUE((*appender)->append(data.data() + off, 1000).is_ok());
    }
    ASSERT_TRUE((*appender)->append(nullptr, 0).is_ok());
    ASSERT_TRUE((*appender)->flush().is_ok());
    auto info = store().upload_info(id);
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(info->size, data.size());  // visible after flush, appender still open
  }
  auto reader = store().read_upload(id);
  ASSERT_TRUE(reader.is_ok());
  EXPECT_EQ(read_all(**reader, 777), data);
}

TEST_P(BlobStoreConformance, UploadModifiedTimeIsNow) {
  const std::string id = upload_id(4);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"x"});
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto info = store().upload_info(id);
  ASSERT_TRUE(info.is_ok());
  EXPECT_GE(info->modified_at, now - 120);
  EXPECT_LE(info->modified_at, now + 120);
}

TEST_P(BlobStoreConformance, CommitMakesTheBlobReadableAndRemovesTheUpload) {
  const std::string id = upload_id(5);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"layer ", "bytes"});
  const Digest d = Digest::of("layer bytes");
  ASSERT_TRUE(store().commit_upload(id, d).is_ok());

  auto size = store().stat(d);
  ASSERT_TRUE(size.is_ok()) << size.status().to_string();
  EXPECT_EQ(*size, 11u);
  EXPECT_EQ(read_blob(d), "layer bytes");

  auto info = store().upload_info(id);
  ASSERT_FALSE(info.is_ok());
  EXPECT_EQ(info.status().code(), Code::kBlobUploadUnknown);
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_EQ(find_upload(*uploads, id), nullptr);
  auto blobs = store().list();
  ASSERT_TRUE(blobs.is_ok());
  EXPECT_TRUE(contains(*blobs, d));
}

TEST_P(BlobStoreConformance, CommitOfAnExistingDigestKeepsOneIntactBlob) {
  const std::string data = pattern(5000, 7);
  const Digest d = put_blob(data, 10);
  // The same content uploaded again (a second client pushing the same layer).
  const std::string id = upload_id(11);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {data.substr(0, 100), data.substr(100)});
  Status st = store().commit_upload(id, d);
  ASSERT_TRUE(st.is_ok()) << st.to_string();

  EXPECT_EQ(store().upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(read_blob(d), data);
  auto blobs = store().list();
  ASSERT_TRUE(blobs.is_ok());
  EXPECT_EQ(std::count(blobs->begin(), blobs->end(), d), 1);
}

TEST_P(BlobStoreConformance, ReaderOpenedBeforeASecondCommitStillReads) {
  const std::string data = pattern(3000, 3);
  const Digest d = put_blob(data, 12);
  auto reader = store().open(d);
  ASSERT_TRUE(reader.is_ok());
  put_blob(data, 13);
  EXPECT_EQ(read_all(**reader), data);
}

TEST_P(BlobStoreConformance, AbortRemovesTheUpload) {
  const std::string id = upload_id(20);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"doomed"});
  ASSERT_TRUE(store().abort_upload(id).is_ok());
  EXPECT_EQ(store().upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().read_upload(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().append_upload(id).status().code(), Code::kBlobUploadUnknown);
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_EQ(find_upload(*uploads, id), nullptr);
  // Aborting what is already gone is fine.
  EXPECT_TRUE(store().abort_upload(id).is_ok());
  EXPECT_TRUE(store().abort_upload(upload_id(21)).is_ok());
  // Nothing became a blob.
  auto blobs = store().list();
  ASSERT_TRUE(blobs.is_ok());
  EXPECT_TRUE(blobs->empty());
}

// blob_store.h promises that read_upload returns "a snapshot of an upload's
// bytes", with read_at returning 0 at the end: bytes appended after the reader
// was opened stay invisible to it. (Regression: FsBlobStore's reader used to
// read on past size().)
TEST_P(BlobStoreConformance, UploadReaderIsASnapshot) {
  const std::string id = upload_id(25);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"before"});
  auto reader = store().read_upload(id);
  ASSERT_TRUE(reader.is_ok());
  append_chunks(id, {"+after"});
  EXPECT_EQ((*reader)->size(), 6u);
  char buf[32];
  auto n = (*reader)->read_at(6, buf, sizeof buf);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u) << "read past the snapshot: '" << std::string(buf, *n) << "'";
  EXPECT_EQ(read_all(**reader), "before");
}

TEST_P(BlobStoreConformance, ListUploads) {
  auto empty = store().list_uploads();
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store().create_upload(upload_id(30 + i)).is_ok());
  append_chunks(upload_id(31), {"abc"});
  append_chunks(upload_id(32), {"defgh"});
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  ASSERT_EQ(uploads->size(), 3u);
  const UploadInfo* a = find_upload(*uploads, upload_id(30));
  const UploadInfo* b = find_upload(*uploads, upload_id(31));
  const UploadInfo* c = find_upload(*uploads, upload_id(32));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->size, 0u);
  EXPECT_EQ(b->size, 3u);
  EXPECT_EQ(c->size, 5u);
}

TEST_P(BlobStoreConformance, CreatingAnExistingUploadFailsAndKeepsItsBytes) {
  const std::string id = upload_id(40);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"keep me"});
  EXPECT_FALSE(store().create_upload(id).is_ok());
  auto reader = store().read_upload(id);
  ASSERT_TRUE(reader.is_ok());
  EXPECT_EQ(read_all(**reader), "keep me");
}

TEST_P(BlobStoreConformance, UnknownUploadIds) {
  const std::string id = upload_id(50);  // well-formed, never created
  EXPECT_EQ(store().upload_info(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().append_upload(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().read_upload(id).status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().commit_upload(id, Digest::of("")).code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().stat(Digest::of("")).status().code(), Code::kBlobUnknown);
}

TEST_P(BlobStoreConformance, MalformedUploadIdsAreRejected) {
  // A valid upload that a path-traversing id must not reach.
  const std::string victim = upload_id(60);
  ASSERT_TRUE(store().create_upload(victim).is_ok());
  append_chunks(victim, {"victim"});

  const std::vector<std::string> bad = {"",
                                        ".",
                                        "..",
                                        "../" + victim,
                                        "a/b",
                                        "/etc/passwd",
                                        "a b",
                                        "id\n",
                                        std::string("a\0b", 3),
                                        std::string(65, 'a'),
                                        "uploads/../" + victim,
                                        "..\\x",
                                        "%2e%2e"};
  for (const std::string& id : bad) {
    SCOPED_TRACE("id '" + id + "'");
    EXPECT_FALSE(store().create_upload(id).is_ok());
    EXPECT_EQ(store().upload_info(id).status().code(), Code::kBlobUploadUnknown);
    EXPECT_EQ(store().append_upload(id).status().code(), Code::kBlobUploadUnknown);
    EXPECT_EQ(store().read_upload(id).status().code(), Code::kBlobUploadUnknown);
    EXPECT_EQ(store().commit_upload(id, Digest::of("victim")).code(), Code::kBlobUploadUnknown);
    (void)store().abort_upload(id);  // may refuse; must not touch anything else
  }
  auto reader = store().read_upload(victim);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_EQ(read_all(**reader), "victim");
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_EQ(uploads->size(), 1u);
  auto blobs = store().list();
  ASSERT_TRUE(blobs.is_ok());
  EXPECT_TRUE(blobs->empty());
}

TEST_P(BlobStoreConformance, LongestPlainUploadIdIsAccepted) {
  const std::string id(64, 'f');  // a 64-character id of the allowed alphabet
  ASSERT_TRUE(store().create_upload(id).is_ok());
  append_chunks(id, {"ok"});
  auto info = store().upload_info(id);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->size, 2u);
}

// --- blobs -------------------------------------------------------------------------

TEST_P(BlobStoreConformance, UnknownDigests) {
  const Digest d = Digest::of("never stored");
  EXPECT_EQ(store().open(d).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(store().stat(d).status().code(), Code::kBlobUnknown);
  EXPECT_TRUE(store().remove(d).is_ok());  // removing an absent blob is fine
  auto blobs = store().list();
  ASSERT_TRUE(blobs.is_ok());
  EXPECT_TRUE(blobs->empty());
}

TEST_P(BlobStoreConformance, OpenStatRemoveList) {
  const Digest a = put_blob("blob a", 70);
  const Digest b = put_blob("blob bb", 71);
  const Digest c = put_blob("blob c", 72, DigestAlgorithm::kSha512);

  EXPECT_EQ(*store().stat(a), 6u);
  EXPECT_EQ(*store().stat(b), 7u);
  EXPECT_EQ(*store().stat(c), 6u);
  EXPECT_EQ(read_blob(c), "blob c");
  auto listed = store().list();
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_TRUE(contains(*listed, a));
  EXPECT_TRUE(contains(*listed, b));
  EXPECT_TRUE(contains(*listed, c));

  ASSERT_TRUE(store().remove(b).is_ok());
  EXPECT_EQ(store().stat(b).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(store().open(b).status().code(), Code::kBlobUnknown);
  listed = store().list();
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(listed->size(), 2u);
  EXPECT_FALSE(contains(*listed, b));
  EXPECT_EQ(read_blob(a), "blob a");
  EXPECT_TRUE(store().remove(b).is_ok());
}

TEST_P(BlobStoreConformance, Sha256AndSha512OfTheSameBytesAreDistinctBlobs) {
  const Digest s256 = put_blob("same bytes", 80, DigestAlgorithm::kSha256);
  const Digest s512 = put_blob("same bytes", 81, DigestAlgorithm::kSha512);
  ASSERT_TRUE(store().remove(s256).is_ok());
  EXPECT_EQ(store().stat(s256).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(read_blob(s512), "same bytes");
}

TEST_P(BlobStoreConformance, EmptyBlob) {
  const Digest d = put_blob("", 90);
  EXPECT_EQ(d, Digest::of(""));
  EXPECT_EQ(*store().stat(d), 0u);
  auto r = store().open(d);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)->size(), 0u);
  char c;
  auto n = (*r)->read_at(0, &c, 1);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
}

TEST_P(BlobStoreConformance, ReadAtOffsetsAndEnd) {
  const std::string data = pattern(1000, 5);
  const Digest d = put_blob(data, 100);
  auto opened = store().open(d);
  ASSERT_TRUE(opened.is_ok());
  BlobReader& r = **opened;
  EXPECT_EQ(r.size(), 1000u);

  char buf[100];
  auto n = r.read_at(0, buf, 10);
  ASSERT_TRUE(n.is_ok());
  ASSERT_EQ(*n, 10u);
  EXPECT_EQ(std::string(buf, 10), data.substr(0, 10));

  n = r.read_at(500, buf, 100);
  ASSERT_TRUE(n.is_ok());
  ASSERT_EQ(*n, 100u);
  EXPECT_EQ(std::string(buf, 100), data.substr(500, 100));

  // A read across the end is short; at or past the end it returns 0.
  n = r.read_at(990, buf, 100);
  ASSERT_TRUE(n.is_ok());
  ASSERT_GT(*n, 0u);
  ASSERT_LE(*n, 10u);
  EXPECT_EQ(std::string(buf, *n), data.substr(990, *n));
  n = r.read_at(999, buf, 100);
  ASSERT_TRUE(n.is_ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(buf[0], data[999]);
  n = r.read_at(1000, buf, 100);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  n = r.read_at(5000, buf, 100);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  n = r.read_at(10, buf, 0);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);

  // Reads are positional: order does not matter and nothing is consumed.
  n = r.read_at(0, buf, 10);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(std::string(buf, *n), data.substr(0, 10));

  // Small odd-sized pieces reassemble the blob.
  EXPECT_EQ(read_all(r, 7), data);
}

TEST_P(BlobStoreConformance, LargeChunkedBlobRoundTrips) {
  const std::string data = pattern(3 * 1024 * 1024 + 17, 9);
  const std::string id = upload_id(110);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  std::vector<std::string> chunks;
  for (size_t off = 0; off < data.size(); off += 1024 * 1024 - 3) {
    chunks.push_back(data.substr(off, 1024 * 1024 - 3));
  }
  append_chunks(id, chunks);
  Hasher h;
  auto up = store().read_upload(id);
  ASSERT_TRUE(up.is_ok());
  h.update(read_all(**up, 65536));
  const Digest d = h.peek();
  ASSERT_EQ(d, Digest::of(data));
  ASSERT_TRUE(store().commit_upload(id, d).is_ok());
  EXPECT_EQ(*store().stat(d), data.size());
  EXPECT_EQ(Digest::of(read_blob(d)), d);
}

TEST_P(BlobStoreConformance, ConcurrentUploadsDoNotMix) {
  constexpr int kThreads = 4;
  std::vector<std::string> contents;
  for (int t = 0; t < kThreads; ++t) contents.push_back(pattern(200000 + t, 100 + t));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = upload_id(200 + t);
      if (!store().create_upload(id).is_ok()) {
        ++failures;
        return;
      }
      const std::string& data = contents[t];
      for (size_t off = 0; off < data.size(); off += 10007) {
        auto a = store().append_upload(id);
        if (!a.is_ok() ||
            !(*a)->append(data.data() + off, std::min<size_t>(10007, data.size() - off)).is_ok() ||
            !(*a)->flush().is_ok()) {
          ++failures;
          return;
        }
      }
      if (!store().commit_upload(id, Digest::of(data)).is_ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(read_blob(Digest::of(contents[t])), contents[t]) << t;
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
}

// --- quarantine ---------------------------------------------------------------------

TEST_P(BlobStoreConformance, QuarantinedBlobIsAbsentUntilCommittedAgain) {
  const std::string data = pattern(5000, 41);
  const Digest d = put_blob(data);
  auto reader = store().open(d);
  ASSERT_TRUE(reader.is_ok());
  Status st = store().quarantine(d, reader->get());
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(store().open(d).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(store().stat(d).status().code(), Code::kBlobUnknown);
  auto listed = store().list();
  ASSERT_TRUE(listed.is_ok());
  EXPECT_FALSE(contains(*listed, d));
  EXPECT_EQ(store().quarantine(d, nullptr).code(), Code::kBlobUnknown);
  // A new upload of the same digest heals it.
  put_blob(data, 9001);
  EXPECT_EQ(read_blob(d), data);
}

TEST_P(BlobStoreConformance, QuarantineLeavesBytesCommittedAfterTheCheck) {
  const std::string data = pattern(3000, 42);
  const Digest d = put_blob(data);
  auto checked = store().open(d);
  ASSERT_TRUE(checked.is_ok());
  put_blob(data, 9002);  // a push replaced the bytes after they were read
  EXPECT_EQ(store().quarantine(d, checked->get()).code(), Code::kFailedPrecondition);
  EXPECT_EQ(read_blob(d), data);
}

// --- paging ------------------------------------------------------------------------

TEST_P(BlobStoreConformance, ListPagesInByteOrder) {
  std::vector<Digest> all;
  for (int i = 0; i < 7; ++i) all.push_back(put_blob(pattern(100 + i, 50 + i), 100 + i));
  for (int i = 0; i < 3; ++i) {
    all.push_back(put_blob(pattern(200 + i, 60 + i), 110 + i, DigestAlgorithm::kSha512));
  }
  std::sort(all.begin(), all.end());  // byte order of "<algorithm>:<hex>"
  std::vector<Digest> walked;
  std::optional<Digest> after;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = store().list(after, 3);
    ASSERT_TRUE(page.is_ok()) << page.status().to_string();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    walked.insert(walked.end(), page->begin(), page->end());
    after = page->back();
  }
  EXPECT_EQ(walked, all);
  // `after` need not be stored: the walk resumes at the next stored digest.
  const Digest absent = Digest::of("never stored");
  auto rest = store().list(absent, 100);
  ASSERT_TRUE(rest.is_ok());
  std::vector<Digest> expected;
  for (const auto& d : all) {
    if (absent < d) expected.push_back(d);
  }
  EXPECT_EQ(*rest, expected);
  auto end = store().list(all.back(), 5);
  ASSERT_TRUE(end.is_ok());
  EXPECT_TRUE(end->empty());
  auto everything = store().list();
  ASSERT_TRUE(everything.is_ok());
  EXPECT_EQ(everything->size(), all.size());
}

TEST_P(BlobStoreConformance, ListUploadsPagesInByteOrder) {
  std::vector<std::string> ids;
  for (int i : {44, 40, 43, 41, 42}) {
    ids.push_back(upload_id(i));
    ASSERT_TRUE(store().create_upload(ids.back()).is_ok());
  }
  append_chunks(upload_id(42), {"xyz"});
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> walked;
  std::optional<std::string> after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = store().list_uploads(after, 2);
    ASSERT_TRUE(page.is_ok()) << page.status().to_string();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    for (const auto& u : *page) {
      walked.push_back(u.id);
      if (u.id == upload_id(42)) {
        EXPECT_EQ(u.size, 3u);
      }
    }
    after = page->back().id;
  }
  EXPECT_EQ(walked, ids);
}

// --- the upload's saved hash state ------------------------------------------------------

TEST_P(BlobStoreConformance, HashStateIsSavedWithTheUploadAndReplaced) {
  const std::string id = upload_id(60);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  EXPECT_EQ(store().load_hash_state(id).status().code(), Code::kNotFound);
  append_chunks(id, {"abc"});
  const std::string binary("state\0with\xffzeros", 16);
  ASSERT_TRUE(store().save_hash_state(id, SavedHashState{3, binary}).is_ok());
  auto loaded = store().load_hash_state(id);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->offset, 3u);
  EXPECT_EQ(loaded->state, binary);
  append_chunks(id, {"def"});
  ASSERT_TRUE(store().save_hash_state(id, SavedHashState{6, "newer"}).is_ok());
  loaded = store().load_hash_state(id);
  ASSERT_TRUE(loaded.is_ok());
  EXPECT_EQ(loaded->offset, 6u);
  EXPECT_EQ(loaded->state, "newer");
  // The state is not an upload of its own, and leaves the bytes alone.
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].id, id);
  EXPECT_EQ((*uploads)[0].size, 6u);
}

TEST_P(BlobStoreConformance, HashStateGoesWithTheUpload) {
  const std::string aborted = upload_id(61);
  ASSERT_TRUE(store().create_upload(aborted).is_ok());
  ASSERT_TRUE(store().save_hash_state(aborted, SavedHashState{0, "s"}).is_ok());
  ASSERT_TRUE(store().abort_upload(aborted).is_ok());
  ASSERT_TRUE(store().create_upload(aborted).is_ok());  // the id again: nothing of the old one
  EXPECT_EQ(store().load_hash_state(aborted).status().code(), Code::kNotFound);

  const std::string committed = upload_id(62);
  ASSERT_TRUE(store().create_upload(committed).is_ok());
  append_chunks(committed, {"committed"});
  ASSERT_TRUE(store().save_hash_state(committed, SavedHashState{9, "s"}).is_ok());
  ASSERT_TRUE(store().commit_upload(committed, Digest::of("committed")).is_ok());
  ASSERT_TRUE(store().create_upload(committed).is_ok());
  EXPECT_EQ(store().load_hash_state(committed).status().code(), Code::kNotFound);
}

TEST_P(BlobStoreConformance, HashStateOfAnUnknownUploadIsRefusedAndLeavesNothing) {
  const std::string id = upload_id(63);
  EXPECT_EQ(store().save_hash_state(id, SavedHashState{0, "s"}).code(), Code::kBlobUploadUnknown);
  ASSERT_TRUE(store().create_upload(id).is_ok());
  EXPECT_EQ(store().load_hash_state(id).status().code(), Code::kNotFound);
  for (const char* bad : {"", "../escape", "a/b", "x.hash"}) {
    EXPECT_EQ(store().save_hash_state(bad, SavedHashState{0, "s"}).code(), Code::kBlobUploadUnknown)
        << bad;
    EXPECT_EQ(store().load_hash_state(bad).status().code(), Code::kBlobUploadUnknown) << bad;
  }
}

// --- optional capabilities ------------------------------------------------------------

TEST_P(BlobStoreConformance, RedirectUrlWhenOfferedIsAUrl) {
  const Digest d = put_blob("redirected bytes");
  auto url = store().redirect_url(d, std::chrono::seconds(60));
  ASSERT_TRUE(url.is_ok()) << url.status().to_string();
  if (*url) {
    EXPECT_EQ(url->value().rfind("http", 0), 0u) << url->value();
  }
}

TEST_P(BlobStoreConformance, NativeFdWhenOfferedReadsTheBytes) {
  const std::string data = pattern(10000, 70);
  const Digest d = put_blob(data);
  auto r = store().open(d);
  ASSERT_TRUE(r.is_ok());
  const std::optional<int> fd = (*r)->native_fd();
  if (!fd) return;  // not offered: read_at is the way, tested throughout
  std::string via_fd(data.size(), '\0');
  ASSERT_EQ(::pread(*fd, via_fd.data(), via_fd.size(), 0), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(via_fd, data);
}

}  // namespace berth::conformance
