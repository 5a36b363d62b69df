// IdentityStore in berth's SQLite database.
#pragma once

#include <memory>

#include "meta/identity_store.h"
#include "meta/sqlite/sqlite_db.h"

namespace berth {

class SqliteIdentityStore final : public IdentityStore {
 public:
  // Shares `pool` (owned by the caller, e.g. SqliteMetadataStore) and creates
  // its tables if needed.
  static Result<std::unique_ptr<SqliteIdentityStore>> open(sqlite::Pool& pool);

  Status create_account(const AccountRecord& account) override;
  Result<AccountRecord> get_account(std::string_view id) override;
  Result<std::vector<AccountRecord>> list_accounts() override;
  Status create_user(const UserRecord& user) override;
  Result<UserRecord> get_user(std::string_view account_id, std::string_view name) override;
  Result<std::vector<UserRecord>> list_users(std::string_view account_id) override;
  Status delete_user(std::string_view account_id, std::string_view name, bool cascade) override;
  Status tag_user(std::string_view account_id, std::string_view user,
                  const std::vector<std::pair<std::string, std::string>>& tags) override;
  Status untag_user(std::string_view account_id, std::string_view user,
                    const std::vector<std::string>& keys) override;
  Result<std::vector<std::pair<std::string, std::string>>> list_user_tags(
      std::string_view account_id, std::string_view user) override;
  // Groups, memberships and user tags: sqlite_groups.cc.
  Status create_group(const GroupRecord& group) override;
  Result<GroupRecord> get_group(std::string_view account_id, std::string_view name) override;
  Result<std::vector<GroupRecord>> list_groups(std::string_view account_id) override;
  Status delete_group(std::string_view account_id, std::string_view name) override;
  Status add_user_to_group(std::string_view account_id, std::string_view group,
                           std::string_view user) override;
  Status remove_user_from_group(std::string_view account_id, std::string_view group,
                                std::string_view user) override;
  Result<std::vector<std::string>> list_group_members(std::string_view account_id,
                                                      std::string_view group) override;
  Result<std::vector<std::string>> list_groups_for_user(std::string_view account_id,
                                                        std::string_view user) override;
  Status create_access_key(const AccessKeyRecord& key) override;
  Result<AccessKeyRecord> get_access_key(std::string_view id) override;
  Result<std::vector<AccessKeyRecord>> list_access_keys(std::string_view account_id) override;
  Status set_access_key_active(std::string_view id, bool active,
                               int64_t tokens_not_before) override;
  Status delete_access_key(std::string_view id) override;
  Result<int64_t> identity_generation() override;
  Result<std::optional<std::string>> get_setting(std::string_view key) override;
  Result<std::string> put_setting_if_absent(std::string_view key, std::string_view value) override;

 private:
  explicit SqliteIdentityStore(sqlite::Pool& pool) : pool_(pool) {}
  // Brings the identity tables to kIdentitySchemaVersion, one step at a time.
  Status migrate();
  sqlite::Pool& pool_;
};

}  // namespace berth
