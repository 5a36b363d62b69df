// The schema versions of the metadata tables: an ordered list of migrations,
// the database's version in `PRAGMA user_version`. Private to src/meta/sqlite/.
//
// Migration i (0-based) brings a database from version i to i+1; the latest
// version is the list's length. Each step runs in its own transaction with
// the version bump, so a crash leaves the database at a whole version. A
// database newer than the list is refused, naming both versions.
//
// Databases from before user_version kept their version in a one-row table
// `schema_version`; it is adopted on first open and kept in step (an older
// berth reads it there and refuses a database newer than it knows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "meta/sqlite/sqlite_db.h"

namespace berth::sqlite_meta {

// The version this binary writes: the number of migrations.
int64_t latest_schema_version();

struct MigrationReport {
  int64_t from = 0;  // the version found (0: a new, empty database)
  int64_t to = 0;    // the version left
};

// Brings the database behind `pool` to version `target` (at most the
// latest), one transaction per step; `path` only names the database in
// errors. kFailedPrecondition, naming both versions, when the database is
// newer than `target`. Safe to race with another process doing the same:
// each step re-reads the version inside its write transaction.
Result<MigrationReport> migrate(sqlite::Pool& pool, const std::string& path, int64_t target);

// The database's version (a legacy `schema_version` table counts).
Result<int64_t> schema_version(sqlite::Connection& c);

}  // namespace berth::sqlite_meta
