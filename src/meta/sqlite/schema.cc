// SqliteMetadataStore: opening the database and bringing its schema to the
// latest version (the versions themselves are in migrations.cc).
#include "meta/sqlite/sqlite_metadata_store.h"

#include "meta/sqlite/migrations.h"

namespace berth {

Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::open(
    const std::string& path, bool synchronous_full, sqlite_meta::MigrationReport* report) {
  BERTH_ASSIGN_OR_RETURN(auto pool, sqlite::Pool::open({path, synchronous_full}));
  BERTH_ASSIGN_OR_RETURN(auto migrated,
                         sqlite_meta::migrate(*pool, path, sqlite_meta::latest_schema_version()));
  if (report != nullptr) *report = migrated;
  return std::unique_ptr<SqliteMetadataStore>(new SqliteMetadataStore(std::move(pool)));
}

}  // namespace berth
