// SqliteMetadataStore: the LifecycleStore role (meta/lifecycle_store.h).
#include "meta/sqlite/sqlite_metadata_store.h"

#include <fmt/format.h>

#include <algorithm>

#include <boost/json.hpp>

#include "meta/sqlite/sqlite_metadata_rows.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;
using sqlite_meta::enqueue_manifest_blobs;
using sqlite_meta::kRepoColumns;
using sqlite_meta::manifest_id;
using sqlite_meta::preview_results_from_json;
using sqlite_meta::preview_results_to_json;
using sqlite_meta::read_repo;

Status SqliteMetadataStore::set_lifecycle_policy(RepositoryId repo,
                                                 const std::optional<std::string>& text) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s,
                           c.prepare("UPDATE repositories SET lifecycle_policy=?2 WHERE id=?1"));
    BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, text).run());
    if (c.changes() == 0) return error(Code::kNameUnknown, "repository not found");
    return Status::ok();
  });
}

Status SqliteMetadataStore::mark_lifecycle_evaluated(RepositoryId repo, int64_t when) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("UPDATE repositories SET lifecycle_evaluated_at=?2 WHERE id=?1"));
    return s.bind(1, repo).bind(2, when).run();
  });
}

Result<std::vector<RepositoryRecord>> SqliteMetadataStore::repositories_with_lifecycle_policy() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE lifecycle_policy IS NOT NULL ORDER BY account_id COLLATE "
      "BINARY, name COLLATE BINARY",
      kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status SqliteMetadataStore::put_lifecycle_preview(RepositoryId repo,
                                                  const LifecyclePreviewRecord& p) {
  const std::string results = preview_results_to_json(p.results);
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("INSERT OR REPLACE INTO lifecycle_previews (repo_id, "
                                             "policy_text, status, results, created_at) "
                                             "VALUES (?1, ?2, ?3, ?4, ?5)"));
    return s.bind(1, repo)
        .bind(2, std::string_view(p.policy_text))
        .bind(3, std::string_view(p.status))
        .bind(4, std::string_view(results))
        .bind(5, p.created_at)
        .run();
  });
}

Result<LifecyclePreviewRecord> SqliteMetadataStore::get_lifecycle_preview(RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT policy_text, status, results, created_at "
                                                "FROM lifecycle_previews WHERE repo_id=?1"));
  s.bind(1, repo);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row)
    return error(Code::kLifecyclePolicyPreviewNotFound, "no lifecycle policy preview was started");
  return LifecyclePreviewRecord{s.text(0), s.text(1), preview_results_from_json(s.text(2)),
                                s.int64(3)};
}

Status SqliteMetadataStore::expire_manifest(RepositoryId repo, const Digest& digest,
                                            const std::vector<std::string>& expected_tags,
                                            const DeletionEvents& events) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest.str()));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(
        auto t,
        c.prepare("SELECT name FROM tags WHERE manifest_id=?1 ORDER BY name COLLATE BINARY"));
    t.bind(1, *id);
    std::vector<std::string> tags;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, t.step());
      if (!row) break;
      tags.push_back(t.text(0));
    }
    std::vector<std::string> expected = expected_tags;
    std::sort(expected.begin(), expected.end());
    if (tags != expected)
      return error(Code::kFailedPrecondition, "the image's tags changed since it was chosen");
    BERTH_ASSIGN_OR_RETURN(
        auto q,
        c.prepare("SELECT 1 FROM manifest_refs WHERE repo_id=?1 AND kind=1 AND digest=?2 LIMIT 1"));
    q.bind(1, repo).bind(2, std::string_view(digest.str()));
    BERTH_ASSIGN_OR_RETURN(bool referenced, q.step());
    if (referenced) return error(Code::kManifestReferenced, "an index still lists the manifest");
    BERTH_RETURN_IF_ERROR(enqueue_manifest_blobs(c, *id));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM manifests WHERE id=?1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, *id).run());
    if (!events) return Status::ok();
    return sqlite_meta::insert_events(c, events(digest, tags));
  });
}

Status SqliteMetadataStore::record_expirations(const std::vector<ExpirationRecord>& expirations) {
  if (expirations.empty()) return Status::ok();
  return pool_->write([&](Connection& c) -> Status {
    for (const auto& e : expirations) {
      BERTH_ASSIGN_OR_RETURN(auto s,
                             c.prepare("INSERT INTO lifecycle_expirations (account_id, repository, "
                                       "digest, tags, rule_priority, "
                                       "expired_at) VALUES ((SELECT account_id FROM repositories "
                                       "WHERE name=?1 LIMIT 1), ?1, ?2, ?3, ?4, ?5)"));
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

Result<std::vector<ExpirationRecord>> SqliteMetadataStore::list_expirations(
    std::string_view account_id, size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT repository, digest, tags, rule_priority, expired_at FROM lifecycle_expirations "
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

}  // namespace berth
