// PostgresMetadataStore: connecting and bringing the schema to the latest
// version (the versions themselves are in migrations.cc).
#include "meta/postgres/postgres_metadata_store.h"

#include "meta/postgres/migrations.h"

namespace berth {

Result<std::unique_ptr<PostgresMetadataStore>> PostgresMetadataStore::open(
    pg::Pool::Options opts, pg_meta::MigrationReport* report) {
  BERTH_ASSIGN_OR_RETURN(auto pool, pg::Pool::open(std::move(opts)));
  BERTH_ASSIGN_OR_RETURN(auto migrated, pg_meta::migrate(*pool, pool->redacted_dsn(),
                                                         pg_meta::latest_schema_version()));
  if (report != nullptr) *report = migrated;
  return std::unique_ptr<PostgresMetadataStore>(new PostgresMetadataStore(std::move(pool)));
}

}  // namespace berth
