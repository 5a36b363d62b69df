// SqliteMetadataStore: the QuotaStore role (meta/quota_store.h), and the
// quota check the writes that add bytes run in their transaction. A write's
// transaction is SQLite's single writer, so the check and the write it guards
// see no concurrent change.
#include <fmt/format.h>

#include "meta/sqlite/sqlite_metadata_rows.h"
#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;

namespace sqlite_meta {

namespace {

struct ApplicableQuota {
  std::string repository;  // '' for the account's
  int64_t bytes;
  std::string account_id;
  std::string repository_name;
};

Result<bool> any_row(Statement& s) {
  return s.step();
}

}  // namespace

Status check_quota_in(Connection& c, RepositoryId repo, QuotaItem item, std::string_view digest,
                      int64_t size) {
  std::vector<ApplicableQuota> quotas;
  {
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT q.repository, q.bytes, r.account_id, r.name "
                          "FROM repositories r JOIN storage_quotas q ON q.account_id=r.account_id "
                          "AND q.repository IN ('', r.name) WHERE r.id=?1 "
                          "ORDER BY q.repository DESC"));
    q.bind(1, repo);
    BERTH_ASSIGN_OR_RETURN(quotas, q.collect<ApplicableQuota>([](const Statement& row) {
      return ApplicableQuota{row.text(0), row.int64(1), row.text(2), row.text(3)};
    }));
  }
  const bool blob = item == QuotaItem::kBlob;
  for (const ApplicableQuota& quota : quotas) {
    const bool account = quota.repository.empty();
    bool held;
    int64_t used;
    if (!account) {
      BERTH_ASSIGN_OR_RETURN(
          auto h, c.prepare(blob ? "SELECT 1 FROM blob_links WHERE repo_id=?1 AND digest=?2"
                                 : "SELECT 1 FROM manifests WHERE repo_id=?1 AND digest=?2"));
      h.bind(1, repo).bind(2, digest);
      BERTH_ASSIGN_OR_RETURN(held, any_row(h));
      if (held) continue;
      BERTH_ASSIGN_OR_RETURN(used, repository_bytes_in(c, repo));
    } else {
      BERTH_ASSIGN_OR_RETURN(
          auto h,
          c.prepare(blob ? "SELECT 1 FROM blob_links b JOIN repositories r ON r.id=b.repo_id "
                           "WHERE r.account_id=?1 AND b.digest=?2 AND b.size=?3 LIMIT 1"
                         : "SELECT 1 FROM manifests m JOIN repositories r ON r.id=m.repo_id "
                           "WHERE r.account_id=?1 AND m.digest=?2 AND length(m.bytes)=?3 LIMIT 1"));
      h.bind(1, std::string_view(quota.account_id)).bind(2, digest).bind(3, size);
      BERTH_ASSIGN_OR_RETURN(held, any_row(h));
      if (held) continue;
      BERTH_ASSIGN_OR_RETURN(used, account_bytes_in(c, quota.account_id));
    }
    if (used + size > quota.bytes) {
      return quota_exceeded(account ? "account" : "repository",
                            account ? quota.account_id : quota.repository_name, quota.bytes,
                            used + size);
    }
  }
  return Status::ok();
}

}  // namespace sqlite_meta

Status SqliteMetadataStore::set_quota(std::string_view account_id,
                                      std::optional<std::string_view> repository, int64_t bytes) {
  if (bytes < 0) return error(Code::kInvalidArgument, "a quota is a number of bytes, 0 or more");
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s,
                           c.prepare("INSERT INTO storage_quotas (account_id, repository, bytes) "
                                     "VALUES (?1, ?2, ?3) ON CONFLICT (account_id, repository) "
                                     "DO UPDATE SET bytes=excluded.bytes"));
    return s.bind(1, account_id).bind(2, repository.value_or("")).bind(3, bytes).run();
  });
}

Status SqliteMetadataStore::clear_quota(std::string_view account_id,
                                        std::optional<std::string_view> repository) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("DELETE FROM storage_quotas WHERE account_id=?1 AND repository=?2"));
    BERTH_RETURN_IF_ERROR(s.bind(1, account_id).bind(2, repository.value_or("")).run());
    if (c.changes() == 0) return error(Code::kNotFound, "no such quota");
    return Status::ok();
  });
}

Result<std::vector<StorageQuota>> SqliteMetadataStore::list_quotas(
    std::optional<std::string_view> account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT account_id, repository, bytes FROM storage_quotas "
                             "WHERE ?1 IS NULL OR account_id=?1 "
                             "ORDER BY account_id COLLATE BINARY, repository COLLATE BINARY"));
  s.bind(1, account_id ? std::optional<std::string>(*account_id) : std::nullopt);
  return s.collect<StorageQuota>([](const Statement& row) {
    std::string repository = row.text(1);
    return StorageQuota{row.text(0),
                        repository.empty() ? std::nullopt : std::optional(std::move(repository)),
                        row.int64(2)};
  });
}

Status SqliteMetadataStore::check_blob_quota(RepositoryId repo, const Digest& digest,
                                             int64_t size) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return sqlite_meta::check_quota_in(*lease, repo, sqlite_meta::QuotaItem::kBlob, digest.str(),
                                     size);
}

}  // namespace berth
