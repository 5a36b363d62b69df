// PostgresMetadataStore: the UploadStore role (meta/upload_store.h).
#include "meta/postgres/postgres_metadata_store.h"

#include "meta/postgres/postgres_metadata_rows.h"

namespace berth {
using pg::Connection;
using pg::Pool;
using pg::Statement;
using pg_meta::link_blob_in;
using pg_meta::pending_deletion;

namespace {

Status end_blob_write_in(Connection& c, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto s,
                         c.prepare("UPDATE blob_writes SET writers=writers-1 WHERE digest=$1"));
  BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(digest.str())).run());
  BERTH_ASSIGN_OR_RETURN(auto d,
                         c.prepare("DELETE FROM blob_writes WHERE digest=$1 AND writers<=0"));
  return d.bind(1, std::string_view(digest.str())).run();
}

}  // namespace

Status PostgresMetadataStore::create_upload(const UploadRecord& upload) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(
            auto s, c.prepare("INSERT INTO uploads (id, repo_id, started_at) VALUES ($1, $2, $3)"));
        return s.bind(1, std::string_view(upload.id))
            .bind(2, upload.repository)
            .bind(3, upload.started_at)
            .run();
      },
      Pool::Commit::kVisible);
}

Result<UploadRecord> PostgresMetadataStore::get_upload(std::string_view id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s,
                         lease->prepare("SELECT repo_id, started_at FROM uploads WHERE id=$1"));
  s.bind(1, id);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
  return UploadRecord{std::string(id), s.int64(0), s.int64(1)};
}

Status PostgresMetadataStore::delete_upload(std::string_view id) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM uploads WHERE id=$1"));
        return s.bind(1, id).run();
      },
      Pool::Commit::kVisible);
}

Status PostgresMetadataStore::acquire_upload_lease(std::string_view id, std::string_view holder,
                                                   int64_t now, int64_t until) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(
            auto s, c.prepare("UPDATE uploads SET lease_holder=$2, lease_until=$4 WHERE id=$1 AND "
                              "(lease_holder IS NULL OR lease_holder=$2 OR lease_until<$3)"));
        BERTH_RETURN_IF_ERROR(s.bind(1, id).bind(2, holder).bind(3, now).bind(4, until).run());
        if (s.affected() == 1) return Status::ok();
        BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM uploads WHERE id=$1"));
        q.bind(1, id);
        BERTH_ASSIGN_OR_RETURN(bool exists, q.step());
        if (!exists) return error(Code::kBlobUploadUnknown, "blob upload unknown to registry");
        return error(Code::kBlobUploadInvalid, "another request is writing to this upload");
      },
      Pool::Commit::kVisible);
}

Status PostgresMetadataStore::release_upload_lease(std::string_view id, std::string_view holder) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("UPDATE uploads SET lease_holder=NULL, "
                                                 "lease_until=0 WHERE id=$1 AND lease_holder=$2"));
        return s.bind(1, id).bind(2, holder).run();
      },
      Pool::Commit::kVisible);
}

Result<std::vector<UploadRecord>> PostgresMetadataStore::uploads_started_before(int64_t when) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT id, repo_id, started_at FROM uploads WHERE started_at<$1"));
  s.bind(1, when);
  return s.collect<UploadRecord>([](const Statement& row) {
    return UploadRecord{row.text(0), row.int64(1), row.int64(2)};
  });
}

Status PostgresMetadataStore::begin_blob_write(const Digest& digest, int64_t now) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(bool pending, pending_deletion(c, digest.str()));
        if (pending)
          return error(Code::kUnavailable, "the blob is being garbage collected; retry the upload");
        BERTH_ASSIGN_OR_RETURN(
            auto s,
            c.prepare("INSERT INTO blob_writes (digest, writers, started_at) VALUES ($1, 1, $2) "
                      "ON CONFLICT (digest) DO UPDATE SET writers=blob_writes.writers+1, "
                      "started_at=excluded.started_at"));
        return s.bind(1, std::string_view(digest.str())).bind(2, now).run();
      },
      Pool::Commit::kVisible);
}

Status PostgresMetadataStore::end_blob_write(const Digest& digest) {
  return pool_->write([&](Connection& c) { return end_blob_write_in(c, digest); },
                      Pool::Commit::kVisible);
}

Status PostgresMetadataStore::complete_upload(RepositoryId repo, const Digest& digest, int64_t size,
                                              std::string_view upload_id, int64_t now) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(link_blob_in(c, repo, digest, size, now));
    BERTH_RETURN_IF_ERROR(end_blob_write_in(c, digest));
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM uploads WHERE id=$1"));
    return d.bind(1, upload_id).run();
  });
}

}  // namespace berth
