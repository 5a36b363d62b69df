#include "meta/sqlite/migrations.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace berth::sqlite_meta {
using sqlite::Connection;

namespace {

// Version 1: the tables as the first berth made them (push and pull times in
// whole seconds). IF NOT EXISTS: databases from before user_version ran this
// at every start, and adopting one runs it again.
constexpr const char* kVersion1Tables = R"sql(
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

// Version 1 -> 2: manifests' push and pull times in milliseconds (version 1
// kept whole seconds).
Status push_and_pull_times_in_milliseconds(Connection& c) {
  return c.exec(
      "UPDATE manifests SET pushed_at=pushed_at*1000, last_pulled_at=last_pulled_at*1000");
}

Status create_tables(Connection& c) {
  return c.exec(kVersion1Tables);
}

// Version 2 -> 3: the event outbox (meta/event_outbox_store.h). Events are
// numbered in commit order by `sequence`; a webhook's acknowledgements are
// rows of event_deliveries. Plain SQL that PostgreSQL also speaks (with
// BIGSERIAL for the sequence).
Status create_event_outbox(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS event_outbox (
  sequence INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  detail_type TEXT NOT NULL,
  account_id TEXT NOT NULL,
  repository TEXT NOT NULL,
  detail TEXT NOT NULL,
  created_at INTEGER NOT NULL  -- milliseconds since the epoch
);
CREATE TABLE IF NOT EXISTS event_deliveries (
  webhook TEXT NOT NULL,
  sequence INTEGER NOT NULL REFERENCES event_outbox(sequence) ON DELETE CASCADE,
  delivered_at INTEGER NOT NULL,  -- milliseconds since the epoch
  PRIMARY KEY (webhook, sequence)
);
)sql");
}

// Version 3 -> 4: IAM-style policies (meta/policy_store.h): one per
// repository (going with it), one registry policy per account, and per user
// the inline policies and the attached managed policy ARNs. Users live in the
// identity tables, so those rows name them rather than reference them. IF NOT
// EXISTS: a database adopted from before user_version runs every step again.
Status policy_tables(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS repository_policies (
  repo_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  policy_text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_policies (
  account_id TEXT PRIMARY KEY,
  policy_text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_policies (
  account_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  policy_name TEXT NOT NULL,
  policy_text TEXT NOT NULL,
  PRIMARY KEY (account_id, user_name, policy_name)
);
CREATE TABLE IF NOT EXISTS user_attached_policies (
  account_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  policy_arn TEXT NOT NULL,
  PRIMARY KEY (account_id, user_name, policy_arn)
);
)sql");
}

// Version 4 -> 5: imported vulnerability advisories (meta/advisory_store.h).
// One row per advisory id; its affected entries keyed by (id, ecosystem,
// package, seq) and found by (ecosystem, package); one row per import. The
// CHECKs keep rows without a name out (an import naming none fails whole).
// Plain SQL that PostgreSQL also speaks (BIGINT, DOUBLE PRECISION, COLLATE "C").
Status advisory_tables(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS advisories (
  id TEXT PRIMARY KEY CHECK (id <> ''),
  aliases TEXT NOT NULL,      -- JSON array of strings
  description TEXT NOT NULL,
  uri TEXT NOT NULL,
  severity TEXT NOT NULL,     -- ECR's name: LOW, MEDIUM, ... UNDEFINED
  cvss_score REAL,
  cvss_vector TEXT NOT NULL,
  import_version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS advisory_affected (
  advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
  ecosystem TEXT NOT NULL CHECK (ecosystem <> ''),
  package TEXT NOT NULL CHECK (package <> ''),
  seq INTEGER NOT NULL,
  introduced TEXT NOT NULL,
  fixed TEXT NOT NULL,
  versions TEXT NOT NULL,     -- JSON array of strings
  not_affected INTEGER NOT NULL,
  import_version INTEGER NOT NULL,
  PRIMARY KEY (advisory_id, ecosystem, package, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS advisory_affected_by_package ON advisory_affected (ecosystem, package);
CREATE TABLE IF NOT EXISTS advisory_imports (
  version INTEGER PRIMARY KEY,
  produced_at_ms INTEGER NOT NULL,
  imported_at_ms INTEGER NOT NULL,
  sources TEXT NOT NULL,
  advisories INTEGER NOT NULL,
  affected INTEGER NOT NULL
);
)sql");
}

// Version 5 -> 6: image scans (meta/scan_store.h). A scan, its findings and
// the inventory the scan found belong to one manifest and go with it; a
// scan's lease is an upload-style lease (holder, until). Registry scanning
// configurations are per account; their rules are one line each.
Status scan_tables(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS scans (
  manifest_id INTEGER PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
  repo_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL,
  description TEXT NOT NULL,
  lease_holder TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  requested_at INTEGER NOT NULL,  -- milliseconds since the epoch, as every time here
  started_at INTEGER,
  completed_at INTEGER,
  vulnerability_source_updated_at INTEGER,
  advisory_version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS scans_by_image ON scans (repo_id, digest);
CREATE INDEX IF NOT EXISTS scans_waiting ON scans (requested_at)
  WHERE status IN ('PENDING', 'IN_PROGRESS');
CREATE TABLE IF NOT EXISTS scan_findings (
  manifest_id INTEGER NOT NULL REFERENCES scans(manifest_id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  uri TEXT NOT NULL,
  severity INTEGER NOT NULL,
  package_name TEXT NOT NULL,
  package_version TEXT NOT NULL,
  fixed_version TEXT NOT NULL,
  cvss_score TEXT,
  cvss_vector TEXT NOT NULL,
  PRIMARY KEY (manifest_id, ordinal)
);
CREATE TABLE IF NOT EXISTS image_inventories (
  manifest_id INTEGER PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
  os_id TEXT,  -- NULL: no os-release
  os_version_id TEXT NOT NULL,
  os_codename TEXT NOT NULL,
  os_pretty_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_inventory_packages (
  manifest_id INTEGER NOT NULL REFERENCES image_inventories(manifest_id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  source_name TEXT NOT NULL,
  source_version TEXT NOT NULL,
  architecture TEXT NOT NULL,
  license TEXT NOT NULL,
  PRIMARY KEY (manifest_id, ordinal)
);
CREATE TABLE IF NOT EXISTS registry_scanning_configurations (
  account_id TEXT PRIMARY KEY,
  scan_type TEXT NOT NULL,
  rules TEXT NOT NULL
);
)sql");
}

// Version 6 -> 7: the webhooks' retry schedules (meta/event_outbox_store.h),
// one row per webhook and repository key, so that a restarted node continues
// a failing receiver's backoff instead of starting it over.
Status webhook_backoff_table(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS webhook_backoffs (
  webhook TEXT NOT NULL,
  repository_key TEXT NOT NULL,    -- <account>/<repository>
  next_attempt_at INTEGER NOT NULL,  -- milliseconds since the epoch
  delay_ms INTEGER NOT NULL,
  PRIMARY KEY (webhook, repository_key)
);
)sql");
}

// Version 7 -> 8: each scan's findings counted per severity beside them
// (stored_formats::severity_counts_text), so that DescribeImages' summaries
// read one row per image and no finding; filled in here from the findings.
// Safe to run again (a database set back to version 1 re-runs every step).
Status scan_severity_counts(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(
      auto q, c.prepare("SELECT 1 FROM pragma_table_info('scans') WHERE name='severity_counts'"));
  BERTH_ASSIGN_OR_RETURN(bool present, q.step());
  if (!present) {
    BERTH_RETURN_IF_ERROR(
        c.exec("ALTER TABLE scans ADD COLUMN severity_counts TEXT NOT NULL DEFAULT '0,0,0,0,0,0'"));
  }
  return c.exec(R"sql(
UPDATE scans SET severity_counts = (
  SELECT CAST(COUNT(CASE WHEN f.severity=0 THEN 1 END) AS TEXT) || ',' ||
         CAST(COUNT(CASE WHEN f.severity=1 THEN 1 END) AS TEXT) || ',' ||
         CAST(COUNT(CASE WHEN f.severity=2 THEN 1 END) AS TEXT) || ',' ||
         CAST(COUNT(CASE WHEN f.severity=3 THEN 1 END) AS TEXT) || ',' ||
         CAST(COUNT(CASE WHEN f.severity=4 THEN 1 END) AS TEXT) || ',' ||
         CAST(COUNT(CASE WHEN f.severity=5 THEN 1 END) AS TEXT)
  FROM scan_findings f WHERE f.manifest_id=scans.manifest_id);
)sql");
}

// Version 8 -> 9: usage for the cost report (meta/usage_store.h): storage samples per
// repository and per account (repository ''), and bytes sent per repository
// in hourly buckets. Times in milliseconds since the epoch.
Status usage_tables(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS usage_samples (
  account_id TEXT NOT NULL,
  repository TEXT NOT NULL,  -- '': the account, each blob and manifest once
  sampled_at INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (account_id, repository, sampled_at)
);
CREATE INDEX IF NOT EXISTS usage_samples_by_time ON usage_samples (sampled_at);
CREATE TABLE IF NOT EXISTS usage_transfer (
  account_id TEXT NOT NULL,
  repository TEXT NOT NULL,
  hour INTEGER NOT NULL,  -- the first millisecond of the hour
  bytes INTEGER NOT NULL,
  PRIMARY KEY (account_id, repository, hour)
);
)sql");
}

// Version 9 -> 10: storage quotas (meta/quota_store.h): bytes allowed per account
// (repository '') and per repository name of an account. Keyed by name, not
// by repository id, so a quota can be set before its repository exists and
// stays when the repository is deleted and created again.
Status storage_quota_table(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS storage_quotas (
  account_id TEXT NOT NULL,
  repository TEXT NOT NULL,  -- '' for the account's own quota
  bytes INTEGER NOT NULL,
  PRIMARY KEY (account_id, repository)
);
)sql");
}

// Version 10 -> 11: IAM groups (meta/identity_store.h): a group per account
// and name, its members, its inline and attached policies (the PolicyStore's,
// mirroring the user's), and user tags. A group's rows go with the group;
// users and accounts live in the identity tables, so rows name them rather
// than reference them (the identity store removes them with a user). The
// settings table is the identity store's, created here as it creates it,
// because group policy changes bump the identity generation kept there.
Status group_tables(Connection& c) {
  return c.exec(R"sql(
CREATE TABLE IF NOT EXISTS iam_groups (
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS iam_group_members (
  account_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  user_name TEXT NOT NULL,
  PRIMARY KEY (account_id, group_name, user_name),
  FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS iam_group_members_by_user ON iam_group_members (account_id, user_name);
CREATE TABLE IF NOT EXISTS group_policies (
  account_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  policy_name TEXT NOT NULL,
  policy_text TEXT NOT NULL,
  PRIMARY KEY (account_id, group_name, policy_name)
);
CREATE TABLE IF NOT EXISTS group_attached_policies (
  account_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  policy_arn TEXT NOT NULL,
  PRIMARY KEY (account_id, group_name, policy_arn)
);
CREATE TABLE IF NOT EXISTS user_tags (
  account_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (account_id, user_name, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql");
}

struct Migration {
  const char* what;
  Status (*apply)(Connection&);
};

// Append only: a released step never changes, a new one goes at the end.
constexpr Migration kMigrations[] = {
    {"create the tables", create_tables},
    {"push and pull times in milliseconds", push_and_pull_times_in_milliseconds},
    {"the event outbox", create_event_outbox},
    {"repository, registry and user policies", policy_tables},
    {"imported vulnerability advisories", advisory_tables},
    {"image scans, findings, inventories and scanning configurations", scan_tables},
    {"webhook retry schedules", webhook_backoff_table},
    {"scan findings counted per severity", scan_severity_counts},
    {"usage samples and transfer buckets", usage_tables},
    {"storage quotas", storage_quota_table},
    {"IAM groups, their members and policies, and user tags", group_tables},
};

Result<bool> has_legacy_table(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      c.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"));
  return q.step();
}

Status set_version(Connection& c, int64_t version) {
  // PRAGMA takes no parameters; the value is a number this code chose.
  BERTH_RETURN_IF_ERROR(c.exec(fmt::format("PRAGMA user_version={}", version)));
  BERTH_RETURN_IF_ERROR(
      c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  BERTH_RETURN_IF_ERROR(c.exec("DELETE FROM schema_version"));
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("INSERT INTO schema_version (version) VALUES (?1)"));
  return s.bind(1, version).run();
}

}  // namespace

int64_t latest_schema_version() {
  return static_cast<int64_t>(std::size(kMigrations));
}

namespace {

Result<int64_t> user_version(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("PRAGMA user_version"));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  return row ? q.int64(0) : int64_t{0};
}

}  // namespace

Result<int64_t> schema_version(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(int64_t version, user_version(c));
  if (version != 0) return version;
  BERTH_ASSIGN_OR_RETURN(bool legacy, has_legacy_table(c));
  if (!legacy) return int64_t{0};
  BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT max(version) FROM schema_version"));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  return row && !q.is_null(0) ? q.int64(0) : int64_t{0};
}

Result<MigrationReport> migrate(sqlite::Pool& pool, const std::string& path, int64_t target) {
  target = std::min(target, latest_schema_version());
  MigrationReport report;
  bool first = true;
  while (true) {
    bool done = false;
    Status st = pool.write([&](Connection& c) -> Status {
      BERTH_ASSIGN_OR_RETURN(int64_t version, schema_version(c));
      if (first) report.from = version;
      BERTH_ASSIGN_OR_RETURN(int64_t recorded, user_version(c));
      if (recorded == 0 && version > 0 && version <= target) {
        // A database from before user_version: its tables were created with
        // IF NOT EXISTS at every start, so create any it lacks, then record
        // its version where it is now kept.
        BERTH_RETURN_IF_ERROR(create_tables(c));
        BERTH_RETURN_IF_ERROR(set_version(c, version));
      }
      report.to = version;
      if (version > target) {
        return error(
            Code::kFailedPrecondition,
            fmt::format(
                "the database {} has schema version {}, newer than the {} this berth knows; "
                "run the berth that wrote it, or a newer one",
                path, version, target));
      }
      if (version == target) {
        done = true;
        return Status::ok();
      }
      BERTH_RETURN_IF_ERROR(kMigrations[version].apply(c));
      BERTH_RETURN_IF_ERROR(set_version(c, version + 1));
      report.to = version + 1;
      return Status::ok();
    });
    if (!st.is_ok()) return st;
    first = false;
    if (done) return report;
  }
}

}  // namespace berth::sqlite_meta
