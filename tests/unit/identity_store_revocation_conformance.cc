// Instantiates the IdentityStore conformance suite (identity_store_revocation_conformance.h)
// for every IdentityStore implementation, and checks the SQLite one's schema
// migration from databases written before it existed.
#include "identity_store_revocation_conformance.h"

#include "meta/postgres/postgres_identity_store.h"
#include "meta/postgres/postgres_metadata_store.h"
#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "postgres_test_db.h"

namespace berth::conformance {
namespace {

// The identity store borrows the metadata store's pool: the shared_ptr owns both.
struct SqliteStores {
  std::unique_ptr<SqliteMetadataStore> meta;
  std::unique_ptr<SqliteIdentityStore> identity;
};

std::shared_ptr<IdentityStore> make_sqlite(const std::filesystem::path& dir) {
  auto stores = std::make_shared<SqliteStores>();
  auto meta = SqliteMetadataStore::open((dir / "berth.db").string(), false);
  if (!meta) return nullptr;
  stores->meta = std::move(meta).value();
  auto identity = SqliteIdentityStore::open(stores->meta->pool());
  if (!identity) return nullptr;
  stores->identity = std::move(identity).value();
  return std::shared_ptr<IdentityStore>(stores, stores->identity.get());
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, IdentityStoreRevocationConformance,
                         ::testing::Values(RevocationStoreFactory{"sqlite", make_sqlite}),
                         RevocationStoreFactory::Name);

namespace {

// The same on PostgreSQL, each test on a fresh database (skipped without
// BERTH_TEST_POSTGRES_DSN).
struct PostgresStores {
  std::shared_ptr<testing_pg::TestDatabase> db;
  std::unique_ptr<PostgresMetadataStore> meta;
  std::unique_ptr<PostgresIdentityStore> identity;
};

std::shared_ptr<IdentityStore> make_postgres(const std::filesystem::path&) {
  if (testing_pg::base_dsn().empty()) {
    testing_pg::skip_without_postgres();
    return nullptr;
  }
  auto stores = std::make_shared<PostgresStores>();
  stores->db = testing_pg::TestDatabase::create();
  if (!stores->db) return nullptr;
  auto meta = PostgresMetadataStore::open(stores->db->options());
  if (!meta) return nullptr;
  stores->meta = std::move(meta).value();
  auto identity = PostgresIdentityStore::open(stores->meta->pool());
  if (!identity) return nullptr;
  stores->identity = std::move(identity).value();
  return std::shared_ptr<IdentityStore>(stores, stores->identity.get());
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, IdentityStoreRevocationConformance,
                         ::testing::Values(RevocationStoreFactory{"postgres", make_postgres}),
                         RevocationStoreFactory::Name);

namespace {

class SqliteIdentityMigration : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-identity-migration-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto meta = SqliteMetadataStore::open((dir_ / "berth.db").string(), false);
    ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
    meta_ = std::move(meta).value();
  }
  void TearDown() override {
    meta_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Status exec(const char* sql) {
    return meta_->pool().write([sql](sqlite::Connection& c) { return c.exec(sql); });
  }
  std::filesystem::path dir_;
  std::unique_ptr<SqliteMetadataStore> meta_;
};

// The identity tables exactly as berth wrote them before they were versioned.
constexpr const char* kVersion1Database = R"sql(
CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE users (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, name TEXT NOT NULL,
  admin INTEGER NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account_id, name)) WITHOUT ROWID;
CREATE TABLE access_keys (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, user_name TEXT NOT NULL, sealed_secret TEXT NOT NULL,
  active INTEGER NOT NULL, created_at INTEGER NOT NULL,
  FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE) WITHOUT ROWID;
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO settings (key, value) VALUES ('identity_generation', '7');
INSERT INTO accounts VALUES ('111111111111', 'old', 1);
INSERT INTO users VALUES ('111111111111', 'bob', 0, 1);
INSERT INTO access_keys VALUES ('AKIAOLD0000000000000', '111111111111', 'bob', 'sealed', 0, 1);
)sql";

TEST_F(SqliteIdentityMigration, Version1DatabaseKeepsItsKeysAndGainsRevocation) {
  // The metadata schema creates the settings table too (group policy changes
  // bump the identity generation); a database of then had only the identity
  // store's, made before the metadata store's first migration.
  ASSERT_TRUE(exec("DROP TABLE settings").is_ok());
  ASSERT_TRUE(exec(kVersion1Database).is_ok());
  for (int open = 0; open < 2; ++open) {  // the second open finds nothing to do
    auto store = SqliteIdentityStore::open(meta_->pool());
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    auto key = (*store)->get_access_key("AKIAOLD0000000000000");
    ASSERT_TRUE(key.is_ok()) << key.status().to_string();
    EXPECT_EQ(key->sealed_secret, "sealed");
    EXPECT_FALSE(key->active);
    EXPECT_EQ(key->tokens_not_before, 0);
    auto gen = (*store)->identity_generation();
    ASSERT_TRUE(gen.is_ok());
    EXPECT_EQ(*gen, 7);
    auto version = (*store)->get_setting("identity_schema_version");
    ASSERT_TRUE(version.is_ok() && version->has_value());
    EXPECT_EQ(**version, "2");
  }
  auto store = SqliteIdentityStore::open(meta_->pool());
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE((*store)->set_access_key_active("AKIAOLD0000000000000", false, 42).is_ok());
  EXPECT_EQ((*store)->get_access_key("AKIAOLD0000000000000")->tokens_not_before, 42);
}

TEST_F(SqliteIdentityMigration, NewerSchemaIsRefused) {
  ASSERT_TRUE(SqliteIdentityStore::open(meta_->pool()).is_ok());
  ASSERT_TRUE(exec("UPDATE settings SET value='99' WHERE key='identity_schema_version'").is_ok());
  auto store = SqliteIdentityStore::open(meta_->pool());
  EXPECT_EQ(store.status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace berth::conformance
