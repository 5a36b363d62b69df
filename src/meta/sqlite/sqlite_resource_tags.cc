// SqliteMetadataStore: the ResourceTagStore role (meta/resource_tag_store.h).
#include "meta/sqlite/sqlite_metadata_store.h"

#include <fmt/format.h>

#include "meta/sqlite/sqlite_metadata_rows.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;
using sqlite_meta::kRepoColumns;
using sqlite_meta::read_repo;

Result<std::vector<std::pair<std::string, std::string>>> SqliteMetadataStore::get_resource_tags(
    RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT key, value FROM resource_tags WHERE repo_id=?1 ORDER BY key COLLATE BINARY"));
  s.bind(1, repo);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out.emplace_back(s.text(0), s.text(1));
  }
  return out;
}

Result<std::vector<RepositoryRecord>> SqliteMetadataStore::repositories_with_resource_tag(
    std::string_view key, std::string_view value) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  static const std::string sql = fmt::format(
      "SELECT {} FROM repositories WHERE id IN (SELECT repo_id FROM resource_tags WHERE key=?1 AND "
      "value=?2) "
      "ORDER BY account_id COLLATE BINARY, name COLLATE BINARY",
      kRepoColumns);
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(sql.c_str()));
  s.bind(1, key).bind(2, value);
  return s.collect<RepositoryRecord>([](const Statement& row) { return read_repo(row); });
}

Status SqliteMetadataStore::set_resource_tags(
    RepositoryId repo, const std::vector<std::pair<std::string, std::string>>& tags) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM resource_tags WHERE repo_id=?1"));
    BERTH_RETURN_IF_ERROR(d.bind(1, repo).run());
    for (const auto& [k, v] : tags) {
      BERTH_ASSIGN_OR_RETURN(
          auto i,
          c.prepare(
              "INSERT OR REPLACE INTO resource_tags (repo_id, key, value) VALUES (?1,?2,?3)"));
      BERTH_RETURN_IF_ERROR(
          i.bind(1, repo).bind(2, std::string_view(k)).bind(3, std::string_view(v)).run());
    }
    return Status::ok();
  });
}

Status SqliteMetadataStore::update_resource_tags(
    RepositoryId repo, const std::vector<std::pair<std::string, std::string>>& set,
    const std::vector<std::string>& remove, std::size_t max_tags) {
  return pool_->write([&](Connection& c) -> Status {
    for (const auto& k : remove) {
      BERTH_ASSIGN_OR_RETURN(auto d,
                             c.prepare("DELETE FROM resource_tags WHERE repo_id=?1 AND key=?2"));
      BERTH_RETURN_IF_ERROR(d.bind(1, repo).bind(2, std::string_view(k)).run());
    }
    for (const auto& [k, v] : set) {
      BERTH_ASSIGN_OR_RETURN(
          auto i,
          c.prepare(
              "INSERT OR REPLACE INTO resource_tags (repo_id, key, value) VALUES (?1,?2,?3)"));
      BERTH_RETURN_IF_ERROR(
          i.bind(1, repo).bind(2, std::string_view(k)).bind(3, std::string_view(v)).run());
    }
    BERTH_ASSIGN_OR_RETURN(auto n,
                           c.prepare("SELECT COUNT(*) FROM resource_tags WHERE repo_id=?1"));
    n.bind(1, repo);
    BERTH_ASSIGN_OR_RETURN(bool row, n.step());
    if (row && static_cast<std::size_t>(n.int64(0)) > max_tags) {
      return error(Code::kLimitExceeded,
                   fmt::format("A resource may have at most {} tags", max_tags));
    }
    return Status::ok();
  });
}

}  // namespace berth
