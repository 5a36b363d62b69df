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
