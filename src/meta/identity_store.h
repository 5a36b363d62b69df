// IdentityStore: accounts, users, access keys and registry-wide settings.
// Implementations: sqlite/ and postgres/ (each sharing the metadata store's database). Secrets
// arrive here already sealed (auth/secret_box.h); the store never sees a plaintext secret.
//
// Every method is thread-safe and atomic. Each change to users or keys bumps
// identity_generation(), which lets servers notice changes made by other
// processes or nodes cheaply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth {

struct AccountRecord {
  std::string id;  // twelve digits
  std::string name;
  int64_t created_at = 0;
};

struct UserRecord {
  std::string account_id;
  std::string name;
  bool admin = false;
  int64_t created_at = 0;
};

struct AccessKeyRecord {
  std::string id;
  std::string account_id;
  std::string user_name;
  std::string sealed_secret;
  bool active = true;
  int64_t created_at = 0;
  // Registry tokens of this key issued before this time (seconds since the
  // Unix epoch) are void, even after the key is enabled again: disabling a key
  // must revoke what it handed out for good. 0 for a key never disabled.
  int64_t tokens_not_before = 0;
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // kAlreadyExists on a duplicate id.
  virtual Status create_account(const AccountRecord& account) = 0;
  // kNotFound when absent.
  virtual Result<AccountRecord> get_account(std::string_view id) = 0;
  virtual Result<std::vector<AccountRecord>> list_accounts() = 0;

  // kNotFound when the account is missing; kAlreadyExists on a duplicate.
  virtual Status create_user(const UserRecord& user) = 0;
  virtual Result<UserRecord> get_user(std::string_view account_id, std::string_view name) = 0;
  virtual Result<std::vector<UserRecord>> list_users(std::string_view account_id) = 0;

  // kNotFound when the user is missing.
  virtual Status create_access_key(const AccessKeyRecord& key) = 0;
  // kNotFound when absent.
  virtual Result<AccessKeyRecord> get_access_key(std::string_view id) = 0;
  // All keys, or those of one account when `account_id` is non-empty.
  virtual Result<std::vector<AccessKeyRecord>> list_access_keys(std::string_view account_id) = 0;
  // Enables or disables a key; kNotFound when absent. Disabling also raises
  // the key's tokens_not_before to `tokens_not_before` (never lowers it), in
  // the same transaction; enabling leaves tokens_not_before as it is.
  virtual Status set_access_key_active(std::string_view id, bool active,
                                       int64_t tokens_not_before) = 0;
  virtual Status delete_access_key(std::string_view id) = 0;

  virtual Result<int64_t> identity_generation() = 0;

  // Small registry-wide values (e.g. the sealed token key). Absent: nullopt.
  virtual Result<std::optional<std::string>> get_setting(std::string_view key) = 0;
  // Stores `value` unless the key exists; returns the value now stored, so
  // concurrent first starts agree on one value.
  virtual Result<std::string> put_setting_if_absent(std::string_view key,
                                                    std::string_view value) = 0;
};

}  // namespace berth
