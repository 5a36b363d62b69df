// The IdentityStore conformance suite: what every IdentityStore implementation
// must do, written against the interface only (meta/identity_store.h).
//
// To run it for an implementation, add one line to
// identity_store_conformance.cc:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, IdentityStoreConformance,
//                            ::testing::Values(IdentityStoreFactory{"postgres", make_pg}),
//                            IdentityStoreFactory::Name);
//
// The factory is called once per test with a fresh, empty scratch directory
// that the suite removes afterwards; it must return a fresh, empty store.
//
// This header defines the tests themselves, so include it from exactly one
// translation unit of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meta/identity_store.h"
#include "meta/policy_store.h"

namespace berth::conformance {

struct IdentityStoreFactory {
  std::string name;  // a gtest name: letters, digits and '_'
  // The store, and whatever must outlive it (e.g. the database it shares).
  std::function<std::pair<std::shared_ptr<void>, IdentityStore*>(
      const std::filesystem::path& scratch_dir)>
      make;
  // The PolicyStore on the same database, given what `make` returned as
  // owner (the group and user-deletion cases arrange policies with it).
  std::function<PolicyStore*(const std::shared_ptr<void>& owner)> policies;

  static std::string Name(const ::testing::TestParamInfo<IdentityStoreFactory>& info) {
    return info.param.name;
  }
};

inline void PrintTo(const IdentityStoreFactory& f, std::ostream* os) {
  *os << f.name;
}

class IdentityStoreConformance : public ::testing::TestWithParam<IdentityStoreFactory> {
 protected:
  static constexpr const char* kAccount = "111111111111";
  static constexpr const char* kOtherAccount = "222222222222";
  static constexpr int64_t kNow = 1'700'000'000;

  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-identity-conformance-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
    auto made = GetParam().make(scratch_);
    owner_ = std::move(made.first);
    store_ = made.second;
    if (IsSkipped()) return;  // the backend is not there to test (the factory said why)
    ASSERT_NE(store_, nullptr);
    policies_ = GetParam().policies(owner_);
    ASSERT_NE(policies_, nullptr);
  }

  void TearDown() override {
    store_ = nullptr;
    policies_ = nullptr;
    owner_.reset();
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  IdentityStore& store() { return *store_; }
  PolicyStore& policies() { return *policies_; }

  void account(const std::string& id, const std::string& name = "acct") {
    Status s = store().create_account(AccountRecord{id, name, kNow});
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void user(const std::string& account_id, const std::string& name, bool admin = false) {
    Status s = store().create_user(UserRecord{account_id, name, admin, kNow});
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  static AccessKeyRecord key(const std::string& id, const std::string& account_id,
                             const std::string& user_name) {
    return AccessKeyRecord{id, account_id, user_name, "sealed:" + id, true, kNow};
  }
  int64_t generation() {
    auto g = store().identity_generation();
    EXPECT_TRUE(g.is_ok()) << g.status().to_string();
    return g.is_ok() ? *g : -1;
  }

  std::filesystem::path scratch_;
  std::shared_ptr<void> owner_;
  IdentityStore* store_ = nullptr;
  PolicyStore* policies_ = nullptr;
};

// --- accounts ---------------------------------------------------------------------

TEST_P(IdentityStoreConformance, CreateGetAndListAccounts) {
  EXPECT_TRUE(store().list_accounts()->empty());
  EXPECT_EQ(store().get_account(kAccount).status().code(), Code::kNotFound);
  ASSERT_TRUE(store().create_account(AccountRecord{kOtherAccount, "second", kNow + 1}).is_ok());
  ASSERT_TRUE(store().create_account(AccountRecord{kAccount, "first", kNow}).is_ok());
  auto got = store().get_account(kAccount);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, kAccount);
  EXPECT_EQ(got->name, "first");
  EXPECT_EQ(got->created_at, kNow);
  auto all = store().list_accounts();
  ASSERT_TRUE(all.is_ok());
  std::set<std::string> ids;
  for (const auto& a : *all) ids.insert(a.id);
  EXPECT_EQ(ids, (std::set<std::string>{kAccount, kOtherAccount}));
  EXPECT_EQ(all->size(), 2u);
}

TEST_P(IdentityStoreConformance, DuplicateAccountIsAlreadyExistsAndChangesNothing) {
  ASSERT_TRUE(store().create_account(AccountRecord{kAccount, "original", kNow}).is_ok());
  EXPECT_EQ(store().create_account(AccountRecord{kAccount, "impostor", kNow + 5}).code(),
            Code::kAlreadyExists);
  EXPECT_EQ(store().get_account(kAccount)->name, "original");
  EXPECT_EQ(store().list_accounts()->size(), 1u);
}

// --- users --------------------------------------------------------------------------

TEST_P(IdentityStoreConformance, UsersBelongToTheirAccount) {
  account(kAccount);
  account(kOtherAccount);
  ASSERT_TRUE(store().create_user(UserRecord{kAccount, "alice", true, kNow}).is_ok());
  user(kAccount, "bob");
  user(kOtherAccount, "alice");

  auto alice = store().get_user(kAccount, "alice");
  ASSERT_TRUE(alice.is_ok()) << alice.status().to_string();
  EXPECT_EQ(alice->account_id, kAccount);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_TRUE(alice->admin);
  EXPECT_EQ(alice->created_at, kNow);
  EXPECT_FALSE(store().get_user(kOtherAccount, "alice")->admin);
  EXPECT_EQ(store().get_user(kOtherAccount, "bob").status().code(), Code::kNotFound);
  EXPECT_EQ(store().get_user("333333333333", "alice").status().code(), Code::kNotFound);

  auto names = [&](std::string_view account_id) {
    std::set<std::pair<std::string, std::string>> out;
    auto l = store().list_users(account_id);
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    if (l.is_ok()) {
      for (const auto& u : *l) out.emplace(u.account_id, u.name);
    }
    return out;
  };
  EXPECT_EQ(names(kAccount), (std::set<std::pair<std::string, std::string>>{{kAccount, "alice"},
                                                                            {kAccount, "bob"}}));
  EXPECT_EQ(names(kOtherAccount),
            (std::set<std::pair<std::string, std::string>>{{kOtherAccount, "alice"}}));
  EXPECT_TRUE(names("333333333333").empty());
}

TEST_P(IdentityStoreConformance, CreateUserFailures) {
  EXPECT_EQ(store().create_user(UserRecord{kAccount, "alice", false, kNow}).code(), Code::kNotFound)
      << "the account is missing";
  account(kAccount);
  user(kAccount, "alice");
  EXPECT_EQ(store().create_user(UserRecord{kAccount, "alice", true, kNow}).code(),
            Code::kAlreadyExists);
  EXPECT_FALSE(store().get_user(kAccount, "alice")->admin) << "the duplicate changed the user";
}

// --- access keys -----------------------------------------------------------------------

TEST_P(IdentityStoreConformance, AccessKeysRoundTripAndListPerAccount) {
  account(kAccount);
  account(kOtherAccount);
  user(kAccount, "alice");
  user(kOtherAccount, "carol");
  AccessKeyRecord k1 = key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice");
  k1.active = false;
  k1.created_at = kNow + 7;
  ASSERT_TRUE(store().create_access_key(k1).is_ok());
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA2", kAccount, "alice")).is_ok());
  ASSERT_TRUE(
      store().create_access_key(key("BKIAAAAAAAAAAAAAAAA3", kOtherAccount, "carol")).is_ok());

  auto got = store().get_access_key("BKIAAAAAAAAAAAAAAAA1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, k1.id);
  EXPECT_EQ(got->account_id, kAccount);
  EXPECT_EQ(got->user_name, "alice");
  EXPECT_EQ(got->sealed_secret, "sealed:BKIAAAAAAAAAAAAAAAA1");
  EXPECT_FALSE(got->active);
  EXPECT_EQ(got->created_at, kNow + 7);
  EXPECT_EQ(store().get_access_key("BKIANOSUCHKEY0000000").status().code(), Code::kNotFound);

  auto ids = [&](std::string_view account_id) {
    std::set<std::string> out;
    auto l = store().list_access_keys(account_id);
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    if (l.is_ok()) {
      for (const auto& k : *l) out.insert(k.id);
    }
    return out;
  };
  EXPECT_EQ(ids(kAccount), (std::set<std::string>{"BKIAAAAAAAAAAAAAAAA1", "BKIAAAAAAAAAAAAAAAA2"}));
  EXPECT_EQ(ids(kOtherAccount), std::set<std::string>{"BKIAAAAAAAAAAAAAAAA3"});
  EXPECT_EQ(ids(""), (std::set<std::string>{"BKIAAAAAAAAAAAAAAAA1", "BKIAAAAAAAAAAAAAAAA2",
                                            "BKIAAAAAAAAAAAAAAAA3"}));
  EXPECT_TRUE(ids("333333333333").empty());
}

TEST_P(IdentityStoreConformance, CreateAccessKeyFailures) {
  account(kAccount);
  EXPECT_EQ(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kAccount, "nobody")).code(),
            Code::kNotFound);
  user(kAccount, "alice");
  EXPECT_EQ(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kOtherAccount, "alice")).code(),
            Code::kNotFound)
      << "the user exists only in another account";
  EXPECT_EQ(store().get_access_key("BKIAAAAAAAAAAAAAAAA1").status().code(), Code::kNotFound);
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice")).is_ok());
  AccessKeyRecord dup = key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice");
  dup.sealed_secret = "sealed:other";
  EXPECT_FALSE(store().create_access_key(dup).is_ok());
  EXPECT_EQ(store().get_access_key("BKIAAAAAAAAAAAAAAAA1")->sealed_secret,
            "sealed:BKIAAAAAAAAAAAAAAAA1")
      << "a duplicate must not replace the secret";
}

TEST_P(IdentityStoreConformance, DeactivateAndDeleteAccessKeys) {
  account(kAccount);
  user(kAccount, "alice");
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice")).is_ok());
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA2", kAccount, "alice")).is_ok());
  ASSERT_TRUE(store().set_access_key_active("BKIAAAAAAAAAAAAAAAA1", false, kNow).is_ok());
  EXPECT_FALSE(store().get_access_key("BKIAAAAAAAAAAAAAAAA1")->active);
  EXPECT_TRUE(store().get_access_key("BKIAAAAAAAAAAAAAAAA2")->active)
      << "only the named key changes";
  ASSERT_TRUE(store().set_access_key_active("BKIAAAAAAAAAAAAAAAA1", true, kNow).is_ok());
  EXPECT_TRUE(store().get_access_key("BKIAAAAAAAAAAAAAAAA1")->active);
  EXPECT_EQ(store().set_access_key_active("BKIANOSUCHKEY0000000", false, kNow).code(),
            Code::kNotFound);

  ASSERT_TRUE(store().delete_access_key("BKIAAAAAAAAAAAAAAAA1").is_ok());
  EXPECT_EQ(store().get_access_key("BKIAAAAAAAAAAAAAAAA1").status().code(), Code::kNotFound);
  EXPECT_TRUE(store().get_access_key("BKIAAAAAAAAAAAAAAAA2").is_ok());
  EXPECT_EQ(store().delete_access_key("BKIAAAAAAAAAAAAAAAA1").code(), Code::kNotFound);
  EXPECT_EQ(store().list_access_keys(kAccount)->size(), 1u);
}

// --- generation -----------------------------------------------------------------------

TEST_P(IdentityStoreConformance, EveryChangeToUsersOrKeysBumpsTheGeneration) {
  account(kAccount);
  int64_t g = generation();
  auto bumped = [&](const char* what) {
    int64_t now = generation();
    EXPECT_GT(now, g) << what << " did not bump the generation";
    g = now;
  };
  auto unchanged = [&](const char* what) {
    EXPECT_EQ(generation(), g) << what << " bumped the generation";
  };

  user(kAccount, "alice");
  bumped("create_user");
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice")).is_ok());
  bumped("create_access_key");
  ASSERT_TRUE(store().set_access_key_active("BKIAAAAAAAAAAAAAAAA1", false, kNow).is_ok());
  bumped("set_access_key_active(false)");
  ASSERT_TRUE(store().set_access_key_active("BKIAAAAAAAAAAAAAAAA1", true, kNow).is_ok());
  bumped("set_access_key_active(true)");
  ASSERT_TRUE(store().delete_access_key("BKIAAAAAAAAAAAAAAAA1").is_ok());
  bumped("delete_access_key");

  // Reads and refused changes change nothing.
  (void)store().get_user(kAccount, "alice");
  (void)store().list_access_keys("");
  unchanged("reads");
  EXPECT_FALSE(store().create_user(UserRecord{kAccount, "alice", false, kNow}).is_ok());
  EXPECT_FALSE(store().delete_access_key("BKIAAAAAAAAAAAAAAAA1").is_ok());
  unchanged("refused changes");
}

// --- settings --------------------------------------------------------------------------

TEST_P(IdentityStoreConformance, SettingsAreWrittenOnceAndReadBack) {
  auto absent = store().get_setting("token-key");
  ASSERT_TRUE(absent.is_ok()) << absent.status().to_string();
  EXPECT_FALSE(absent->has_value());

  auto first = store().put_setting_if_absent("token-key", std::string("c2VhbGVkIGtleQ=="));
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(*first, std::string("c2VhbGVkIGtleQ=="));
  auto second = store().put_setting_if_absent("token-key", "other");
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(*second, std::string("c2VhbGVkIGtleQ==")) << "the first value stays";
  EXPECT_EQ(store().get_setting("token-key")->value_or(""), std::string("c2VhbGVkIGtleQ=="));
  EXPECT_FALSE(store().get_setting("other-key")->has_value());
}

TEST_P(IdentityStoreConformance, ConcurrentFirstStartsAgreeOnOneSetting) {
  constexpr int kThreads = 8;
  std::vector<std::string> seen(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      auto v = store().put_setting_if_absent("shared-key", "value-of-" + std::to_string(t));
      seen[t] = v.is_ok() ? *v : "error: " + v.status().to_string();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[0]) << t;
  EXPECT_TRUE(seen[0].starts_with("value-of-")) << seen[0];
  EXPECT_EQ(store().get_setting("shared-key")->value_or(""), seen[0]);
}

}  // namespace berth::conformance
