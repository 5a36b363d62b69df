// SqliteMetadataStore: the BlobLinkStore role (meta/blob_link_store.h).
#include "meta/sqlite/sqlite_metadata_store.h"

#include "meta/sqlite/sqlite_metadata_rows.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;
using sqlite_meta::enqueue_candidate;
using sqlite_meta::link_blob_in;

Status SqliteMetadataStore::link_blob(RepositoryId repo, const Digest& digest, int64_t size,
                                      int64_t now) {
  return pool_->write([&](Connection& c) { return link_blob_in(c, repo, digest, size, now); });
}

Result<BlobLink> SqliteMetadataStore::get_blob_link(RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s, lease->prepare("SELECT size FROM blob_links WHERE repo_id=?1 AND digest=?2"));
  s.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return error(Code::kBlobUnknown, "blob unknown to registry");
  return BlobLink{digest, s.int64(0)};
}

Status SqliteMetadataStore::unlink_blob(RepositoryId repo, const Digest& digest) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s,
                           c.prepare("DELETE FROM blob_links WHERE repo_id=?1 AND digest=?2"));
    BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, std::string_view(digest.str())).run());
    if (c.changes() == 0) return error(Code::kBlobUnknown, "blob unknown to registry");
    return enqueue_candidate(c, digest.str(), 0);
  });
}

Result<std::vector<RepositoryId>> SqliteMetadataStore::repositories_with_blob(
    std::string_view account_id, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare("SELECT b.repo_id FROM blob_links b JOIN repositories r ON r.id=b.repo_id "
                     "WHERE b.digest=?1 AND r.account_id=?2 ORDER BY r.name COLLATE BINARY"));
  s.bind(1, std::string_view(digest.str())).bind(2, account_id);
  return s.collect<RepositoryId>([](const Statement& row) { return row.int64(0); });
}

Result<std::vector<BlobLink>> SqliteMetadataStore::linked_blobs() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT digest, max(size) FROM blob_links GROUP BY "
                                                "digest ORDER BY digest COLLATE BINARY"));
  std::vector<BlobLink> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    auto d = Digest::parse(s.text(0));
    if (d) out.push_back(BlobLink{std::move(d).value(), s.int64(1)});
  }
  return out;
}

}  // namespace berth
