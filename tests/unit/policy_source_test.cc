// StorePolicySource's cache of the policies found for a request: served only
// while the store's write generation has not moved, and checks decided from it
// agree with checks that read the store.
#include "identity/policy_source.h"

#include <memory>

#include <gtest/gtest.h>

#include "auth/access_control.h"
#include "core/clock.h"
#include "support/registry_fixture.h"

namespace berth {
namespace {

constexpr const char* kAccount = "000000000000";
constexpr const char* kPullApp = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],
  "Resource":"arn:aws:ecr:us-east-1:000000000000:repository/app/*"}]})";

class PolicySourceCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(stores_.open("berth-policy-source"));
    sqlite::Pool* pool = &stores_.meta->pool();
    source_ = std::make_unique<identity::StorePolicySource>(
        *stores_.meta, [pool]() -> std::optional<uint64_t> { return pool->commits(); });
    auth::AccessControlOptions options;
    access_ = std::make_unique<auth::AccessControl>(options, source_.get(), Clock::system());
    principal_.authenticated = true;
    principal_.account_id = kAccount;
    principal_.user_name = "deploy";
  }
  void TearDown() override {
    access_.reset();
    source_.reset();
    stores_.close();
  }

  auth::AccessRequest pull(std::string_view repository) const {
    return auth::AccessRequest{"ecr:BatchGetImage", kAccount, repository, "127.0.0.1"};
  }

  unit::ScratchStores stores_;
  std::unique_ptr<identity::StorePolicySource> source_;
  std::unique_ptr<auth::AccessControl> access_;
  auth::Principal principal_;
};

TEST_F(PolicySourceCacheTest, NothingIsDecidedWithoutBlockingBeforeTheStoreWasRead) {
  EXPECT_FALSE(access_->check_without_blocking(principal_, pull("app/web")).has_value());
}

TEST_F(PolicySourceCacheTest, ACachedDecisionAgreesWithTheStoreUntilAWriteMovesTheGeneration) {
  ASSERT_TRUE(stores_.meta->put_user_policy(kAccount, "deploy", "pull-app", kPullApp).is_ok());
  EXPECT_TRUE(access_->check(principal_, pull("app/web")).is_ok());
  std::optional<Status> cached = access_->check_without_blocking(principal_, pull("app/web"));
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(cached->is_ok());
  // Another repository's policies were never read: not decided from the cache.
  EXPECT_FALSE(access_->check_without_blocking(principal_, pull("other/db")).has_value());

  // Removing the policy is a commit: the cached policies are no longer current.
  ASSERT_TRUE(stores_.meta->delete_user_policy(kAccount, "deploy", "pull-app").is_ok());
  EXPECT_FALSE(access_->check_without_blocking(principal_, pull("app/web")).has_value());
  Status read = access_->check(principal_, pull("app/web"));
  EXPECT_EQ(read.code(), Code::kPermissionDenied);
  cached = access_->check_without_blocking(principal_, pull("app/web"));
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->code(), Code::kPermissionDenied);
}

TEST_F(PolicySourceCacheTest, WithoutAGenerationNothingIsCached) {
  identity::StorePolicySource uncached(*stores_.meta);
  auth::AccessControl access(auth::AccessControlOptions{}, &uncached, Clock::system());
  ASSERT_TRUE(stores_.meta->put_user_policy(kAccount, "deploy", "pull-app", kPullApp).is_ok());
  EXPECT_TRUE(access.check(principal_, pull("app/web")).is_ok());
  EXPECT_FALSE(access.check_without_blocking(principal_, pull("app/web")).has_value());
}

TEST_F(PolicySourceCacheTest, AnUnauthenticatedCallerIsDecidedWithoutTheSource) {
  auth::Principal anonymous;
  std::optional<Status> decided = access_->check_without_blocking(anonymous, pull("app/web"));
  ASSERT_TRUE(decided.has_value());
  EXPECT_EQ(decided->code(), Code::kUnauthenticated);
}

}  // namespace
}  // namespace berth
