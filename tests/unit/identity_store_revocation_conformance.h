// The IdentityStore conformance suite: what every IdentityStore implementation
// must do, written against the interface only (meta/identity_store.h).
//
// To run it for an implementation, add one line to identity_store_revocation_conformance.cc:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, IdentityStoreRevocationConformance,
//                            ::testing::Values(RevocationStoreFactory{"postgres", make_pg}),
//                            RevocationStoreFactory::Name);
//
// The factory is called once per test with a fresh, empty scratch directory
// that the suite removes afterwards; it must return a fresh, empty store
// (shared_ptr, so that it may own whatever the store borrows).
//
// This header defines the tests themselves, so include it from exactly one
// translation unit of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "meta/identity_store.h"

namespace berth::conformance {

struct RevocationStoreFactory {
  std::string name;  // a gtest name: letters, digits and '_'
  std::function<std::shared_ptr<IdentityStore>(const std::filesystem::path& scratch_dir)> make;

  static std::string Name(const ::testing::TestParamInfo<RevocationStoreFactory>& info) {
    return info.param.name;
  }
};

inline void PrintTo(const RevocationStoreFactory& f, std::ostream* os) {
  *os << f.name;
}

class IdentityStoreRevocationConformance : public ::testing::TestWithParam<RevocationStoreFactory> {
 protected:
  static constexpr const char* kAccount = "111111111111";
  static constexpr int64_t kNow = 1'700'000'000;

  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-identity-revocation-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
    store_ = GetParam().make(scratch_);
    if (IsSkipped()) return;  // the backend is not there to test (the factory said why)
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->create_account({kAccount, "test", kNow}).is_ok());
    ASSERT_TRUE(store_->create_user({kAccount, "alice", false, kNow}).is_ok());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  AccessKeyRecord key(const std::string& id) const {
    return AccessKeyRecord{id, kAccount, "alice", "sealed:" + id, true, kNow};
  }

  std::filesystem::path scratch_;
  std::shared_ptr<IdentityStore> store_;
};

TEST_P(IdentityStoreRevocationConformance, AccessKeyRoundTripsWithNoRevocation) {
  ASSERT_TRUE(store_->create_access_key(key("AKIAONE0000000000000")).is_ok());
  auto got = store_->get_access_key("AKIAONE0000000000000");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->sealed_secret, "sealed:AKIAONE0000000000000");
  EXPECT_TRUE(got->active);
  EXPECT_EQ(got->tokens_not_before, 0);
  auto listed = store_->list_access_keys(kAccount);
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].tokens_not_before, 0);
}

TEST_P(IdentityStoreRevocationConformance, DisablingRecordsTokensNotBeforeAndEnablingKeepsIt) {
  ASSERT_TRUE(store_->create_access_key(key("AKIATWO0000000000000")).is_ok());
  auto gen0 = store_->identity_generation();
  ASSERT_TRUE(gen0.is_ok());

  ASSERT_TRUE(store_->set_access_key_active("AKIATWO0000000000000", false, kNow + 1).is_ok());
  auto got = store_->get_access_key("AKIATWO0000000000000");
  ASSERT_TRUE(got.is_ok());
  EXPECT_FALSE(got->active);
  EXPECT_EQ(got->tokens_not_before, kNow + 1);
  auto gen1 = store_->identity_generation();
  ASSERT_TRUE(gen1.is_ok());
  EXPECT_GT(*gen1, *gen0);

  // Enabling ignores the value and keeps the revocation.
  ASSERT_TRUE(store_->set_access_key_active("AKIATWO0000000000000", true, kNow + 500).is_ok());
  got = store_->get_access_key("AKIATWO0000000000000");
  ASSERT_TRUE(got.is_ok());
  EXPECT_TRUE(got->active);
  EXPECT_EQ(got->tokens_not_before, kNow + 1);

  // A disable never lowers it (e.g. a node with a slow clock).
  ASSERT_TRUE(store_->set_access_key_active("AKIATWO0000000000000", false, kNow - 100).is_ok());
  got = store_->get_access_key("AKIATWO0000000000000");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->tokens_not_before, kNow + 1);
  ASSERT_TRUE(store_->set_access_key_active("AKIATWO0000000000000", false, kNow + 90).is_ok());
  got = store_->get_access_key("AKIATWO0000000000000");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->tokens_not_before, kNow + 90);
}

TEST_P(IdentityStoreRevocationConformance, ChangingAnUnknownKeyIsNotFound) {
  EXPECT_EQ(store_->set_access_key_active("AKIANOPE000000000000", false, kNow).code(),
            Code::kNotFound);
  EXPECT_EQ(store_->get_access_key("AKIANOPE000000000000").status().code(), Code::kNotFound);
}

}  // namespace berth::conformance
