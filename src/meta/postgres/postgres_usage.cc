// PostgresMetadataStore: the UsageStore role (meta/usage_store.h).
#include "meta/postgres/postgres_metadata_store.h"

namespace berth {
using pg::Statement;

Result<std::vector<RepositoryUsage>> PostgresMetadataStore::repository_usage(
    std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT r.name, (COALESCE((SELECT SUM(size) FROM blob_links b WHERE b.repo_id=r.id), 0) "
          "+ "
          "COALESCE((SELECT SUM(length(bytes)) FROM manifests m WHERE m.repo_id=r.id), 0))::bigint "
          "FROM repositories r WHERE r.account_id=$1 ORDER BY r.name COLLATE \"C\""));
  s.bind(1, account_id);
  return s.collect<RepositoryUsage>([](const Statement& row) {
    return RepositoryUsage{row.text(0), row.int64(1)};
  });
}

Result<int64_t> PostgresMetadataStore::account_usage(std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare("SELECT (COALESCE((SELECT SUM(size) FROM (SELECT DISTINCT b.digest, b.size "
                     "FROM blob_links b "
                     "JOIN repositories r ON r.id=b.repo_id WHERE r.account_id=$1) AS blobs), 0) + "
                     "COALESCE((SELECT SUM(n) FROM (SELECT DISTINCT m.digest, length(m.bytes) AS n "
                     "FROM manifests m "
                     "JOIN repositories r ON r.id=m.repo_id WHERE r.account_id=$1) AS manifests), "
                     "0))::bigint"));
  s.bind(1, account_id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.int64(0) : int64_t{0};
}

}  // namespace berth
