// The background jobs' fixture: the shared RegistryFixture (the real stores in
// a temporary directory, a Registry to push through) with a FakeClock that only
// moves when a test says so. The clock starts far from the wall clock on
// purpose, so anything that reads the wall clock instead of the Clock it was
// given shows up as a failure.
#pragma once

#include <string>

#include "support/registry_fixture.h"

namespace berth::jobs_test {

class FakeClockStores : public unit::RegistryFixture {
 protected:
  static constexpr int64_t kStart = 1'500'000'000;  // July 2017
  static constexpr int64_t kDay = 86'400;

  void SetUp() override {
    clock_.set_seconds(kStart);
    RegistryFixture::SetUp();
  }

  // Creates the repository explicitly (as ECR CreateRepository does).
  RepositoryRecord create_repository(const std::string& name) {
    RepositoryRecord r;
    r.account_id = kAccount;
    r.name = name;
    r.created_at = clock_.now_seconds();
    auto created = meta_->create_repository(r);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.is_ok() ? *created : RepositoryRecord{};
  }

  RepositoryRecord reload(const RepositoryRecord& r) {
    auto got = meta_->get_repository(r.account_id, r.name);
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    return got.is_ok() ? *got : RepositoryRecord{};
  }

  bool has_manifest(const RepositoryRecord& repo, const Digest& d) {
    return meta_->get_manifest(repo.id, d).is_ok();
  }
  bool blob_stored(const Digest& d) { return blobs_->stat(d).is_ok(); }
  bool blob_linked(const RepositoryRecord& repo, const Digest& d) {
    return meta_->get_blob_link(repo.id, d).is_ok();
  }
};

}  // namespace berth::jobs_test
