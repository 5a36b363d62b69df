// SqliteMetadataStore: the schema, opening the database and migrating it.
#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth {
using sqlite::Connection;

namespace {

// Version 2 keeps manifests' push and pull times in milliseconds (version 1:
// whole seconds).
constexpr int kSchemaVersion = 2;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS repositories (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE',
  tag_mutability_exclusions TEXT NOT NULL DEFAULT '[]',
  scan_on_push INTEGER NOT NULL DEFAULT 0,
  encryption_type TEXT NOT NULL DEFAULT 'AES256',
  kms_key TEXT NOT NULL DEFAULT '',
  lifecycle_policy TEXT,
  lifecycle_evaluated_at INTEGER,
  UNIQUE (account_id, name)
);
CREATE INDEX IF NOT EXISTS repositories_with_policy ON repositories (id) WHERE lifecycle_policy IS NOT NULL;
CREATE TABLE IF NOT EXISTS blob_links (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  linked_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blob_links_by_digest ON blob_links (digest);
CREATE TABLE IF NOT EXISTS manifests (
  id INTEGER PRIMARY KEY,
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  artifact_type TEXT NOT NULL,
  subject TEXT,
  annotations TEXT NOT NULL,
  bytes BLOB NOT NULL,
  image_size INTEGER NOT NULL,
  pushed_at INTEGER NOT NULL,  -- milliseconds since the epoch
  last_pulled_at INTEGER,      -- milliseconds since the epoch
  UNIQUE (repo_id, digest)
);
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repo_id, subject)
  WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS manifest_refs (
  manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
  repo_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (manifest_id, kind, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_by_target ON manifest_refs (repo_id, kind, digest);
CREATE TABLE IF NOT EXISTS tags (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_manifest ON tags (manifest_id);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY,
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  started_at INTEGER NOT NULL,
  lease_holder TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_start ON uploads (started_at);
CREATE TABLE IF NOT EXISTS lifecycle_previews (
  repo_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  policy_text TEXT NOT NULL,
  status TEXT NOT NULL,
  results TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lifecycle_expirations (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tags TEXT NOT NULL,
  rule_priority INTEGER NOT NULL,
  expired_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gc_candidates (
  digest TEXT PRIMARY KEY,
  since INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gc_candidates_by_since ON gc_candidates (since);
CREATE TABLE IF NOT EXISTS gc_pending (
  digest TEXT PRIMARY KEY,
  since INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_writes (
  digest TEXT PRIMARY KEY,
  writers INTEGER NOT NULL,
  started_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resource_tags (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (repo_id, key)
) WITHOUT ROWID;
)sql";

}  // namespace

Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::open(const std::string& path,
                                                                       bool synchronous_full) {
  BERTH_ASSIGN_OR_RETURN(auto pool, sqlite::Pool::open({path, synchronous_full}));
  std::unique_ptr<SqliteMetadataStore> store(new SqliteMetadataStore(std::move(pool)));
  BERTH_RETURN_IF_ERROR(store->migrate());
  return store;
}

Status SqliteMetadataStore::migrate() {
  return pool_->write([](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(c.exec(kSchema));
    BERTH_RETURN_IF_ERROR(c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("SELECT version FROM schema_version"));
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) {
      BERTH_ASSIGN_OR_RETURN(auto ins, c.prepare("INSERT INTO schema_version (version) VALUES (?1)"));
      return ins.bind(1, int64_t{kSchemaVersion}).run();
    }
    const int64_t version = s.int64(0);
    if (version > kSchemaVersion) {
      return error(Code::kFailedPrecondition,
                   "the database was written by a newer berth; refusing to open it");
    }
    // Each step brings a database from version N to N+1, inside this
    // transaction: a crash leaves the old version whole.
    if (version < 2) {
      BERTH_RETURN_IF_ERROR(c.exec("UPDATE manifests SET pushed_at=pushed_at*1000, "
                                   "last_pulled_at=last_pulled_at*1000"));
    }
    if (version < kSchemaVersion) {
      BERTH_ASSIGN_OR_RETURN(auto up, c.prepare("UPDATE schema_version SET version=?1"));
      BERTH_RETURN_IF_ERROR(up.bind(1, int64_t{kSchemaVersion}).run());
    }
    return Status::ok();
  });
}

}  // namespace berth
