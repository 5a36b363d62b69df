// IdentityStore: accounts, users, access keys and registry-wide settings.
// Implementations: sqlite/ and postgres/ (each sharing the metadata store's database). Secrets
// arrive here already sealed (auth/secret_box.h); the store never sees a plaintext secret.
//
// Every method is thread-safe and atomic. Each change to users, keys, groups,
// group memberships or user tags bumps identity_generation() (and so does each
// change to a group's policies in the PolicyStore), which lets servers notice
// changes made by other processes or nodes cheaply.
//
// Groups, their members and user tags live in tables of the metadata schema
// (meta/sqlite/migrations.cc, meta/postgres/migrations.cc), which the
// metadata store creates before this store opens. A group's policies are the
// PolicyStore's (meta/policy_store.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// An IAM group: a name within an account whose policies apply to its members.
struct GroupRecord {
  std::string account_id;
  std::string name;
  int64_t created_at = 0;
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
  // Deletes a user; kNotFound when absent. Without `cascade`,
  // kFailedPrecondition (IAM's DeleteConflict) while the user still has
  // access keys, inline or attached policies or group memberships, and
  // nothing changes; with `cascade` those go too. The user's tags always go
  // with it. One transaction.
  virtual Status delete_user(std::string_view account_id, std::string_view name, bool cascade) = 0;

  // User tags (IAM TagUser), (key, value) in byte order of key. tag_user adds
  // or replaces the keys given; untag_user removes those keys (absent keys
  // are not an error). All three: kNotFound when the user is missing.
  virtual Status tag_user(std::string_view account_id, std::string_view user,
                          const std::vector<std::pair<std::string, std::string>>& tags) = 0;
  virtual Status untag_user(std::string_view account_id, std::string_view user,
                            const std::vector<std::string>& keys) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> list_user_tags(
      std::string_view account_id, std::string_view user) = 0;

  // --- groups ---------------------------------------------------------------
  // kNotFound when the account is missing; kAlreadyExists on a duplicate.
  virtual Status create_group(const GroupRecord& group) = 0;
  // kNotFound when absent.
  virtual Result<GroupRecord> get_group(std::string_view account_id, std::string_view name) = 0;
  // An account's groups in byte order of name.
  virtual Result<std::vector<GroupRecord>> list_groups(std::string_view account_id) = 0;
  // kNotFound when absent; kFailedPrecondition (IAM's DeleteConflict) while
  // the group has members, inline or attached policies.
  virtual Status delete_group(std::string_view account_id, std::string_view name) = 0;
  // kNotFound when the group or the user is missing; adding a member again
  // is not an error.
  virtual Status add_user_to_group(std::string_view account_id, std::string_view group,
                                   std::string_view user) = 0;
  // kNotFound when the user is not a member of the group (or either is missing).
  virtual Status remove_user_from_group(std::string_view account_id, std::string_view group,
                                        std::string_view user) = 0;
  // A group's member user names in byte order; kNotFound when no such group.
  virtual Result<std::vector<std::string>> list_group_members(std::string_view account_id,
                                                              std::string_view group) = 0;
  // The names of the groups a user is in, in byte order; kNotFound when no
  // such user.
  virtual Result<std::vector<std::string>> list_groups_for_user(std::string_view account_id,
                                                                std::string_view user) = 0;

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
