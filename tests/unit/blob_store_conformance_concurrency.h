// BlobStore conformance, continued: commits racing on one digest. Uses the
// fixture of blob_store_conformance.h; include it right after that header,
// from the same single translation unit.
#pragma once

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "blob_store_conformance.h"

namespace berth::conformance {

// Clients pushing the same layer at once each commit their own upload under
// one digest. Every commit succeeds, one intact blob remains, no upload is
// left behind, and a blob once readable never stops being readable meanwhile.
TEST_P(BlobStoreConformance, ConcurrentCommitsOfOneDigestKeepOneIntactBlob) {
  constexpr int kWriters = 4;
  const std::string data = pattern(300000, 7);
  const Digest d = put_blob(data, 700);
  for (int t = 0; t < kWriters; ++t) {
    const std::string id = upload_id(710 + t);
    ASSERT_TRUE(store().create_upload(id).is_ok());
    append_chunks(id, {data.substr(0, 150000), data.substr(150000)});
  }
  std::atomic<bool> done{false};
  std::atomic<int> read_failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto r = store().open(d);
      if (!r.is_ok() || (*r)->size() != data.size() || read_all(**r, 65536) != data)
        ++read_failures;
    }
  });
  std::vector<Status> results(kWriters);
  {
    std::latch start(kWriters);
    std::vector<std::thread> writers;
    for (int t = 0; t < kWriters; ++t) {
      writers.emplace_back([&, t] {
        start.arrive_and_wait();
        results[t] = store().commit_upload(upload_id(710 + t), d);
      });
    }
    for (auto& w : writers) w.join();
  }
  done = true;
  reader.join();
  for (int t = 0; t < kWriters; ++t)
    EXPECT_TRUE(results[t].is_ok()) << t << ": " << results[t].to_string();
  EXPECT_EQ(read_failures.load(), 0);
  EXPECT_EQ(read_blob(d), data);
  auto listed = store().list();
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(std::count(listed->begin(), listed->end(), d), 1);
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
}

// Many uploads completing at once (the layers of several small images): each
// commit that had its upload succeeds and its blob reads back intact; one
// whose upload is missing fails alone with kBlobUploadUnknown, whatever other
// commits it raced with.
TEST_P(BlobStoreConformance, ConcurrentCommitsOfManyDigestsEachSucceedOnTheirOwn) {
  constexpr int kWriters = 8;
  constexpr int kEach = 6;
  std::vector<std::string> blobs;
  std::vector<Digest> digests;
  for (int i = 0; i < kWriters * kEach; ++i) {
    blobs.push_back(pattern(100 + 37 * static_cast<size_t>(i), static_cast<unsigned>(800 + i)));
    digests.push_back(Digest::of(blobs.back()));
    const std::string id = upload_id(800 + i);
    ASSERT_TRUE(store().create_upload(id).is_ok());
    append_chunks(id, {blobs.back()});
  }
  const int missing = 13;  // this one's upload is gone before its commit
  ASSERT_TRUE(store().abort_upload(upload_id(800 + missing)).is_ok());
  std::vector<Status> results(kWriters * kEach);
  {
    std::latch start(kWriters);
    std::vector<std::thread> writers;
    for (int t = 0; t < kWriters; ++t) {
      writers.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int k = 0; k < kEach; ++k) {
          const int i = t * kEach + k;
          results[i] = store().commit_upload(upload_id(800 + i), digests[i]);
        }
      });
    }
    for (auto& w : writers) w.join();
  }
  for (int i = 0; i < kWriters * kEach; ++i) {
    if (i == missing) {
      EXPECT_EQ(results[i].code(), Code::kBlobUploadUnknown) << results[i].to_string();
      EXPECT_EQ(store().stat(digests[i]).status().code(), Code::kBlobUnknown);
      continue;
    }
    EXPECT_TRUE(results[i].is_ok()) << i << ": " << results[i].to_string();
    EXPECT_EQ(read_blob(digests[i]), blobs[i]) << i;
  }
  auto uploads = store().list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
}

}  // namespace berth::conformance
