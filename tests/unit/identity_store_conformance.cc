// Runs the IdentityStore conformance suite (identity_store_conformance.h) for
// every IdentityStore implementation. One INSTANTIATE line per implementation.
#include "identity_store_conformance.h"

#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth::conformance {
namespace {

// SqliteIdentityStore lives in the metadata database, on its pool.
std::pair<std::shared_ptr<void>, IdentityStore*> sqlite_identity_store(const std::filesystem::path& scratch_dir) {
  struct Both {
    std::unique_ptr<SqliteMetadataStore> meta;
    std::unique_ptr<SqliteIdentityStore> identity;
  };
  auto both = std::make_shared<Both>();
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

INSTANTIATE_TEST_SUITE_P(Sqlite, IdentityStoreConformance,
                         ::testing::Values(IdentityStoreFactory{"sqlite", sqlite_identity_store}),
                         IdentityStoreFactory::Name);

}  // namespace
}  // namespace berth::conformance
