#include "meta/sqlite/sqlite_identity_store.h"

#include <fmt/format.h>

#include <iterator>
#include <string>

#include "meta/sqlite/identity_generation.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  admin INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  sealed_secret TEXT NOT NULL,
  active INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO settings (key, value) VALUES ('identity_generation', '0');
)sql";

// The identity tables' schema version, kept in settings (the metadata store
// versions its own tables). kSchema above is version 1; each later version is
// one step in kMigrations, applied in order in one transaction, so a database
// of any earlier berth opens and a newer one is refused.
constexpr int64_t kIdentitySchemaVersion = 2;
constexpr const char* kMigrations[] = {
    // 1 -> 2: per-key revocation of registry tokens.
    "ALTER TABLE access_keys ADD COLUMN tokens_not_before INTEGER NOT NULL DEFAULT 0",
};
static_assert(static_cast<int64_t>(std::size(kMigrations)) == kIdentitySchemaVersion - 1);

constexpr const char* kKeyColumns =
    "id, account_id, user_name, sealed_secret, active, created_at, tokens_not_before";

AccessKeyRecord read_key(const Statement& s) {
  return AccessKeyRecord{s.text(0),       s.text(1),  s.text(2), s.text(3),
                         s.int64(4) != 0, s.int64(5), s.int64(6)};
}

}  // namespace

Result<std::unique_ptr<SqliteIdentityStore>> SqliteIdentityStore::open(sqlite::Pool& pool) {
  std::unique_ptr<SqliteIdentityStore> store(new SqliteIdentityStore(pool));
  BERTH_RETURN_IF_ERROR(store->migrate());
  return store;
}

Status SqliteIdentityStore::migrate() {
  return pool_.write([](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(c.exec(kSchema));
    bool row = false;
    int64_t version = 1;  // databases from before versioning are version 1
    {
      // Read, then let the statement reset before the schema changes.
      BERTH_ASSIGN_OR_RETURN(
          auto q,
          c.prepare(
              "SELECT CAST(value AS INTEGER) FROM settings WHERE key='identity_schema_version'"));
      BERTH_ASSIGN_OR_RETURN(row, q.step());
      if (row) version = q.int64(0);
    }
    if (version > kIdentitySchemaVersion) {
      return error(Code::kFailedPrecondition,
                   "the identity tables were written by a newer berth; refusing to open them");
    }
    for (int64_t v = version; v < kIdentitySchemaVersion; ++v) {
      BERTH_RETURN_IF_ERROR(c.exec(kMigrations[v - 1]));
    }
    if (row && version == kIdentitySchemaVersion) return Status::ok();
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('identity_schema_version', ?1)"));
    return s.bind(1, std::string_view(std::to_string(kIdentitySchemaVersion))).run();
  });
}

Status SqliteIdentityStore::create_account(const AccountRecord& a) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("INSERT OR IGNORE INTO accounts (id, name, created_at) VALUES (?1,?2,?3)"));
    BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(a.id))
                              .bind(2, std::string_view(a.name))
                              .bind(3, a.created_at)
                              .run());
    if (c.changes() == 0)
      return error(Code::kAlreadyExists, fmt::format("account {} already exists", a.id));
    return Status::ok();
  });
}

Result<AccountRecord> SqliteIdentityStore::get_account(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT id, name, created_at FROM accounts WHERE id=?1"));
  s.bind(1, id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNotFound, fmt::format("account {} not found", id));
  return AccountRecord{s.text(0), s.text(1), s.int64(2)};
}

Result<std::vector<AccountRecord>> SqliteIdentityStore::list_accounts() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT id, name, created_at FROM accounts ORDER BY id"));
  return s.collect<AccountRecord>([](const Statement& row) {
    return AccountRecord{row.text(0), row.text(1), row.int64(2)};
  });
}

Status SqliteIdentityStore::create_user(const UserRecord& u) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM accounts WHERE id=?1"));
    q.bind(1, std::string_view(u.account_id));
    BERTH_ASSIGN_OR_RETURN(bool exists, q.step());
    if (!exists) return error(Code::kNotFound, fmt::format("account {} not found", u.account_id));
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("INSERT OR IGNORE INTO users (account_id, name, "
                                             "admin, created_at) VALUES (?1,?2,?3,?4)"));
    BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(u.account_id))
                              .bind(2, std::string_view(u.name))
                              .bind(3, int64_t{u.admin})
                              .bind(4, u.created_at)
                              .run());
    if (c.changes() == 0)
      return error(Code::kAlreadyExists, fmt::format("user {} already exists", u.name));
    return sqlite::bump_identity_generation(c);
  });
}

Result<UserRecord> SqliteIdentityStore::get_user(std::string_view account_id,
                                                 std::string_view name) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT account_id, name, admin, created_at FROM users WHERE account_id=?1 AND name=?2"));
  s.bind(1, account_id).bind(2, name);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNotFound, fmt::format("user {} not found", name));
  return UserRecord{s.text(0), s.text(1), s.int64(2) != 0, s.int64(3)};
}

Result<std::vector<UserRecord>> SqliteIdentityStore::list_users(std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT account_id, name, admin, created_at FROM users "
                                        "WHERE ?1='' OR account_id=?1 ORDER BY account_id, name"));
  s.bind(1, account_id);
  return s.collect<UserRecord>([](const Statement& row) {
    return UserRecord{row.text(0), row.text(1), row.int64(2) != 0, row.int64(3)};
  });
}

Status SqliteIdentityStore::create_access_key(const AccessKeyRecord& k) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto q,
                           c.prepare("SELECT 1 FROM users WHERE account_id=?1 AND name=?2"));
    q.bind(1, std::string_view(k.account_id)).bind(2, std::string_view(k.user_name));
    BERTH_ASSIGN_OR_RETURN(bool exists, q.step());
    if (!exists)
      return error(Code::kNotFound,
                   fmt::format("user {} not found in account {}", k.user_name, k.account_id));
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT OR IGNORE INTO access_keys (id, account_id, user_name, "
                          "sealed_secret, active, created_at) VALUES (?1,?2,?3,?4,?5,?6)"));
    BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(k.id))
                              .bind(2, std::string_view(k.account_id))
                              .bind(3, std::string_view(k.user_name))
                              .bind(4, std::string_view(k.sealed_secret))
                              .bind(5, int64_t{k.active})
                              .bind(6, k.created_at)
                              .run());
    if (c.changes() == 0) return error(Code::kAlreadyExists, "access key already exists");
    return sqlite::bump_identity_generation(c);
  });
}

Result<AccessKeyRecord> SqliteIdentityStore::get_access_key(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  static const std::string sql = fmt::format("SELECT {} FROM access_keys WHERE id=?1", kKeyColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNotFound, "access key not found");
  return read_key(s);
}

Result<std::vector<AccessKeyRecord>> SqliteIdentityStore::list_access_keys(
    std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  static const std::string sql =
      fmt::format("SELECT {} FROM access_keys WHERE ?1='' OR account_id=?1 ORDER BY account_id, id",
                  kKeyColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, account_id);
  return s.collect<AccessKeyRecord>([](const Statement& row) { return read_key(row); });
}

Status SqliteIdentityStore::set_access_key_active(std::string_view id, bool active,
                                                  int64_t tokens_not_before) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("UPDATE access_keys SET active=?2, tokens_not_before="
                  "CASE WHEN ?2=0 THEN max(tokens_not_before, ?3) ELSE tokens_not_before END "
                  "WHERE id=?1"));
    BERTH_RETURN_IF_ERROR(s.bind(1, id).bind(2, int64_t{active}).bind(3, tokens_not_before).run());
    if (c.changes() == 0) return error(Code::kNotFound, "access key not found");
    return sqlite::bump_identity_generation(c);
  });
}

Status SqliteIdentityStore::delete_access_key(std::string_view id) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM access_keys WHERE id=?1"));
    BERTH_RETURN_IF_ERROR(s.bind(1, id).run());
    if (c.changes() == 0) return error(Code::kNotFound, "access key not found");
    return sqlite::bump_identity_generation(c);
  });
}

Result<int64_t> SqliteIdentityStore::identity_generation() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare(
                  "SELECT CAST(value AS INTEGER) FROM settings WHERE key='identity_generation'"));
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.int64(0) : int64_t{0};
}

Result<std::optional<std::string>> SqliteIdentityStore::get_setting(std::string_view key) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT value FROM settings WHERE key=?1"));
  s.bind(1, key);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.text(0));
}

Result<std::string> SqliteIdentityStore::put_setting_if_absent(std::string_view key,
                                                               std::string_view value) {
  std::string stored;
  Status st = pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto ins, c.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)"));
    BERTH_RETURN_IF_ERROR(ins.bind(1, key).bind(2, value).run());
    BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT value FROM settings WHERE key=?1"));
    q.bind(1, key);
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (row) stored = q.text(0);
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return stored;
}

}  // namespace berth
