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

// Group policies: a user's identity policies are its own and those of every
// group it is in, so an explicit Deny in a group beats the user's own Allow.
constexpr const char* kAllowAll = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Action":"ecr:*","Resource":"*"}]})";
constexpr const char* kDenyProd = R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
  "Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:000000000000:repository/prod/*"}]})";

class GroupPoliciesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unit::ScratchOptions options;
    options.identity = true;
    ASSERT_NO_FATAL_FAILURE(stores_.open("berth-group-policies", options));
    ASSERT_TRUE(stores_.identity->create_account(AccountRecord{kAccount, "a", 1}).is_ok());
    ASSERT_TRUE(stores_.identity->create_user(UserRecord{kAccount, "dev", false, 1}).is_ok());
    ASSERT_TRUE(stores_.identity->create_group(GroupRecord{kAccount, "team", 1}).is_ok());
    sqlite::Pool* pool = &stores_.meta->pool();
    source_ = std::make_unique<identity::StorePolicySource>(
        *stores_.meta, [pool]() -> std::optional<uint64_t> { return pool->commits(); },
        stores_.identity.get());
    access_ = std::make_unique<auth::AccessControl>(auth::AccessControlOptions{}, source_.get(),
                                                    Clock::system());
    principal_.authenticated = true;
    principal_.account_id = kAccount;
    principal_.user_name = "dev";
  }
  void TearDown() override {
    access_.reset();
    source_.reset();
    stores_.close();
  }
  Status pull(std::string_view repository) {
    return access_->check(principal_,
                          auth::AccessRequest{"ecr:BatchGetImage", kAccount, repository, "::1"});
  }

  unit::ScratchStores stores_;
  std::unique_ptr<identity::StorePolicySource> source_;
  std::unique_ptr<auth::AccessControl> access_;
  auth::Principal principal_;
};

TEST_F(GroupPoliciesTest, AGroupsPoliciesApplyToItsMembersOnly) {
  struct Case {
    const char* name;
    const char* user_policy;    // inline on the user; nullptr: none
    const char* group_policy;   // inline on the group; nullptr: none
    const char* group_managed;  // attached to the group; nullptr: none
    bool member;
    bool prod_allowed;
    bool dev_allowed;
  };
  const std::string read_only = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
  const Case cases[] = {
      {"the user's allow alone", kAllowAll, nullptr, nullptr, false, true, true},
      {"a group deny beats the user's allow", kAllowAll, kDenyProd, nullptr, true, false, true},
      {"a group's deny binds only members", kAllowAll, kDenyProd, nullptr, false, true, true},
      {"a group's inline allow grants", nullptr, kAllowAll, nullptr, true, true, true},
      {"a group's attached policy grants", nullptr, nullptr, read_only.c_str(), true, true, true},
      {"a group's allow grants only members", nullptr, kAllowAll, nullptr, false, false, false},
      {"a group's deny beats its own allow", nullptr, kDenyProd, read_only.c_str(), true, false,
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PolicyStore& policies = *stores_.meta;
    IdentityStore& identity = *stores_.identity;
    (void)policies.delete_user_policy(kAccount, "dev", "own");
    (void)policies.delete_group_policy(kAccount, "team", "inline");
    (void)policies.detach_group_policy(kAccount, "team", read_only);
    (void)identity.remove_user_from_group(kAccount, "team", "dev");
    if (c.user_policy) {
      ASSERT_TRUE(policies.put_user_policy(kAccount, "dev", "own", c.user_policy).is_ok());
    }
    if (c.group_policy) {
      ASSERT_TRUE(policies.put_group_policy(kAccount, "team", "inline", c.group_policy).is_ok());
    }
    if (c.group_managed) {
      ASSERT_TRUE(policies.attach_group_policy(kAccount, "team", c.group_managed).is_ok());
    }
    if (c.member) {
      ASSERT_TRUE(identity.add_user_to_group(kAccount, "team", "dev").is_ok());
    }
    Status prod = pull("prod/x");
    Status dev = pull("dev/x");
    EXPECT_EQ(prod.is_ok(), c.prod_allowed) << prod.to_string();
    EXPECT_EQ(dev.is_ok(), c.dev_allowed) << dev.to_string();
    if (!c.prod_allowed) {
      EXPECT_EQ(prod.code(), Code::kPermissionDenied);
    }
  }
}

TEST_F(GroupPoliciesTest, LeavingTheGroupDropsTheCachedDecision) {
  ASSERT_TRUE(stores_.meta->put_group_policy(kAccount, "team", "pull", kPullApp).is_ok());
  ASSERT_TRUE(stores_.identity->add_user_to_group(kAccount, "team", "dev").is_ok());
  EXPECT_TRUE(pull("app/web").is_ok());
  auto request = auth::AccessRequest{"ecr:BatchGetImage", kAccount, "app/web", "::1"};
  std::optional<Status> cached = access_->check_without_blocking(principal_, request);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(cached->is_ok());

  ASSERT_TRUE(stores_.identity->remove_user_from_group(kAccount, "team", "dev").is_ok());
  EXPECT_FALSE(access_->check_without_blocking(principal_, request).has_value())
      << "the membership change moved the generation";
  EXPECT_EQ(pull("app/web").code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace berth
