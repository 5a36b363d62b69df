// PostgresMetadataStore: the ResourceTagStore role (meta/resource_tag_store.h).
#include "meta/postgres/postgres_metadata_store.h"

#include <fmt/format.h>

#include "meta/postgres/postgres_metadata_rows.h"

namespace berth {
using pg::Connection;
using pg::Statement;
using pg_meta::kRepoColumns;
using pg_meta::read_repo;

Result<std::vector<std::pair<std::string, std::string>>> PostgresMetadataStore::get_resource_tags(
    RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT key, value FROM resource_tags WHERE repo_id=$1 ORDER BY key COLLATE \"C\""));
  s.bind(1, repo);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out.emplace_back(s.text(0), s.text(1));
  }
  return out;
}

Result<std::vector<RepositoryRecord>> PostgresMetadataStore::repositories_with_resource_tag(
    std::string_view key, std::string_view value) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE id IN (SELECT repo_id FROM resource_tags WHERE key=$1 AND "
      "value=$2) "
      "ORDER BY account_id COLLATE \"C\", name COLLATE \"C\"",
      kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, key).bind(2, value);
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status PostgresMetadataStore::set_resource_tags(
    RepositoryId repo, const std::vector<std::pair<std::string, std::string>>& tags) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM resource_tags WHERE repo_id=$1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, repo).run());
    for (const auto& [k, v] : tags) {
      BERTH_ASSIGN_OR_RETURN(
          auto i, c.prepare("INSERT INTO resource_tags (repo_id, key, value) VALUES ($1,$2,$3) "
                            "ON CONFLICT (repo_id, key) DO UPDATE SET value=excluded.value"));
      BERTH_RETURN_IF_ERROR(
          i.bind(1, repo).bind(2, std::string_view(k)).bind(3, std::string_view(v)).run());
    }
    return Status::ok();
  });
}

}  // namespace berth
