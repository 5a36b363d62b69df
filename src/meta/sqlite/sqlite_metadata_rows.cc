#include "meta/sqlite/sqlite_metadata_rows.h"

namespace berth::sqlite_meta {
using sqlite::Connection;
using sqlite::Statement;

RepositoryRecord read_repo(const Statement& s) {
  RepositoryRecord r;
  r.id = s.int64(0);
  r.account_id = s.text(1);
  r.name = s.text(2);
  r.created_at = s.int64(3);
  r.tag_mutability = s.text(4);
  r.tag_mutability_exclusions = strings_from_json(s.text(5));
  r.scan_on_push = s.int64(6) != 0;
  r.encryption_type = s.text(7);
  r.kms_key = s.text(8);
  if (!s.is_null(9)) r.lifecycle_policy = s.text(9);
  r.lifecycle_evaluated_at = s.opt_int64(10);
  return r;
}

Result<std::optional<int64_t>> manifest_id(Connection& c, RepositoryId repo,
                                           std::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(auto s,
                         c.prepare("SELECT id FROM manifests WHERE repo_id=?1 AND digest=?2"));
  s.bind(1, repo).bind(2, digest);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.int64(0));
}

Status enqueue_candidate(Connection& c, std::string_view digest, int64_t now) {
  BERTH_ASSIGN_OR_RETURN(auto s,
                         c.prepare("INSERT INTO gc_candidates (digest, since) VALUES (?1, ?2) "
                                   "ON CONFLICT (digest) DO NOTHING"));
  return s.bind(1, digest).bind(2, now).run();
}

Status enqueue_manifest_blobs(Connection& c, int64_t manifest_id) {
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      c.prepare(
          "INSERT INTO gc_candidates (digest, since) SELECT digest, 0 "
          "FROM manifest_refs WHERE manifest_id=?1 AND kind=0 ON CONFLICT (digest) DO NOTHING"));
  return s.bind(1, manifest_id).run();
}

Result<bool> pending_deletion(Connection& c, std::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("SELECT 1 FROM gc_pending WHERE digest=?1"));
  s.bind(1, digest);
  return s.step();
}

Status link_blob_in(Connection& c, RepositoryId repo, const Digest& digest, int64_t size,
                    int64_t now) {
  BERTH_ASSIGN_OR_RETURN(bool pending, pending_deletion(c, digest.str()));
  if (pending)
    return error(Code::kUnavailable, "the blob is being garbage collected; upload it again");
  BERTH_RETURN_IF_ERROR(check_quota_in(c, repo, QuotaItem::kBlob, digest.str(), size));
  BERTH_ASSIGN_OR_RETURN(
      auto s, c.prepare("INSERT INTO blob_links (repo_id, digest, size, linked_at) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repo_id, digest) DO UPDATE "
                        "SET linked_at=excluded.linked_at"));
  BERTH_RETURN_IF_ERROR(
      s.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, size).bind(4, now).run());
  return enqueue_candidate(c, digest.str(), now);
}

}  // namespace berth::sqlite_meta
