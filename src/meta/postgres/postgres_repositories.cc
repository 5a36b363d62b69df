// PostgresMetadataStore: the RepositoryStore role (meta/repository_store.h).
#include "meta/postgres/postgres_metadata_store.h"

#include <fmt/format.h>

#include "meta/postgres/postgres_metadata_rows.h"

namespace berth {
using pg::Connection;
using pg::Statement;
using pg_meta::kRepoColumns;
using pg_meta::read_repo;
using pg_meta::strings_to_json;

Result<RepositoryRecord> PostgresMetadataStore::create_repository(const RepositoryRecord& repo) {
  RepositoryRecord out = repo;
  const std::string exclusions = strings_to_json(repo.tag_mutability_exclusions);
  Status st = pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO repositories (account_id, name, created_at, tag_mutability, "
                          "tag_mutability_exclusions, scan_on_push, encryption_type, kms_key) "
                          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                          "ON CONFLICT (account_id, name) DO NOTHING RETURNING id"));
    s.bind(1, std::string_view(repo.account_id))
        .bind(2, std::string_view(repo.name))
        .bind(3, repo.created_at)
        .bind(4, std::string_view(repo.tag_mutability))
        .bind(5, std::string_view(exclusions))
        .bind(6, int64_t{repo.scan_on_push})
        .bind(7, std::string_view(repo.encryption_type))
        .bind(8, std::string_view(repo.kms_key));
    BERTH_ASSIGN_OR_RETURN(bool inserted, s.step());
    if (!inserted) {
      return error(Code::kAlreadyExists, fmt::format("repository {} already exists", repo.name));
    }
    out.id = s.int64(0);
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return out;
}

Result<RepositoryRecord> PostgresMetadataStore::get_repository(std::string_view account_id,
                                                               std::string_view name) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql =
      fmt::format("SELECT {} FROM repositories WHERE account_id=$1 AND name=$2", kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, account_id).bind(2, name);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNameUnknown, fmt::format("repository {} not found", name));
  return read_repo(s);
}

Result<RepositoryRecord> PostgresMetadataStore::get_repository_by_id(RepositoryId id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql =
      fmt::format("SELECT {} FROM repositories WHERE id=$1", kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kNameUnknown, fmt::format("repository {} not found", id));
  return read_repo(s);
}

Result<RepositoryRecord> PostgresMetadataStore::ensure_repository(std::string_view account_id,
                                                                  std::string_view name,
                                                                  int64_t now) {
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

Result<std::vector<RepositoryRecord>> PostgresMetadataStore::list_repositories(
    std::string_view account_id, const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE account_id=$1 AND name>$2 COLLATE \"C\" ORDER BY name "
      "COLLATE \"C\" LIMIT $3",
      kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, account_id)
      .bind(2, std::string_view(page.after))
      .bind(3, pg_meta::page_limit(page.limit));
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status PostgresMetadataStore::update_repository(const RepositoryRecord& repo) {
  const std::string exclusions = strings_to_json(repo.tag_mutability_exclusions);
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("UPDATE repositories SET tag_mutability=$2, tag_mutability_exclusions=$3, "
                  "scan_on_push=$4 WHERE id=$1"));
    s.bind(1, repo.id)
        .bind(2, std::string_view(repo.tag_mutability))
        .bind(3, std::string_view(exclusions))
        .bind(4, int64_t{repo.scan_on_push});
    BERTH_RETURN_IF_ERROR(s.run());
    if (s.affected() == 0) return error(Code::kNameUnknown, "repository not found");
    return Status::ok();
  });
}

Status PostgresMetadataStore::delete_repository(RepositoryId id, bool force) {
  return pool_->write([&](Connection& c) -> Status {
    if (!force) {
      BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM manifests WHERE repo_id=$1 LIMIT 1"));
      q.bind(1, id);
      BERTH_ASSIGN_OR_RETURN(bool any, q.step());
      if (any) {
        return error(Code::kRepositoryNotEmpty,
                     "the repository contains images; delete them first or use force");
      }
    }
    BERTH_ASSIGN_OR_RETURN(
        auto q,
        c.prepare("INSERT INTO gc_candidates (digest, since) SELECT digest, 0 FROM blob_links "
                  "WHERE repo_id=$1 ON CONFLICT (digest) DO NOTHING"));
    BERTH_RETURN_IF_ERROR(q.bind(1, id).run());
    // Children first: tags and refs cascade from manifests.
    int64_t deleted = 0;
    for (const char* sql :
         {"DELETE FROM tags WHERE repo_id=$1", "DELETE FROM manifests WHERE repo_id=$1",
          "DELETE FROM resource_tags WHERE repo_id=$1", "DELETE FROM blob_links WHERE repo_id=$1",
          "DELETE FROM uploads WHERE repo_id=$1", "DELETE FROM repositories WHERE id=$1"}) {
      BERTH_ASSIGN_OR_RETURN(auto s, c.prepare(sql));
      BERTH_RETURN_IF_ERROR(s.bind(1, id).run());
      deleted = s.affected();
    }
    if (deleted == 0) return error(Code::kNameUnknown, "repository not found");
    return Status::ok();
  });
}

}  // namespace berth
