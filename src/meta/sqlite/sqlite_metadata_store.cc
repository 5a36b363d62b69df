#include "meta/sqlite/sqlite_metadata_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include <boost/json.hpp>

namespace berth {
using sqlite::Connection;
using sqlite::Pool;
using sqlite::Statement;

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

constexpr int kRefBlob = 0;
constexpr int kRefManifest = 1;

constexpr const char* kRepoColumns =
    "id, account_id, name, created_at, tag_mutability, tag_mutability_exclusions, scan_on_push, "
    "encryption_type, kms_key, lifecycle_policy, lifecycle_evaluated_at";

RepositoryRecord read_repo(const Statement& s) {
  RepositoryRecord r;
  r.id = s.int64(0);
  r.account_id = s.text(1);
  r.name = s.text(2);
  r.created_at = s.int64(3);
  r.tag_mutability = s.text(4);
  r.tag_mutability_exclusions_json = s.text(5);
  r.scan_on_push = s.int64(6) != 0;
  r.encryption_type = s.text(7);
  r.kms_key = s.text(8);
  if (!s.is_null(9)) r.lifecycle_policy = s.text(9);
  r.lifecycle_evaluated_at = s.opt_int64(10);
  return r;
}

// Columns: digest, media_type, artifact_type, subject, annotations, bytes,
// image_size, pushed_at, last_pulled_at, id (the push sequence)
#define BERTH_MANIFEST_COLUMNS(p)                                                          \
  p "digest, " p "media_type, " p "artifact_type, " p "subject, " p "annotations, " p     \
    "bytes, " p "image_size, " p "pushed_at, " p "last_pulled_at, " p "id"

ManifestRecord read_manifest(const Statement& s, bool with_bytes = true) {
  ManifestRecord m;
  m.digest = Digest::parse(s.text(0)).value();
  m.media_type = s.text(1);
  m.artifact_type = s.text(2);
  if (!s.is_null(3)) m.subject = Digest::parse(s.text(3)).value();
  m.annotations_json = s.text(4);
  if (with_bytes) m.bytes = s.text(5);
  m.image_size = s.int64(6);
  m.pushed_at_ms = s.int64(7);
  m.last_pulled_at_ms = s.opt_int64(8);
  // The row id: INTEGER PRIMARY KEY picks one above every live row's, so it
  // grows with each push.
  m.push_sequence = s.int64(9);
  return m;
}

Result<std::optional<int64_t>> manifest_id(Connection& c, RepositoryId repo, std::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("SELECT id FROM manifests WHERE repo_id=?1 AND digest=?2"));
  s.bind(1, repo).bind(2, digest);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.int64(0));
}

Status enqueue_candidate(Connection& c, std::string_view digest, int64_t now) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("INSERT INTO gc_candidates (digest, since) VALUES (?1, ?2) "
                                           "ON CONFLICT (digest) DO NOTHING"));
  return s.bind(1, digest).bind(2, now).run();
}

// Queues the blobs a manifest refers to, before it goes. The caller passes no
// time, so they count as queued at 0 (as unlink_blob's do): every pass sees
// them, whatever its clock says.
Status enqueue_manifest_blobs(Connection& c, int64_t manifest_id) {
  BERTH_ASSIGN_OR_RETURN(
      auto s, c.prepare("INSERT INTO gc_candidates (digest, since) SELECT digest, 0 "
                        "FROM manifest_refs WHERE manifest_id=?1 AND kind=0 ON CONFLICT (digest) DO NOTHING"));
  return s.bind(1, manifest_id).run();
}

Result<bool> pending_deletion(Connection& c, std::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("SELECT 1 FROM gc_pending WHERE digest=?1"));
  s.bind(1, digest);
  return s.step();
}

Status link_blob_in(Connection& c, RepositoryId repo, const Digest& digest, int64_t size, int64_t now) {
  BERTH_ASSIGN_OR_RETURN(bool pending, pending_deletion(c, digest.str()));
  if (pending) return error(Code::kUnavailable, "the blob is being garbage collected; upload it again");
  BERTH_ASSIGN_OR_RETURN(
      auto s, c.prepare("INSERT INTO blob_links (repo_id, digest, size, linked_at) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repo_id, digest) DO UPDATE "
                        "SET linked_at=excluded.linked_at"));
  BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, size).bind(4, now).run());
  return enqueue_candidate(c, digest.str(), now);
}

Status end_blob_write_in(Connection& c, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("UPDATE blob_writes SET writers=writers-1 WHERE digest=?1"));
  BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(digest.str())).run());
  BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM blob_writes WHERE digest=?1 AND writers<=0"));
  return d.bind(1, std::string_view(digest.str())).run();
}

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

// --- repositories ------------------------------------------------------------

Result<RepositoryRecord> SqliteMetadataStore::create_repository(const RepositoryRecord& repo) {
  RepositoryRecord out = repo;
  Status st = pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO repositories (account_id, name, created_at, tag_mutability, "
                          "tag_mutability_exclusions, scan_on_push, encryption_type, kms_key) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                          "ON CONFLICT (account_id, name) DO NOTHING"));
    s.bind(1, std::string_view(repo.account_id))
        .bind(2, std::string_view(repo.name))
        .bind(3, repo.created_at)
        .bind(4, std::string_view(repo.tag_mutability))
        .bind(5, std::string_view(repo.tag_mutability_exclusions_json))
        .bind(6, int64_t{repo.scan_on_push})
        .bind(7, std::string_view(repo.encryption_type))
        .bind(8, std::string_view(repo.kms_key));
    BERTH_RETURN_IF_ERROR(s.run());
    if (c.changes() == 0) {
      return error(Code::kAlreadyExists, fmt::format("repository {} already exists", repo.name));
    }
    out.id = c.last_insert_rowid();
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return out;
}

Result<RepositoryRecord> SqliteMetadataStore::get_repository(std::string_view account_id,
                                                             std::string_view name) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql =
      fmt::format("SELECT {} FROM repositories WHERE account_id=?1 AND name=?2", kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, account_id).bind(2, name);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNameUnknown, fmt::format("repository {} not found", name));
  return read_repo(s);
}

Result<RepositoryRecord> SqliteMetadataStore::ensure_repository(std::string_view account_id,
                                                                std::string_view name, int64_t now) {
  auto existing = get_repository(account_id, name);
  if (existing.is_ok() || existing.status().code() != Code::kNameUnknown) return existing;
  RepositoryRecord r;
  r.account_id = std::string(account_id);
  r.name = std::string(name);
  r.created_at = now;
  auto created = create_repository(r);
  if (!created.is_ok() && created.status().code() == Code::kAlreadyExists) {
    return get_repository(account_id, name);  // lost a race with another creator
  }
  return created;
}

Result<std::vector<RepositoryRecord>> SqliteMetadataStore::list_repositories(
    std::string_view account_id, const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE account_id=?1 AND name>?2 ORDER BY name LIMIT ?3",
      kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, account_id)
      .bind(2, std::string_view(page.after))
      .bind(3, page.limit == 0 ? int64_t{-1} : static_cast<int64_t>(page.limit));
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status SqliteMetadataStore::update_repository(const RepositoryRecord& repo) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("UPDATE repositories SET tag_mutability=?2, tag_mutability_exclusions=?3, "
                          "scan_on_push=?4 WHERE id=?1"));
    s.bind(1, repo.id)
        .bind(2, std::string_view(repo.tag_mutability))
        .bind(3, std::string_view(repo.tag_mutability_exclusions_json))
        .bind(4, int64_t{repo.scan_on_push});
    BERTH_RETURN_IF_ERROR(s.run());
    if (c.changes() == 0) return error(Code::kNameUnknown, "repository not found");
    return Status::ok();
  });
}

Status SqliteMetadataStore::delete_repository(RepositoryId id, bool force) {
  return pool_->write([&](Connection& c) -> Status {
    if (!force) {
      BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM manifests WHERE repo_id=?1 LIMIT 1"));
      q.bind(1, id);
      BERTH_ASSIGN_OR_RETURN(bool any, q.step());
      if (any) {
        return error(Code::kRepositoryNotEmpty,
                     "the repository contains images; delete them first or use force");
      }
    }
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("INSERT INTO gc_candidates (digest, since) SELECT digest, 0 FROM blob_links "
                          "WHERE repo_id=?1 ON CONFLICT (digest) DO NOTHING"));
    BERTH_RETURN_IF_ERROR(q.bind(1, id).run());
    // Children first: tags and refs cascade from manifests.
    for (const char* sql : {"DELETE FROM tags WHERE repo_id=?1", "DELETE FROM manifests WHERE repo_id=?1",
                            "DELETE FROM resource_tags WHERE repo_id=?1",
                            "DELETE FROM blob_links WHERE repo_id=?1", "DELETE FROM uploads WHERE repo_id=?1",
                            "DELETE FROM repositories WHERE id=?1"}) {
      BERTH_ASSIGN_OR_RETURN(auto s, c.prepare(sql));
      BERTH_RETURN_IF_ERROR(s.bind(1, id).run());
    }
    if (c.changes() == 0) return error(Code::kNameUnknown, "repository not found");
    return Status::ok();
  });
}

// --- blobs ---------------------------------------------------------------------

Status SqliteMetadataStore::link_blob(RepositoryId repo, const Digest& digest, int64_t size,
                                      int64_t now) {
  return pool_->write([&](Connection& c) { return link_blob_in(c, repo, digest, size, now); });
}

Result<BlobLink> SqliteMetadataStore::get_blob_link(RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT size FROM blob_links WHERE repo_id=?1 AND digest=?2"));
  s.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kBlobUnknown, "blob unknown to registry");
  return BlobLink{digest, s.int64(0)};
}

Status SqliteMetadataStore::unlink_blob(RepositoryId repo, const Digest& digest) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM blob_links WHERE repo_id=?1 AND digest=?2"));
    BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, std::string_view(digest.str())).run());
    if (c.changes() == 0) return error(Code::kBlobUnknown, "blob unknown to registry");
    return enqueue_candidate(c, digest.str(), 0);
  });
}

Result<std::vector<RepositoryId>> SqliteMetadataStore::repositories_with_blob(
    std::string_view account_id, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT b.repo_id FROM blob_links b JOIN repositories r ON r.id=b.repo_id "
                             "WHERE b.digest=?1 AND r.account_id=?2 ORDER BY r.name"));
  s.bind(1, std::string_view(digest.str())).bind(2, account_id);
  return s.collect<RepositoryId>([](const Statement& row) { return row.int64(0); });
}

Result<std::vector<BlobLink>> SqliteMetadataStore::linked_blobs() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT digest, max(size) FROM blob_links GROUP BY digest ORDER BY digest"));
  std::vector<BlobLink> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    auto d = Digest::parse(s.text(0));
    if (d) out.push_back(BlobLink{std::move(d).value(), s.int64(1)});
  }
  return out;
}

// --- uploads -----------------------------------------------------------------------

Status SqliteMetadataStore::create_upload(const UploadRecord& upload) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO uploads (id, repo_id, started_at) VALUES (?1, ?2, ?3)"));
    return s.bind(1, std::string_view(upload.id)).bind(2, upload.repository).bind(3, upload.started_at).run();
  }, Pool::Commit::kVisible);
}

Result<UploadRecord> SqliteMetadataStore::get_upload(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT repo_id, started_at FROM uploads WHERE id=?1"));
  s.bind(1, id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
  return UploadRecord{std::string(id), s.int64(0), s.int64(1)};
}

Status SqliteMetadataStore::delete_upload(std::string_view id) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM uploads WHERE id=?1"));
    return s.bind(1, id).run();
  }, Pool::Commit::kVisible);
}

Status SqliteMetadataStore::acquire_upload_lease(std::string_view id, std::string_view holder, int64_t now,
                                                 int64_t until) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("UPDATE uploads SET lease_holder=?2, lease_until=?4 WHERE id=?1 AND "
                          "(lease_holder IS NULL OR lease_holder=?2 OR lease_until<?3)"));
    BERTH_RETURN_IF_ERROR(s.bind(1, id).bind(2, holder).bind(3, now).bind(4, until).run());
    if (c.changes() == 1) return Status::ok();
    BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM uploads WHERE id=?1"));
    q.bind(1, id);
    BERTH_ASSIGN_OR_RETURN(bool exists, q.step());
    if (!exists) return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
    return error(Code::kBlobUploadInvalid, "another request is writing to this upload");
  }, Pool::Commit::kVisible);
}

Status SqliteMetadataStore::release_upload_lease(std::string_view id, std::string_view holder) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("UPDATE uploads SET lease_holder=NULL, lease_until=0 WHERE id=?1 AND lease_holder=?2"));
    return s.bind(1, id).bind(2, holder).run();
  }, Pool::Commit::kVisible);
}

Result<std::vector<UploadRecord>> SqliteMetadataStore::uploads_started_before(int64_t when) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT id, repo_id, started_at FROM uploads WHERE started_at<?1"));
  s.bind(1, when);
  return s.collect<UploadRecord>(
      [](const Statement& row) { return UploadRecord{row.text(0), row.int64(1), row.int64(2)}; });
}

// --- manifests ------------------------------------------------------------------------

Status SqliteMetadataStore::put_manifest(const PutManifestRequest& req) {
  const ManifestRecord& m = req.manifest;
  return pool_->write([&](Connection& c) -> Status {
    if (req.refuse_existing) {
      BERTH_ASSIGN_OR_RETURN(auto present, manifest_id(c, req.repository, m.digest.str()));
      bool same = present.has_value();
      if (same && req.tag) {
        BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM tags WHERE repo_id=?1 AND name=?2 AND manifest_id=?3"));
        q.bind(1, req.repository).bind(2, std::string_view(*req.tag)).bind(3, *present);
        BERTH_ASSIGN_OR_RETURN(same, q.step());
      }
      if (same) return error(Code::kAlreadyExists, fmt::format("manifest {} already exists", m.digest.str()));
    }
    for (const Digest& b : req.references.blobs) {
      BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM blob_links WHERE repo_id=?1 AND digest=?2"));
      q.bind(1, req.repository).bind(2, std::string_view(b.str()));
      BERTH_ASSIGN_OR_RETURN(bool row, q.step());
      if (!row) {
        return error(Code::kManifestBlobUnknown,
                     fmt::format("blob {} is not in the repository", b.str()));
      }
    }
    for (const Digest& child : req.references.manifests) {
      BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, req.repository, child.str()));
      if (!id) {
        return error(Code::kManifestUnknown,
                     fmt::format("manifest {} is not in the repository", child.str()));
      }
    }
    BERTH_ASSIGN_OR_RETURN(auto existing, manifest_id(c, req.repository, m.digest.str()));
    int64_t id;
    if (existing) {
      id = *existing;
    } else {
      BERTH_ASSIGN_OR_RETURN(
          auto ins,
          c.prepare("INSERT INTO manifests (repo_id, digest, media_type, artifact_type, subject, "
                    "annotations, bytes, image_size, pushed_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"));
      ins.bind(1, req.repository)
          .bind(2, std::string_view(m.digest.str()))
          .bind(3, std::string_view(m.media_type))
          .bind(4, std::string_view(m.artifact_type))
          .bind(5, m.subject ? std::optional<std::string>(m.subject->str()) : std::nullopt)
          .bind(6, std::string_view(m.annotations_json))
          .bind_blob(7, m.bytes)
          .bind(8, m.image_size)
          .bind(9, m.pushed_at_ms);
      BERTH_RETURN_IF_ERROR(ins.run());
      id = c.last_insert_rowid();
      auto add_ref = [&](int kind, const Digest& d) -> Status {
        BERTH_ASSIGN_OR_RETURN(
            auto r, c.prepare("INSERT OR IGNORE INTO manifest_refs (manifest_id, repo_id, kind, digest) "
                              "VALUES (?1, ?2, ?3, ?4)"));
        return r.bind(1, id).bind(2, req.repository).bind(3, int64_t{kind}).bind(4, std::string_view(d.str())).run();
      };
      for (const Digest& b : req.references.blobs) BERTH_RETURN_IF_ERROR(add_ref(kRefBlob, b));
      for (const Digest& d : req.references.manifests) BERTH_RETURN_IF_ERROR(add_ref(kRefManifest, d));
    }
    if (!req.tag) return Status::ok();
    if (req.tag_immutable) {
      BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT manifest_id FROM tags WHERE repo_id=?1 AND name=?2"));
      q.bind(1, req.repository).bind(2, std::string_view(*req.tag));
      BERTH_ASSIGN_OR_RETURN(bool row, q.step());
      if (row && q.int64(0) != id) {
        return error(Code::kTagImmutable,
                     fmt::format("the tag '{}' already exists and cannot be overwritten because the "
                                 "repository is immutable",
                                 *req.tag));
      }
    }
    BERTH_ASSIGN_OR_RETURN(
        auto t, c.prepare("INSERT INTO tags (repo_id, name, manifest_id, updated_at) VALUES (?1,?2,?3,?4) "
                          "ON CONFLICT (repo_id, name) DO UPDATE SET manifest_id=excluded.manifest_id, "
                          "updated_at=excluded.updated_at WHERE manifest_id<>excluded.manifest_id"));
    return t.bind(1, req.repository).bind(2, std::string_view(*req.tag)).bind(3, id).bind(4, m.pushed_at_ms / 1000).run();
  });
}

Result<ManifestRecord> SqliteMetadataStore::get_manifest(RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT " BERTH_MANIFEST_COLUMNS("") " FROM manifests WHERE repo_id=?1 AND digest=?2"));
  s.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kManifestUnknown, "manifest unknown to registry");
  return read_manifest(s);
}

Result<ManifestRecord> SqliteMetadataStore::get_manifest_by_tag(RepositoryId repo, std::string_view tag) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT " BERTH_MANIFEST_COLUMNS("m.") " FROM tags t JOIN manifests m "
                             "ON m.id=t.manifest_id WHERE t.repo_id=?1 AND t.name=?2"));
  s.bind(1, repo).bind(2, tag);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kManifestUnknown, fmt::format("manifest tagged '{}' not found", tag));
  return read_manifest(s);
}

Result<ResolvedManifest> SqliteMetadataStore::resolve_manifest(std::string_view account_id,
                                                               std::string_view repo_name, const Digest* digest,
                                                               std::string_view tag) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  // The repository row always comes back when it exists; the manifest
  // columns are NULL when it lacks the manifest, which tells the two errors
  // apart without a second read.
  static constexpr const char* kByDigest =
      "SELECT " BERTH_MANIFEST_COLUMNS("m.") ", r.id FROM repositories r "
      "LEFT JOIN manifests m ON m.repo_id=r.id AND m.digest=?3 WHERE r.account_id=?1 AND r.name=?2";
  static constexpr const char* kByTag =
      "SELECT " BERTH_MANIFEST_COLUMNS("m.") ", r.id FROM repositories r "
      "LEFT JOIN tags t ON t.repo_id=r.id AND t.name=?3 LEFT JOIN manifests m ON m.id=t.manifest_id "
      "WHERE r.account_id=?1 AND r.name=?2";
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(digest != nullptr ? kByDigest : kByTag));
  s.bind(1, account_id).bind(2, repo_name);
  if (digest != nullptr) {
    s.bind(3, std::string_view(digest->str()));
  } else {
    s.bind(3, tag);
  }
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNameUnknown, fmt::format("repository {} not found", repo_name));
  if (s.is_null(0)) {
    if (digest != nullptr) return error(Code::kManifestUnknown, "manifest unknown to registry");
    return error(Code::kManifestUnknown, fmt::format("manifest tagged '{}' not found", tag));
  }
  return ResolvedManifest{s.int64(10), read_manifest(s)};
}

Status SqliteMetadataStore::delete_manifest(RepositoryId repo, const Digest& digest) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest.str()));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT m.digest FROM manifest_refs r JOIN manifests m ON m.id=r.manifest_id "
                          "WHERE r.repo_id=?1 AND r.kind=1 AND r.digest=?2 LIMIT 1"));
    q.bind(1, repo).bind(2, std::string_view(digest.str()));
    BERTH_ASSIGN_OR_RETURN(bool referenced, q.step());
    if (referenced) {
      return error(Code::kManifestReferenced,
                   fmt::format("manifest is referenced by index {}; delete the index first", q.text(0)));
    }
    BERTH_RETURN_IF_ERROR(enqueue_manifest_blobs(c, *id));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM manifests WHERE id=?1"));
    return d.bind(1, *id).run();
  });
}

Status SqliteMetadataStore::delete_tag(RepositoryId repo, std::string_view tag) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM tags WHERE repo_id=?1 AND name=?2"));
    BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, tag).run());
    if (c.changes() == 0) return error(Code::kManifestUnknown, fmt::format("tag '{}' not found", tag));
    return Status::ok();
  });
}

Result<ImageDeletion> SqliteMetadataStore::delete_image(RepositoryId repo, const Digest& digest,
                                                       std::optional<std::string_view> tag) {
  ImageDeletion out;
  Status st = pool_->write([&](Connection& c) -> Status {
    out = ImageDeletion{};
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest.str()));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(auto t, c.prepare("SELECT name FROM tags WHERE manifest_id=?1 ORDER BY name"));
    t.bind(1, *id);
    BERTH_ASSIGN_OR_RETURN(out.tags, t.collect<std::string>([](const Statement& row) { return row.text(0); }));
    if (tag) {
      BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM tags WHERE repo_id=?1 AND name=?2 AND manifest_id=?3"));
      BERTH_RETURN_IF_ERROR(d.bind(1, repo).bind(2, *tag).bind(3, *id).run());
      if (c.changes() == 0) return error(Code::kManifestUnknown, fmt::format("tag '{}' not found", *tag));
      if (out.tags.size() > 1) return Status::ok();
    }
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT m.digest FROM manifest_refs r JOIN manifests m ON m.id=r.manifest_id "
                          "WHERE r.repo_id=?1 AND r.kind=1 AND r.digest=?2 LIMIT 1"));
    q.bind(1, repo).bind(2, std::string_view(digest.str()));
    BERTH_ASSIGN_OR_RETURN(bool referenced, q.step());
    if (referenced) {
      if (!tag) {
        return error(Code::kManifestReferenced,
                     fmt::format("manifest is referenced by index {}; delete the index first", q.text(0)));
      }
      auto index = Digest::parse(q.text(0));
      if (index) out.kept_for_index = std::move(index).value();
      return Status::ok();
    }
    BERTH_RETURN_IF_ERROR(enqueue_manifest_blobs(c, *id));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM manifests WHERE id=?1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, *id).run());
    out.manifest_deleted = true;
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return out;
}

Result<std::vector<std::string>> SqliteMetadataStore::list_tags(RepositoryId repo, const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT name FROM tags WHERE repo_id=?1 AND name>?2 ORDER BY name LIMIT ?3"));
  s.bind(1, repo)
      .bind(2, std::string_view(page.after))
      .bind(3, page.limit == 0 ? int64_t{-1} : static_cast<int64_t>(page.limit));
  return s.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Result<std::vector<ReferrerRecord>> SqliteMetadataStore::list_referrers(
    RepositoryId repo, const Digest& subject, std::optional<std::string_view> artifact_type) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT digest, media_type, artifact_type, length(bytes), annotations "
                             "FROM manifests WHERE repo_id=?1 AND subject=?2 "
                             "AND (?3 IS NULL OR artifact_type=?3) ORDER BY digest"));
  s.bind(1, repo).bind(2, std::string_view(subject.str()));
  if (artifact_type) {
    s.bind(3, *artifact_type);
  } else {
    s.bind_null(3);
  }
  return s.collect<ReferrerRecord>(
      [](const Statement& row) {
        return ReferrerRecord{Digest::parse(row.text(0)).value(), row.text(1), row.text(2), row.int64(3), row.text(4)};
      });
}

Result<std::vector<ImageRecord>> SqliteMetadataStore::list_images(RepositoryId repo, const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT " BERTH_MANIFEST_COLUMNS("") " FROM manifests WHERE repo_id=?1 "
                             "AND digest>?2 ORDER BY digest LIMIT ?3"));
  s.bind(1, repo)
      .bind(2, std::string_view(page.after))
      .bind(3, page.limit == 0 ? int64_t{-1} : static_cast<int64_t>(page.limit));
  std::vector<ImageRecord> out;
  std::map<int64_t, size_t> by_id;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    by_id[s.int64(9)] = out.size();
    out.push_back(ImageRecord{read_manifest(s, false), {}, {}});
  }
  if (out.empty()) return out;
  BERTH_ASSIGN_OR_RETURN(
      auto t, lease->prepare("SELECT t.manifest_id, t.name FROM tags t JOIN manifests m ON m.id=t.manifest_id "
                             "WHERE t.repo_id=?1 AND m.digest>?2 AND m.digest<=?3 ORDER BY t.name"));
  t.bind(1, repo).bind(2, std::string_view(page.after)).bind(3, std::string_view(out.back().manifest.digest.str()));
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, t.step());
    if (!row) break;
    auto it = by_id.find(t.int64(0));
    if (it != by_id.end()) out[it->second].tags.push_back(t.text(1));
  }
  BERTH_ASSIGN_OR_RETURN(
      auto r, lease->prepare("SELECT r.manifest_id, r.digest FROM manifest_refs r JOIN manifests m ON m.id=r.manifest_id "
                             "WHERE m.repo_id=?1 AND r.kind=1 AND m.digest>?2 AND m.digest<=?3"));
  r.bind(1, repo).bind(2, std::string_view(page.after)).bind(3, std::string_view(out.back().manifest.digest.str()));
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, r.step());
    if (!row) break;
    auto it = by_id.find(r.int64(0));
    auto d = Digest::parse(r.text(1));
    if (it != by_id.end() && d) out[it->second].children.push_back(std::move(d).value());
  }
  return out;
}

Result<std::vector<std::string>> SqliteMetadataStore::tags_for_manifest(RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT t.name FROM tags t JOIN manifests m ON m.id=t.manifest_id "
                             "WHERE m.repo_id=?1 AND m.digest=?2 ORDER BY t.name"));
  s.bind(1, repo).bind(2, std::string_view(digest.str()));
  return s.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteMetadataStore::get_resource_tags(RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT key, value FROM resource_tags WHERE repo_id=?1 ORDER BY key"));
  s.bind(1, repo);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out.emplace_back(s.text(0), s.text(1));
  }
  return out;
}

Result<std::vector<RepositoryRecord>> SqliteMetadataStore::repositories_with_resource_tag(std::string_view key,
                                                                                         std::string_view value) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE id IN (SELECT repo_id FROM resource_tags WHERE key=?1 AND value=?2) "
      "ORDER BY account_id, name",
      kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, key).bind(2, value);
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status SqliteMetadataStore::set_resource_tags(RepositoryId repo,
                                              const std::vector<std::pair<std::string, std::string>>& tags) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM resource_tags WHERE repo_id=?1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, repo).run());
    for (const auto& [k, v] : tags) {
      BERTH_ASSIGN_OR_RETURN(auto i, c.prepare("INSERT OR REPLACE INTO resource_tags (repo_id, key, value) VALUES (?1,?2,?3)"));
      BERTH_RETURN_IF_ERROR(i.bind(1, repo).bind(2, std::string_view(k)).bind(3, std::string_view(v)).run());
    }
    return Status::ok();
  });
}

Status SqliteMetadataStore::record_pull(RepositoryId repo, const Digest& digest, int64_t when_ms) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("UPDATE manifests SET last_pulled_at=?3 WHERE repo_id=?1 AND digest=?2 "
                          "AND (last_pulled_at IS NULL OR last_pulled_at<?3)"));
    return s.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, when_ms).run();
  }, Pool::Commit::kVisible);
}

// --- lifecycle ----------------------------------------------------------------------

Status SqliteMetadataStore::set_lifecycle_policy(RepositoryId repo, const std::optional<std::string>& text) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("UPDATE repositories SET lifecycle_policy=?2 WHERE id=?1"));
    BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, text).run());
    if (c.changes() == 0) return error(Code::kNameUnknown, "repository not found");
    return Status::ok();
  });
}

Status SqliteMetadataStore::mark_lifecycle_evaluated(RepositoryId repo, int64_t when) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("UPDATE repositories SET lifecycle_evaluated_at=?2 WHERE id=?1"));
    return s.bind(1, repo).bind(2, when).run();
  });
}

Result<std::vector<RepositoryRecord>> SqliteMetadataStore::repositories_with_lifecycle_policy() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE lifecycle_policy IS NOT NULL ORDER BY account_id, name", kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status SqliteMetadataStore::put_lifecycle_preview(RepositoryId repo, const LifecyclePreviewRecord& p) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT OR REPLACE INTO lifecycle_previews (repo_id, policy_text, status, results, created_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)"));
    return s.bind(1, repo)
        .bind(2, std::string_view(p.policy_text))
        .bind(3, std::string_view(p.status))
        .bind(4, std::string_view(p.results_json))
        .bind(5, p.created_at)
        .run();
  });
}

Result<LifecyclePreviewRecord> SqliteMetadataStore::get_lifecycle_preview(RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT policy_text, status, results, created_at FROM lifecycle_previews WHERE repo_id=?1"));
  s.bind(1, repo);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kLifecyclePolicyPreviewNotFound, "no lifecycle policy preview was started");
  return LifecyclePreviewRecord{s.text(0), s.text(1), s.text(2), s.int64(3)};
}

Status SqliteMetadataStore::expire_manifest(RepositoryId repo, const Digest& digest,
                                            const std::vector<std::string>& expected_tags) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest.str()));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(auto t, c.prepare("SELECT name FROM tags WHERE manifest_id=?1 ORDER BY name"));
    t.bind(1, *id);
    std::vector<std::string> tags;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, t.step());
      if (!row) break;
      tags.push_back(t.text(0));
    }
    std::vector<std::string> expected = expected_tags;
    std::sort(expected.begin(), expected.end());
    if (tags != expected) return error(Code::kFailedPrecondition, "the image's tags changed since it was chosen");
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT 1 FROM manifest_refs WHERE repo_id=?1 AND kind=1 AND digest=?2 LIMIT 1"));
    q.bind(1, repo).bind(2, std::string_view(digest.str()));
    BERTH_ASSIGN_OR_RETURN(bool referenced, q.step());
    if (referenced) return error(Code::kManifestReferenced, "an index still lists the manifest");
    BERTH_RETURN_IF_ERROR(enqueue_manifest_blobs(c, *id));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM manifests WHERE id=?1"));
    return d.bind(1, *id).run();
  });
}

Status SqliteMetadataStore::record_expirations(const std::vector<ExpirationRecord>& expirations) {
  if (expirations.empty()) return Status::ok();
  return pool_->write([&](Connection& c) -> Status {
    for (const auto& e : expirations) {
      BERTH_ASSIGN_OR_RETURN(
          auto s, c.prepare("INSERT INTO lifecycle_expirations (account_id, repository, digest, tags, rule_priority, "
                            "expired_at) VALUES ((SELECT account_id FROM repositories WHERE name=?1 LIMIT 1), ?1, ?2, ?3, ?4, ?5)"));
      boost::json::array tags;
      for (const auto& t : e.tags) tags.emplace_back(t);
      std::string tags_json = boost::json::serialize(tags);
      BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(e.repository))
                                .bind(2, std::string_view(e.digest.str()))
                                .bind(3, std::string_view(tags_json))
                                .bind(4, int64_t{e.rule_priority})
                                .bind(5, e.expired_at)
                                .run());
    }
    return Status::ok();
  });
}

Result<std::vector<ExpirationRecord>> SqliteMetadataStore::list_expirations(std::string_view account_id, size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT repository, digest, tags, rule_priority, expired_at FROM lifecycle_expirations "
                             "WHERE ?1='' OR account_id=?1 ORDER BY id DESC LIMIT ?2"));
  s.bind(1, account_id).bind(2, static_cast<int64_t>(limit));
  std::vector<ExpirationRecord> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    ExpirationRecord e;
    e.repository = s.text(0);
    auto d = Digest::parse(s.text(1));
    if (d) e.digest = *d;
    boost::system::error_code ec;
    auto tags = boost::json::parse(s.text(2), ec);
    if (!ec && tags.is_array()) {
      for (const auto& t : tags.as_array()) {
        if (t.is_string()) e.tags.emplace_back(t.as_string());
      }
    }
    e.rule_priority = static_cast<int>(s.int64(3));
    e.expired_at = s.int64(4);
    out.push_back(std::move(e));
  }
  return out;
}

// --- garbage collection ----------------------------------------------------------------

Result<std::vector<GcCandidate>> SqliteMetadataStore::gc_candidates(int64_t queued_before, size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT digest, since FROM gc_candidates WHERE since<?1 ORDER BY since LIMIT ?2"));
  s.bind(1, queued_before).bind(2, static_cast<int64_t>(limit));
  std::vector<GcCandidate> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    auto d = Digest::parse(s.text(0));
    if (d) out.push_back(GcCandidate{std::move(d).value(), s.int64(1)});
  }
  return out;
}

Status SqliteMetadataStore::gc_enqueue(const std::vector<Digest>& digests, int64_t now) {
  return pool_->write([&](Connection& c) -> Status {
    for (const auto& d : digests) BERTH_RETURN_IF_ERROR(enqueue_candidate(c, d.str(), now));
    return Status::ok();
  });
}

Result<std::optional<int64_t>> SqliteMetadataStore::gc_claim(const Digest& digest, int64_t linked_before,
                                                             int64_t writes_after, bool dry_run) {
  std::optional<int64_t> claimed;
  Status st = pool_->write([&](Connection& c) -> Status {
    const std::string_view d = digest.str();
    // Only a queued candidate can be claimed: a concurrent pass that claimed
    // it first removed it from the queue.
    BERTH_ASSIGN_OR_RETURN(auto queued, c.prepare("SELECT 1 FROM gc_candidates WHERE digest=?1"));
    queued.bind(1, d);
    BERTH_ASSIGN_OR_RETURN(bool is_candidate, queued.step());
    if (!is_candidate) return Status::ok();
    auto keep = [&]() -> Status {
      if (dry_run) return Status::ok();
      BERTH_ASSIGN_OR_RETURN(auto del, c.prepare("DELETE FROM gc_candidates WHERE digest=?1"));
      return del.bind(1, d).run();
    };
    BERTH_ASSIGN_OR_RETURN(auto refs, c.prepare("SELECT 1 FROM manifest_refs WHERE kind=0 AND digest=?1 LIMIT 1"));
    refs.bind(1, d);
    BERTH_ASSIGN_OR_RETURN(bool referenced, refs.step());
    if (referenced) return keep();
    BERTH_ASSIGN_OR_RETURN(auto young, c.prepare("SELECT 1 FROM blob_links WHERE digest=?1 AND linked_at>=?2 LIMIT 1"));
    young.bind(1, d).bind(2, linked_before);
    BERTH_ASSIGN_OR_RETURN(bool is_young, young.step());
    if (is_young) return Status::ok();  // stays a candidate until its grace ends
    BERTH_ASSIGN_OR_RETURN(auto writing, c.prepare("SELECT 1 FROM blob_writes WHERE digest=?1 AND started_at>=?2"));
    writing.bind(1, d).bind(2, writes_after);
    BERTH_ASSIGN_OR_RETURN(bool is_writing, writing.step());
    if (is_writing) return Status::ok();
    BERTH_ASSIGN_OR_RETURN(auto size, c.prepare("SELECT max(size) FROM blob_links WHERE digest=?1"));
    size.bind(1, d);
    BERTH_ASSIGN_OR_RETURN(bool row, size.step());
    claimed = row && !size.is_null(0) ? size.int64(0) : 0;
    if (dry_run) return Status::ok();
    for (const char* sql : {"DELETE FROM blob_links WHERE digest=?1", "DELETE FROM gc_candidates WHERE digest=?1",
                            "DELETE FROM blob_writes WHERE digest=?1",
                            "INSERT OR REPLACE INTO gc_pending (digest, since) VALUES (?1, CAST(strftime('%s','now') AS INTEGER))"}) {
      BERTH_ASSIGN_OR_RETURN(auto s, c.prepare(sql));
      BERTH_RETURN_IF_ERROR(s.bind(1, d).run());
    }
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return claimed;
}

Result<std::vector<Digest>> SqliteMetadataStore::gc_drop_referenced(const std::vector<Digest>& digests) {
  std::vector<Digest> dropped;
  Status st = pool_->write([&](Connection& c) -> Status {
    dropped.clear();
    for (const auto& d : digests) {
      BERTH_ASSIGN_OR_RETURN(
          auto s, c.prepare("DELETE FROM gc_candidates WHERE digest=?1 AND EXISTS "
                            "(SELECT 1 FROM manifest_refs WHERE kind=0 AND digest=?1)"));
      BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(d.str())).run());
      if (c.changes() > 0) dropped.push_back(d);
    }
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return dropped;
}

Status SqliteMetadataStore::gc_release(const Digest& digest) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM gc_pending WHERE digest=?1"));
    return s.bind(1, std::string_view(digest.str())).run();
  });
}

Result<std::vector<Digest>> SqliteMetadataStore::gc_pending() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT digest FROM gc_pending"));
  std::vector<Digest> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    auto d = Digest::parse(s.text(0));
    if (d) out.push_back(std::move(d).value());
  }
  return out;
}

Status SqliteMetadataStore::begin_blob_write(const Digest& digest, int64_t now) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(bool pending, pending_deletion(c, digest.str()));
    if (pending) return error(Code::kUnavailable, "the blob is being garbage collected; retry the upload");
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO blob_writes (digest, writers, started_at) VALUES (?1, 1, ?2) "
                          "ON CONFLICT (digest) DO UPDATE SET writers=writers+1, started_at=excluded.started_at"));
    return s.bind(1, std::string_view(digest.str())).bind(2, now).run();
  }, Pool::Commit::kVisible);
}

Status SqliteMetadataStore::end_blob_write(const Digest& digest) {
  return pool_->write([&](Connection& c) { return end_blob_write_in(c, digest); }, Pool::Commit::kVisible);
}

Status SqliteMetadataStore::complete_upload(RepositoryId repo, const Digest& digest, int64_t size,
                                            std::string_view upload_id, int64_t now) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(link_blob_in(c, repo, digest, size, now));
    BERTH_RETURN_IF_ERROR(end_blob_write_in(c, digest));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM uploads WHERE id=?1"));
    return d.bind(1, upload_id).run();
  });
}

Result<std::vector<RepositoryUsage>> SqliteMetadataStore::repository_usage(std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT r.name, COALESCE((SELECT SUM(size) FROM blob_links b WHERE b.repo_id=r.id), 0) + "
                             "COALESCE((SELECT SUM(length(bytes)) FROM manifests m WHERE m.repo_id=r.id), 0) "
                             "FROM repositories r WHERE r.account_id=?1 ORDER BY r.name"));
  s.bind(1, account_id);
  return s.collect<RepositoryUsage>(
      [](const Statement& row) { return RepositoryUsage{row.text(0), row.int64(1)}; });
}

Result<int64_t> SqliteMetadataStore::account_usage(std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT COALESCE((SELECT SUM(size) FROM (SELECT DISTINCT b.digest, b.size FROM blob_links b "
                             "JOIN repositories r ON r.id=b.repo_id WHERE r.account_id=?1)), 0) + "
                             "COALESCE((SELECT SUM(n) FROM (SELECT DISTINCT m.digest, length(m.bytes) AS n FROM manifests m "
                             "JOIN repositories r ON r.id=m.repo_id WHERE r.account_id=?1)), 0)"));
  s.bind(1, account_id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.int64(0) : int64_t{0};
}

}  // namespace berth
