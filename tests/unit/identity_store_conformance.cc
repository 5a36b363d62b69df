// Runs the IdentityStore conformance suite (identity_store_conformance.h) for
// every IdentityStore implementation. One INSTANTIATE line per implementation.
#include "identity_store_conformance.h"
#include "identity_store_conformance_groups.h"

#include "meta/postgres/postgres_identity_store.h"
#include "meta/postgres/postgres_metadata_store.h"
#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "postgres_test_db.h"

namespace berth::conformance {
namespace {

// SqliteIdentityStore lives in the metadata database, on its pool.
struct SqliteBoth {
  std::unique_ptr<SqliteMetadataStore> meta;
  std::unique_ptr<SqliteIdentityStore> identity;
};

std::pair<std::shared_ptr<void>, IdentityStore*> sqlite_identity_store(
    const std::filesystem::path& scratch_dir) {
  auto both = std::make_shared<SqliteBoth>();
  auto meta = SqliteMetadataStore::open((scratch_dir / "meta.db").string());
  EXPECT_TRUE(meta.is_ok()) << meta.status().to_string();
  if (!meta.is_ok()) return {nullptr, nullptr};
  both->meta = std::move(meta).value();
  auto identity = SqliteIdentityStore::open(both->meta->pool());
  EXPECT_TRUE(identity.is_ok()) << identity.status().to_string();
  if (!identity.is_ok()) return {nullptr, nullptr};
  both->identity = std::move(identity).value();
  IdentityStore* store = both->identity.get();
  return {std::move(both), store};
}

PolicyStore* sqlite_policies(const std::shared_ptr<void>& owner) {
  return static_cast<SqliteBoth*>(owner.get())->meta.get();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, IdentityStoreConformance,
                         ::testing::Values(IdentityStoreFactory{"sqlite", sqlite_identity_store,
                                                                sqlite_policies}),
                         IdentityStoreFactory::Name);

// PostgresIdentityStore on the metadata store's pool, each test on a fresh
// database (skipped without BERTH_TEST_POSTGRES_DSN).
struct PostgresAll {
  std::shared_ptr<testing_pg::TestDatabase> db;
  std::unique_ptr<PostgresMetadataStore> meta;
  std::unique_ptr<PostgresIdentityStore> identity;
};

std::pair<std::shared_ptr<void>, IdentityStore*> postgres_identity_store(
    const std::filesystem::path&) {
  if (testing_pg::base_dsn().empty()) {
    testing_pg::skip_without_postgres();
    return {nullptr, nullptr};
  }
  auto all = std::make_shared<PostgresAll>();
  all->db = testing_pg::TestDatabase::create();
  if (!all->db) return {nullptr, nullptr};
  auto meta = PostgresMetadataStore::open(all->db->options());
  EXPECT_TRUE(meta.is_ok()) << meta.status().to_string();
  if (!meta.is_ok()) return {nullptr, nullptr};
  all->meta = std::move(meta).value();
  auto identity = PostgresIdentityStore::open(all->meta->pool());
  EXPECT_TRUE(identity.is_ok()) << identity.status().to_string();
  if (!identity.is_ok()) return {nullptr, nullptr};
  all->identity = std::move(identity).value();
  IdentityStore* store = all->identity.get();
  return {std::move(all), store};
}

PolicyStore* postgres_policies(const std::shared_ptr<void>& owner) {
  return static_cast<PostgresAll*>(owner.get())->meta.get();
}

INSTANTIATE_TEST_SUITE_P(Postgres, IdentityStoreConformance,
                         ::testing::Values(IdentityStoreFactory{"postgres", postgres_identity_store,
                                                                postgres_policies}),
                         IdentityStoreFactory::Name);

}  // namespace
}  // namespace berth::conformance
