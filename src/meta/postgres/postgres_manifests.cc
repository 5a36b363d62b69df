// PostgresMetadataStore: the ManifestStore role (meta/manifest_store.h).
#include "meta/postgres/postgres_metadata_store.h"

#include <fmt/format.h>

#include <map>

#include "meta/postgres/postgres_metadata_rows.h"

namespace berth {
using pg::Connection;
using pg::Pool;
using pg::Statement;
using pg_meta::annotations_from_json;
using pg_meta::annotations_to_json;
using pg_meta::enqueue_manifest_blobs;
using pg_meta::kRefBlob;
using pg_meta::kRefManifest;
using pg_meta::manifest_id;

namespace {

// Columns: digest, media_type, artifact_type, subject, annotations, bytes,
// image_size, pushed_at, last_pulled_at, id (the push sequence)
#define BERTH_MANIFEST_COLUMNS(p)                                                                 \
  p "digest, " p "media_type, " p "artifact_type, " p "subject, " p "annotations, " p "bytes, " p \
    "image_size, " p "pushed_at, " p "last_pulled_at, " p "id"

ManifestRecord read_manifest(const Statement& s, bool with_bytes = true) {
  ManifestRecord m;
  m.digest = Digest::parse(s.text(0)).value();
  m.media_type = s.text(1);
  m.artifact_type = s.text(2);
  if (!s.is_null(3)) m.subject = Digest::parse(s.text(3)).value();
  m.annotations = annotations_from_json(s.text(4));
  if (with_bytes) m.bytes = s.bytes(5);
  m.image_size = s.int64(6);
  m.pushed_at_ms = s.int64(7);
  m.last_pulled_at_ms = s.opt_int64(8);
  // The row id: INTEGER PRIMARY KEY picks one above every live row's, so it
  // grows with each push.
  m.push_sequence = s.int64(9);
  return m;
}

// The tags pointing at manifest `id`, in byte order.
Result<std::vector<std::string>> tags_of(Connection& c, int64_t id) {
  BERTH_ASSIGN_OR_RETURN(
      auto t, c.prepare("SELECT name FROM tags WHERE manifest_id=$1 ORDER BY name COLLATE \"C\""));
  t.bind(1, id);
  return t.collect<std::string>([](const Statement& row) { return row.text(0); });
}

}  // namespace

Status PostgresMetadataStore::put_manifest(const PutManifestRequest& req) {
  const ManifestRecord& m = req.manifest;
  const std::string annotations = annotations_to_json(m.annotations);
  return pool_->write([&](Connection& c) -> Status {
    if (req.refuse_existing) {
      BERTH_ASSIGN_OR_RETURN(auto present, manifest_id(c, req.repository, m.digest.str()));
      bool same = present.has_value();
      if (same && req.tag) {
        BERTH_ASSIGN_OR_RETURN(
            auto q,
            c.prepare("SELECT 1 FROM tags WHERE repo_id=$1 AND name=$2 AND manifest_id=$3"));
        q.bind(1, req.repository).bind(2, std::string_view(*req.tag)).bind(3, *present);
        BERTH_ASSIGN_OR_RETURN(same, q.step());
      }
      if (same)
        return error(Code::kAlreadyExists,
                     fmt::format("manifest {} already exists", m.digest.str()));
    }
    for (const Digest& b : req.references.blobs) {
      BERTH_ASSIGN_OR_RETURN(auto q,
                             c.prepare("SELECT 1 FROM blob_links WHERE repo_id=$1 AND digest=$2"));
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
      BERTH_RETURN_IF_ERROR(pg_meta::check_quota_in(c, req.repository,
                                                    pg_meta::QuotaItem::kManifest, m.digest.str(),
                                                    static_cast<int64_t>(m.bytes.size())));
      BERTH_ASSIGN_OR_RETURN(
          auto ins,
          c.prepare("INSERT INTO manifests (repo_id, digest, media_type, artifact_type, subject, "
                    "annotations, bytes, image_size, pushed_at) VALUES "
                    "($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id"));
      ins.bind(1, req.repository)
          .bind(2, std::string_view(m.digest.str()))
          .bind(3, std::string_view(m.media_type))
          .bind(4, std::string_view(m.artifact_type))
          .bind(5, m.subject ? std::optional<std::string>(m.subject->str()) : std::nullopt)
          .bind(6, std::string_view(annotations))
          .bind_blob(7, m.bytes)
          .bind(8, m.image_size)
          .bind(9, m.pushed_at_ms);
      BERTH_ASSIGN_OR_RETURN(bool inserted, ins.step());
      if (!inserted) return error(Code::kInternal, "postgres: INSERT ... RETURNING gave no row");
      id = ins.int64(0);
      auto add_ref = [&](int kind, const Digest& d) -> Status {
        BERTH_ASSIGN_OR_RETURN(
            auto r, c.prepare("INSERT INTO manifest_refs (manifest_id, repo_id, kind, digest) "
                              "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"));
        return r.bind(1, id)
            .bind(2, req.repository)
            .bind(3, int64_t{kind})
            .bind(4, std::string_view(d.str()))
            .run();
      };
      for (const Digest& b : req.references.blobs) BERTH_RETURN_IF_ERROR(add_ref(kRefBlob, b));
      for (const Digest& d : req.references.manifests)
        BERTH_RETURN_IF_ERROR(add_ref(kRefManifest, d));
    }
    if (!req.tag) return pg_meta::insert_events(c, req.events);
    if (req.tag_immutable) {
      BERTH_ASSIGN_OR_RETURN(
          auto q, c.prepare("SELECT manifest_id FROM tags WHERE repo_id=$1 AND name=$2"));
      q.bind(1, req.repository).bind(2, std::string_view(*req.tag));
      BERTH_ASSIGN_OR_RETURN(bool row, q.step());
      if (row && q.int64(0) != id) {
        return error(
            Code::kTagImmutable,
            fmt::format("the tag '{}' already exists and cannot be overwritten because the "
                        "repository is immutable",
                        *req.tag));
      }
    }
    BERTH_ASSIGN_OR_RETURN(
        auto t,
        c.prepare("INSERT INTO tags (repo_id, name, manifest_id, updated_at) VALUES ($1,$2,$3,$4) "
                  "ON CONFLICT (repo_id, name) DO UPDATE SET manifest_id=excluded.manifest_id, "
                  "updated_at=excluded.updated_at WHERE tags.manifest_id<>excluded.manifest_id"));
    BERTH_RETURN_IF_ERROR(t.bind(1, req.repository)
                              .bind(2, std::string_view(*req.tag))
                              .bind(3, id)
                              .bind(4, m.pushed_at_ms / 1000)
                              .run());
    return pg_meta::insert_events(c, req.events);
  });
}

Result<ManifestRecord> PostgresMetadataStore::get_manifest(RepositoryId repo,
                                                           const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT " BERTH_MANIFEST_COLUMNS(
                                     "") " FROM manifests WHERE repo_id=$1 AND digest=$2"));
  s.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kManifestUnknown, "manifest unknown to registry");
  return read_manifest(s);
}

Result<ManifestRecord> PostgresMetadataStore::get_manifest_by_tag(RepositoryId repo,
                                                                  std::string_view tag) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT " BERTH_MANIFEST_COLUMNS(
                             "m.") " FROM tags t JOIN manifests m "
                                   "ON m.id=t.manifest_id WHERE t.repo_id=$1 AND t.name=$2"));
  s.bind(1, repo).bind(2, tag);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row)
    return error(Code::kManifestUnknown, fmt::format("manifest tagged '{}' not found", tag));
  return read_manifest(s);
}

Result<ResolvedManifest> PostgresMetadataStore::resolve_manifest(std::string_view account_id,
                                                                 std::string_view repo_name,
                                                                 const Digest* digest,
                                                                 std::string_view tag) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  // The repository row always comes back when it exists; the manifest
  // columns are NULL when it lacks the manifest, which tells the two errors
  // apart without a second read.
  static constexpr const char* kByDigest =
      "SELECT " BERTH_MANIFEST_COLUMNS("m.") ", r.id FROM repositories r "
      "LEFT JOIN manifests m ON m.repo_id=r.id AND m.digest=$3 WHERE r.account_id=$1 AND r.name=$2";
  static constexpr const char* kByTag =
      "SELECT " BERTH_MANIFEST_COLUMNS("m.") ", r.id FROM repositories r "
      "LEFT JOIN tags t ON t.repo_id=r.id AND t.name=$3 LEFT JOIN manifests m ON m.id=t.manifest_id "
      "WHERE r.account_id=$1 AND r.name=$2";
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

Status PostgresMetadataStore::delete_manifest(RepositoryId repo, const Digest& digest,
                                              const DeletionEvents& events) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest.str()));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(
        auto q,
        c.prepare("SELECT m.digest FROM manifest_refs r JOIN manifests m ON m.id=r.manifest_id "
                  "WHERE r.repo_id=$1 AND r.kind=1 AND r.digest=$2 LIMIT 1"));
    q.bind(1, repo).bind(2, std::string_view(digest.str()));
    BERTH_ASSIGN_OR_RETURN(bool referenced, q.step());
    if (referenced) {
      return error(
          Code::kManifestReferenced,
          fmt::format("manifest is referenced by index {}; delete the index first", q.text(0)));
    }
    BERTH_RETURN_IF_ERROR(enqueue_manifest_blobs(c, *id));
    std::vector<std::string> tags;
    if (events) {
      BERTH_ASSIGN_OR_RETURN(tags, tags_of(c, *id));
    }
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM manifests WHERE id=$1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, *id).run());
    if (!events) return Status::ok();
    return pg_meta::insert_events(c, events(digest, tags));
  });
}

Status PostgresMetadataStore::delete_tag(RepositoryId repo, std::string_view tag,
                                         const DeletionEvents& events) {
  return pool_->write([&](Connection& c) -> Status {
    std::optional<Digest> pointed;
    if (events) {
      BERTH_ASSIGN_OR_RETURN(auto q,
                             c.prepare("SELECT m.digest FROM tags t JOIN manifests m ON "
                                       "m.id=t.manifest_id WHERE t.repo_id=$1 AND t.name=$2"));
      q.bind(1, repo).bind(2, tag);
      BERTH_ASSIGN_OR_RETURN(bool found, q.step());
      if (found) {
        auto d = Digest::parse(q.text(0));
        if (d) pointed = std::move(d).value();
      }
    }
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM tags WHERE repo_id=$1 AND name=$2"));
    BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, tag).run());
    if (s.affected() == 0)
      return error(Code::kManifestUnknown, fmt::format("tag '{}' not found", tag));
    if (!events || !pointed) return Status::ok();
    return pg_meta::insert_events(c, events(*pointed, {std::string(tag)}));
  });
}

Result<ImageDeletion> PostgresMetadataStore::delete_image(RepositoryId repo, const Digest& digest,
                                                          std::optional<std::string_view> tag,
                                                          const DeletionEvents& events) {
  ImageDeletion out;
  Status st = pool_->write([&](Connection& c) -> Status {
    out = ImageDeletion{};
    // Every way this transaction succeeds reports the deletion.
    auto deleted = [&]() -> Status {
      if (!events) return Status::ok();
      return pg_meta::insert_events(
          c, events(digest, tag ? std::vector<std::string>{std::string(*tag)} : out.tags));
    };
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest.str()));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(
        auto t,
        c.prepare("SELECT name FROM tags WHERE manifest_id=$1 ORDER BY name COLLATE \"C\""));
    t.bind(1, *id);
    BERTH_ASSIGN_OR_RETURN(
        out.tags, t.collect<std::string>([](const Statement& row) { return row.text(0); }));
    if (tag) {
      BERTH_ASSIGN_OR_RETURN(
          auto d, c.prepare("DELETE FROM tags WHERE repo_id=$1 AND name=$2 AND manifest_id=$3"));
      BERTH_RETURN_IF_ERROR(d.bind(1, repo).bind(2, *tag).bind(3, *id).run());
      if (d.affected() == 0)
        return error(Code::kManifestUnknown, fmt::format("tag '{}' not found", *tag));
      if (out.tags.size() > 1) return deleted();
    }
    BERTH_ASSIGN_OR_RETURN(
        auto q,
        c.prepare("SELECT m.digest FROM manifest_refs r JOIN manifests m ON m.id=r.manifest_id "
                  "WHERE r.repo_id=$1 AND r.kind=1 AND r.digest=$2 LIMIT 1"));
    q.bind(1, repo).bind(2, std::string_view(digest.str()));
    BERTH_ASSIGN_OR_RETURN(bool referenced, q.step());
    if (referenced) {
      if (!tag) {
        return error(
            Code::kManifestReferenced,
            fmt::format("manifest is referenced by index {}; delete the index first", q.text(0)));
      }
      auto index = Digest::parse(q.text(0));
      if (index) out.kept_for_index = std::move(index).value();
      return deleted();
    }
    BERTH_RETURN_IF_ERROR(enqueue_manifest_blobs(c, *id));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM manifests WHERE id=$1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, *id).run());
    out.manifest_deleted = true;
    return deleted();
  });
  if (!st.is_ok()) return st;
  return out;
}

Result<std::vector<std::string>> PostgresMetadataStore::list_tags(RepositoryId repo,
                                                                  const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT name FROM tags WHERE repo_id=$1 AND name>$2 "
                                        "COLLATE \"C\" ORDER BY name COLLATE \"C\" LIMIT $3"));
  s.bind(1, repo).bind(2, std::string_view(page.after)).bind(3, pg_meta::page_limit(page.limit));
  return s.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Result<std::vector<ReferrerRecord>> PostgresMetadataStore::list_referrers(
    RepositoryId repo, const Digest& subject, std::optional<std::string_view> artifact_type) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT digest, media_type, artifact_type, length(bytes), annotations "
          "FROM manifests WHERE repo_id=$1 AND subject=$2 "
          "AND ($3::text IS NULL OR artifact_type=$3::text) ORDER BY digest COLLATE \"C\""));
  s.bind(1, repo).bind(2, std::string_view(subject.str()));
  if (artifact_type) {
    s.bind(3, *artifact_type);
  } else {
    s.bind_null(3);
  }
  return s.collect<ReferrerRecord>([](const Statement& row) {
    return ReferrerRecord{Digest::parse(row.text(0)).value(), row.text(1), row.text(2),
                          row.int64(3), annotations_from_json(row.text(4))};
  });
}

Result<std::vector<ImageRecord>> PostgresMetadataStore::list_images(RepositoryId repo,
                                                                    const PageRequest& page) {
  // Three reads of one snapshot, so that tags and children match the page.
  std::vector<ImageRecord> out;
  Status st = pool_->read([&](Connection& c) -> Status {
    out.clear();
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("SELECT " BERTH_MANIFEST_COLUMNS(
                    "") " FROM manifests WHERE repo_id=$1 "
                        "AND digest>$2 COLLATE \"C\" ORDER BY digest COLLATE \"C\" LIMIT $3"));
    s.bind(1, repo).bind(2, std::string_view(page.after)).bind(3, pg_meta::page_limit(page.limit));
    std::map<int64_t, size_t> by_id;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, s.step());
      if (!row) break;
      by_id[s.int64(9)] = out.size();
      out.push_back(ImageRecord{read_manifest(s, false), {}, {}});
    }
    if (out.empty()) return Status::ok();
    BERTH_ASSIGN_OR_RETURN(
        auto t,
        c.prepare("SELECT t.manifest_id, t.name FROM tags t JOIN manifests m ON m.id=t.manifest_id "
                  "WHERE t.repo_id=$1 AND m.digest>$2 COLLATE \"C\" AND m.digest<=$3 COLLATE \"C\" "
                  "ORDER BY t.name COLLATE \"C\""));
    t.bind(1, repo)
        .bind(2, std::string_view(page.after))
        .bind(3, std::string_view(out.back().manifest.digest.str()));
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, t.step());
      if (!row) break;
      auto it = by_id.find(t.int64(0));
      if (it != by_id.end()) out[it->second].tags.push_back(t.text(1));
    }
    BERTH_ASSIGN_OR_RETURN(auto r, c.prepare("SELECT r.manifest_id, r.digest FROM manifest_refs r "
                                             "JOIN manifests m ON m.id=r.manifest_id "
                                             "WHERE m.repo_id=$1 AND r.kind=1 AND m.digest>$2 "
                                             "COLLATE \"C\" AND m.digest<=$3 COLLATE \"C\""));
    r.bind(1, repo)
        .bind(2, std::string_view(page.after))
        .bind(3, std::string_view(out.back().manifest.digest.str()));
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, r.step());
      if (!row) break;
      auto it = by_id.find(r.int64(0));
      auto d = Digest::parse(r.text(1));
      if (it != by_id.end() && d) out[it->second].children.push_back(std::move(d).value());
    }
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return out;
}

Result<std::vector<std::string>> PostgresMetadataStore::tags_for_manifest(RepositoryId repo,
                                                                          const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT t.name FROM tags t JOIN manifests m ON m.id=t.manifest_id "
                             "WHERE m.repo_id=$1 AND m.digest=$2 ORDER BY t.name COLLATE \"C\""));
  s.bind(1, repo).bind(2, std::string_view(digest.str()));
  return s.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Status PostgresMetadataStore::record_pull(RepositoryId repo, const Digest& digest,
                                          int64_t when_ms) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(
            auto s,
            c.prepare("UPDATE manifests SET last_pulled_at=$3 WHERE repo_id=$1 AND digest=$2 "
                      "AND (last_pulled_at IS NULL OR last_pulled_at<$3)"));
        return s.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, when_ms).run();
      },
      Pool::Commit::kVisible);
}

}  // namespace berth
