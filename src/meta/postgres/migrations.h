// The schema versions of the metadata tables in PostgreSQL: an ordered list
// of migrations, the database's version in the one-row table
// `schema_version`. Private to src/meta/postgres/.
//
// The versions are SQLite's (meta/sqlite/migrations.h), step for step:
// migration i (0-based) brings a database from version i to i+1, and the
// latest version is the list's length. Each step runs in its own transaction
// with the version bump, under an advisory lock, so concurrent starts apply
// each step once and a crash leaves the database at a whole version. A
// database newer than the list is refused, naming both versions.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "meta/postgres/postgres_db.h"

namespace berth::pg_meta {

// The version this binary writes: the number of migrations.
int64_t latest_schema_version();

// The database's schema version as `schema_version` records it: 0 when the
// table is empty. The one query for it, shared by migrate() and the
// readiness probe; an error when the table is missing or the query fails.
// Thread-safe as `c` is (one connection, one caller at a time).
Result<int64_t> schema_version(pg::Connection& c);

struct MigrationReport {
  int64_t from = 0;  // the version found (0: a new, empty database)
  int64_t to = 0;    // the version left
};

// Brings the database behind `pool` to version `target` (at most the
// latest), one transaction per step; `where` names the database in errors.
// kFailedPrecondition, naming both versions, when the database is newer
// than `target`.
Result<MigrationReport> migrate(pg::Pool& pool, const std::string& where, int64_t target);

}  // namespace berth::pg_meta
