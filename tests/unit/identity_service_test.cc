// IdentityService's registry-token path: verified Authorization headers are
// remembered, and remembering must never outlive expiry or revocation.
#include "identity/identity_service.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/clock.h"
#include "support/registry_fixture.h"

namespace berth::identity {
namespace {

class IdentityServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        stores_.open("berth-identity", {.synchronous_full = false, .identity = true}));
    auth::SecretBoxKey master{};
    master.fill(7);
    IdentityOptions options;
    options.token_ttl_seconds = 3600;
    options.recheck_interval_ms = 0;  // every call sees the store's generation
    auto service = IdentityService::open(*stores_.identity, master, clock_, options);
    ASSERT_TRUE(service.is_ok()) << service.status().to_string();
    service_ = std::move(service).value();
    auto boot = service_->bootstrap(std::nullopt);
    ASSERT_TRUE(boot.is_ok() && boot->admin_key.has_value());
    admin_key_ = *boot->admin_key;
  }
  void TearDown() override {
    service_.reset();
    stores_.close();
  }

  std::string header_for(const std::string& access_key_id) {
    auth::Principal p;
    p.authenticated = true;
    p.account_id = "000000000000";
    p.user_name = "admin";
    p.access_key_id = access_key_id;
    auto token = service_->issue_token(p);
    EXPECT_TRUE(token.is_ok());
    return "Basic " + base64_encode("AWS:" + token->password);
  }

  unit::ScratchStores stores_;
  FakeClock clock_;
  std::unique_ptr<IdentityService> service_;
  NewAccessKey admin_key_;
};

TEST_F(IdentityServiceTest, RememberedHeaderStillExpires) {
  const std::string header = header_for(admin_key_.access_key_id);
  for (int i = 0; i < 3; ++i) {
    auto p = service_->authenticate_registry(header);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    EXPECT_EQ(p->access_key_id, admin_key_.access_key_id);
    EXPECT_TRUE(p->admin);
  }
  clock_.advance_seconds(3599);
  EXPECT_TRUE(service_->authenticate_registry(header).is_ok());
  clock_.advance_seconds(1);
  EXPECT_EQ(service_->authenticate_registry(header).status().code(), Code::kTokenExpired);
  EXPECT_EQ(service_->authenticate_registry(header).status().code(), Code::kTokenExpired);
}

TEST_F(IdentityServiceTest, RememberedHeaderStopsWorkingWhenItsKeyIsDisabledOrDeleted) {
  auto key = service_->create_access_key("000000000000", "admin");
  ASSERT_TRUE(key.is_ok());
  const std::string header = header_for(key->access_key_id);
  ASSERT_TRUE(service_->authenticate_registry(header).is_ok());
  ASSERT_TRUE(service_->authenticate_registry(header).is_ok());  // now remembered
  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, false).is_ok());
  EXPECT_EQ(service_->authenticate_registry(header).status().code(), Code::kTokenExpired);
  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, true).is_ok());
  EXPECT_EQ(service_->authenticate_registry(header).status().code(), Code::kTokenExpired);
  const std::string fresh = header_for(key->access_key_id);
  EXPECT_TRUE(service_->authenticate_registry(fresh).is_ok());
  ASSERT_TRUE(service_->delete_access_key(key->access_key_id).is_ok());
  EXPECT_EQ(service_->authenticate_registry(fresh).status().code(), Code::kTokenExpired);
}

// Disabling a key revokes its tokens for good: enabling it again, later, in
// another process or after a restart, does not bring them back.
TEST_F(IdentityServiceTest, TokensIssuedBeforeADisableStayDeadAfterReEnable) {
  auto key = service_->create_access_key("000000000000", "admin");
  ASSERT_TRUE(key.is_ok());
  const std::string old_header = header_for(key->access_key_id);
  clock_.advance_seconds(10);
  const std::string later_header = header_for(key->access_key_id);
  ASSERT_TRUE(service_->authenticate_registry(old_header).is_ok());
  ASSERT_TRUE(service_->authenticate_registry(later_header).is_ok());

  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, false).is_ok());
  clock_.advance_seconds(60);
  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, true).is_ok());
  EXPECT_EQ(service_->authenticate_registry(old_header).status().code(), Code::kTokenExpired);
  EXPECT_EQ(service_->authenticate_registry(later_header).status().code(), Code::kTokenExpired);

  // The revocation is in the store: a second server on the same database
  // (another node, or this one restarted) refuses the tokens too.
  auth::SecretBoxKey master{};
  master.fill(7);
  IdentityOptions options;
  options.token_ttl_seconds = 3600;
  options.recheck_interval_ms = 0;
  auto other = IdentityService::open(*stores_.identity, master, clock_, options);
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ((*other)->authenticate_registry(later_header).status().code(), Code::kTokenExpired);

  // Tokens issued after the enable work.
  const std::string new_header = header_for(key->access_key_id);
  EXPECT_TRUE(service_->authenticate_registry(new_header).is_ok());
  EXPECT_TRUE((*other)->authenticate_registry(new_header).is_ok());
}

// Token times are whole seconds: a token from the very second of the disable
// may predate it, so it dies too; one issued after an enable in that same
// second still works.
TEST_F(IdentityServiceTest, DisableAndEnableWithinOneSecond) {
  auto key = service_->create_access_key("000000000000", "admin");
  ASSERT_TRUE(key.is_ok());
  const std::string before = header_for(key->access_key_id);
  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, false).is_ok());
  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, true).is_ok());
  EXPECT_EQ(service_->authenticate_registry(before).status().code(), Code::kTokenExpired);
  const std::string after = header_for(key->access_key_id);
  EXPECT_TRUE(service_->authenticate_registry(after).is_ok());
  // Enabling an active key, or disabling again later, never un-revokes.
  clock_.advance_seconds(5);
  ASSERT_TRUE(service_->set_access_key_active(key->access_key_id, true).is_ok());
  EXPECT_EQ(service_->authenticate_registry(before).status().code(), Code::kTokenExpired);
  EXPECT_TRUE(service_->authenticate_registry(after).is_ok());
}

TEST_F(IdentityServiceTest, AlteredHeadersAreNotTakenForRememberedOnes) {
  const std::string header = header_for(admin_key_.access_key_id);
  ASSERT_TRUE(service_->authenticate_registry(header).is_ok());
  std::string altered = header;
  altered[altered.size() - 6] = altered[altered.size() - 6] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(service_->authenticate_registry(altered).is_ok());
  EXPECT_FALSE(service_->authenticate_registry(header.substr(0, header.size() - 4)).is_ok());
  EXPECT_EQ(service_->authenticate_registry("").status().code(), Code::kMissingAuthentication);
  EXPECT_TRUE(service_->authenticate_registry(header).is_ok());
}

TEST_F(IdentityServiceTest, GroupAndUserNamesAreCheckedAsIamChecksThem) {
  const std::string account = "000000000000";
  EXPECT_TRUE(service_->create_group(account, std::string(128, 'g')).is_ok());
  for (const std::string& bad : {std::string(), std::string(129, 'g'), std::string("a b"),
                                 std::string("a/b"), std::string("caf\xc3\xa9")}) {
    EXPECT_EQ(service_->create_group(account, bad).code(), Code::kInvalidArgument) << bad;
  }
  ASSERT_TRUE(service_->create_group(account, "Dev+Ops=1,2.x@y_z-w").is_ok());
  EXPECT_EQ(
      service_->add_user_to_group(account, "Dev+Ops=1,2.x@y_z-w", std::string(65, 'u')).code(),
      Code::kInvalidArgument)
      << "a user name is at most 64";
  EXPECT_EQ(service_->delete_user(account, "a b", true).code(), Code::kInvalidArgument);
  EXPECT_EQ(service_->tag_user(account, "admin", {{"", "v"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(service_->tag_user(account, "admin", {{"k", std::string(257, 'v')}}).code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(service_->add_user_to_group(account, "Dev+Ops=1,2.x@y_z-w", "admin").is_ok());
  EXPECT_EQ(*service_->list_groups_for_user(account, "admin"),
            std::vector<std::string>{"Dev+Ops=1,2.x@y_z-w"});
}

TEST_F(IdentityServiceTest, DeletingAUserRevokesItsRememberedHeaderAtOnce) {
  const std::string account = "000000000000";
  ASSERT_TRUE(service_->create_user(account, "leaver", false).is_ok());
  auto key = service_->create_access_key(account, "leaver");
  ASSERT_TRUE(key.is_ok());
  auth::Principal p;
  p.authenticated = true;
  p.account_id = account;
  p.user_name = "leaver";
  p.access_key_id = key->access_key_id;
  auto token = service_->issue_token(p);
  ASSERT_TRUE(token.is_ok());
  const std::string header = "Basic " + base64_encode("AWS:" + token->password);
  ASSERT_TRUE(service_->authenticate_registry(header).is_ok());
  EXPECT_EQ(service_->delete_user(account, "leaver", false).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(service_->authenticate_registry(header).is_ok())
      << "a refused delete changes nothing";
  ASSERT_TRUE(service_->delete_user(account, "leaver", true).is_ok());
  EXPECT_EQ(service_->authenticate_registry(header).status().code(), Code::kTokenExpired);
}

}  // namespace
}  // namespace berth::identity
