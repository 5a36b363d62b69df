// PostgresMetadataStore: the UsageStore role (meta/usage_store.h), and the
// measure of stored bytes that it and the quotas share.
#include <string>

#include "meta/postgres/postgres_metadata_rows.h"
#include "meta/postgres/postgres_metadata_store.h"

namespace berth {
using pg::Connection;
using pg::Statement;

namespace pg_meta {

const char* const kRepositoryBytesOfR =
    "(COALESCE((SELECT SUM(size) FROM blob_links b WHERE b.repo_id=r.id), 0) + "
    "COALESCE((SELECT SUM(length(bytes)) FROM manifests m WHERE m.repo_id=r.id), 0))::bigint";

namespace {

const std::string kRepositoryBytes =
    std::string("SELECT ") + kRepositoryBytesOfR + " FROM repositories r WHERE r.id=$1";
const std::string kRepositoryListing = std::string("SELECT r.name, ") + kRepositoryBytesOfR +
                                       " FROM repositories r WHERE r.account_id=$1 "
                                       "ORDER BY r.name COLLATE \"C\"";
constexpr const char* kAccountBytes =
    "SELECT (COALESCE((SELECT SUM(size) FROM (SELECT DISTINCT b.digest, b.size "
    "FROM blob_links b "
    "JOIN repositories r ON r.id=b.repo_id WHERE r.account_id=$1) AS blobs), 0) + "
    "COALESCE((SELECT SUM(n) FROM (SELECT DISTINCT m.digest, length(m.bytes) AS n "
    "FROM manifests m "
    "JOIN repositories r ON r.id=m.repo_id WHERE r.account_id=$1) AS manifests), "
    "0))::bigint";

Result<int64_t> single_int(Statement& s) {
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.int64(0) : int64_t{0};
}

}  // namespace

Result<int64_t> repository_bytes_in(Connection& c, RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare(kRepositoryBytes.c_str()));
  s.bind(1, repo);
  return single_int(s);
}

Result<int64_t> account_bytes_in(Connection& c, std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare(kAccountBytes));
  s.bind(1, account_id);
  return single_int(s);
}

}  // namespace pg_meta

Result<std::vector<RepositoryUsage>> PostgresMetadataStore::repository_usage(
    std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare(pg_meta::kRepositoryListing.c_str()));
  s.bind(1, account_id);
  return s.collect<RepositoryUsage>([](const Statement& row) {
    return RepositoryUsage{row.text(0), row.int64(1)};
  });
}

Result<int64_t> PostgresMetadataStore::account_usage(std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return pg_meta::account_bytes_in(*lease, account_id);
}

Status PostgresMetadataStore::put_storage_samples(const std::vector<StorageSampleRow>& rows) {
  if (rows.empty()) return Status::ok();
  return pool_->write([&](Connection& c) -> Status {
    for (const StorageSampleRow& r : rows) {
      BERTH_ASSIGN_OR_RETURN(
          auto s, c.prepare("INSERT INTO usage_samples (account_id, repository, sampled_at, bytes) "
                            "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, repository, "
                            "sampled_at) DO UPDATE SET bytes=EXCLUDED.bytes"));
      s.bind(1, std::string_view(r.account_id))
          .bind(2, std::string_view(r.repository))
          .bind(3, r.sampled_at_ms)
          .bind(4, r.bytes);
      BERTH_RETURN_IF_ERROR(s.run());
    }
    return Status::ok();
  });
}

Result<std::vector<StorageSampleRow>> PostgresMetadataStore::storage_samples(
    std::string_view account_id, int64_t from_ms, int64_t to_ms) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare(
                  "SELECT account_id, repository, sampled_at, bytes FROM usage_samples u "
                  "WHERE ($1::text='' OR account_id=$1) AND sampled_at < $3 AND "
                  "(sampled_at >= $2 OR "
                  "sampled_at=(SELECT MAX(p.sampled_at) FROM usage_samples p WHERE "
                  "p.account_id=u.account_id AND p.repository=u.repository AND p.sampled_at < $2)) "
                  "ORDER BY account_id, repository, sampled_at"));
  s.bind(1, account_id).bind(2, from_ms).bind(3, to_ms);
  return s.collect<StorageSampleRow>([](const Statement& row) {
    return StorageSampleRow{row.text(0), row.text(1), row.int64(2), row.int64(3)};
  });
}

Status PostgresMetadataStore::add_transfer(const std::vector<TransferRow>& rows) {
  if (rows.empty()) return Status::ok();
  return pool_->write([&](Connection& c) -> Status {
    for (const TransferRow& r : rows) {
      BERTH_ASSIGN_OR_RETURN(
          auto s, c.prepare("INSERT INTO usage_transfer (account_id, repository, hour, bytes) "
                            "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, repository, hour) "
                            "DO UPDATE SET bytes=usage_transfer.bytes+EXCLUDED.bytes"));
      s.bind(1, std::string_view(r.account_id))
          .bind(2, std::string_view(r.repository))
          .bind(3, r.hour_ms)
          .bind(4, r.bytes);
      BERTH_RETURN_IF_ERROR(s.run());
    }
    return Status::ok();
  });
}

Result<std::vector<TransferRow>> PostgresMetadataStore::transfer(std::string_view account_id,
                                                                 int64_t from_ms, int64_t to_ms) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT account_id, repository, hour, bytes FROM usage_transfer "
                             "WHERE ($1::text='' OR account_id=$1) AND hour >= $2 AND hour < $3 "
                             "ORDER BY account_id, repository, hour"));
  s.bind(1, account_id).bind(2, from_ms).bind(3, to_ms);
  return s.collect<TransferRow>([](const Statement& row) {
    return TransferRow{row.text(0), row.text(1), row.int64(2), row.int64(3)};
  });
}

Result<size_t> PostgresMetadataStore::prune_usage(int64_t before_ms) {
  size_t deleted = 0;
  BERTH_RETURN_IF_ERROR(pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto samples,
                           c.prepare("DELETE FROM usage_samples WHERE sampled_at < $1"));
    samples.bind(1, before_ms);
    BERTH_RETURN_IF_ERROR(samples.run());
    deleted = static_cast<size_t>(samples.affected());
    BERTH_ASSIGN_OR_RETURN(auto buckets, c.prepare("DELETE FROM usage_transfer WHERE hour < $1"));
    buckets.bind(1, before_ms);
    BERTH_RETURN_IF_ERROR(buckets.run());
    deleted += static_cast<size_t>(buckets.affected());
    return Status::ok();
  }));
  return deleted;
}

}  // namespace berth
