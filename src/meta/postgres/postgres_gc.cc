// PostgresMetadataStore: the GcStore role (meta/gc_store.h).
#include "meta/postgres/postgres_metadata_store.h"

#include "meta/postgres/postgres_metadata_rows.h"

namespace berth {
using pg::Connection;
using pg_meta::enqueue_candidate;

Result<std::vector<GcCandidate>> PostgresMetadataStore::gc_candidates(int64_t queued_before,
                                                                      size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT digest, since FROM gc_candidates WHERE since<$1 ORDER BY since LIMIT $2"));
  s.bind(1, queued_before).bind(2, static_cast<int64_t>(limit));
  std::vector<GcCandidate> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    auto d = Digest::parse(s.text(0));
    if (d) out.push_back(GcCandidate{std::move(d).value(), s.int64(1)});
  }
  return out;
}

Status PostgresMetadataStore::gc_enqueue(const std::vector<Digest>& digests, int64_t now) {
  return pool_->write([&](Connection& c) -> Status {
    for (const auto& d : digests) BERTH_RETURN_IF_ERROR(enqueue_candidate(c, d.str(), now));
    return Status::ok();
  });
}

Result<std::optional<int64_t>> PostgresMetadataStore::gc_claim(const Digest& digest,
                                                               int64_t linked_before,
                                                               int64_t writes_after, bool dry_run,
                                                               int64_t now) {
  std::optional<int64_t> claimed;
  Status st = pool_->write([&](Connection& c) -> Status {
    claimed.reset();
    const std::string_view d = digest.str();
    // Only a queued candidate can be claimed: a concurrent pass that claimed
    // it first removed it from the queue.
    BERTH_ASSIGN_OR_RETURN(auto queued, c.prepare("SELECT 1 FROM gc_candidates WHERE digest=$1"));
    queued.bind(1, d);
    BERTH_ASSIGN_OR_RETURN(bool is_candidate, queued.step());
    if (!is_candidate) return Status::ok();
    auto keep = [&]() -> Status {
      if (dry_run) return Status::ok();
      BERTH_ASSIGN_OR_RETURN(auto del, c.prepare("DELETE FROM gc_candidates WHERE digest=$1"));
      return del.bind(1, d).run();
    };
    BERTH_ASSIGN_OR_RETURN(
        auto refs, c.prepare("SELECT 1 FROM manifest_refs WHERE kind=0 AND digest=$1 LIMIT 1"));
    refs.bind(1, d);
    BERTH_ASSIGN_OR_RETURN(bool referenced, refs.step());
    if (referenced) return keep();
    BERTH_ASSIGN_OR_RETURN(
        auto young,
        c.prepare("SELECT 1 FROM blob_links WHERE digest=$1 AND linked_at>=$2 LIMIT 1"));
    young.bind(1, d).bind(2, linked_before);
    BERTH_ASSIGN_OR_RETURN(bool is_young, young.step());
    if (is_young) return Status::ok();  // stays a candidate until its grace ends
    BERTH_ASSIGN_OR_RETURN(
        auto writing, c.prepare("SELECT 1 FROM blob_writes WHERE digest=$1 AND started_at>=$2"));
    writing.bind(1, d).bind(2, writes_after);
    BERTH_ASSIGN_OR_RETURN(bool is_writing, writing.step());
    if (is_writing) return Status::ok();
    BERTH_ASSIGN_OR_RETURN(auto size,
                           c.prepare("SELECT max(size) FROM blob_links WHERE digest=$1"));
    size.bind(1, d);
    BERTH_ASSIGN_OR_RETURN(bool row, size.step());
    claimed = row && !size.is_null(0) ? size.int64(0) : 0;
    if (dry_run) return Status::ok();
    for (const char* sql :
         {"DELETE FROM blob_links WHERE digest=$1", "DELETE FROM gc_candidates WHERE digest=$1",
          "DELETE FROM blob_writes WHERE digest=$1"}) {
      BERTH_ASSIGN_OR_RETURN(auto s, c.prepare(sql));
      BERTH_RETURN_IF_ERROR(s.bind(1, d).run());
    }
    BERTH_ASSIGN_OR_RETURN(auto p,
                           c.prepare("INSERT INTO gc_pending (digest, since) VALUES ($1, $2) "
                                     "ON CONFLICT (digest) DO UPDATE SET since=excluded.since"));
    return p.bind(1, d).bind(2, now).run();
  });
  if (!st.is_ok()) return st;
  return claimed;
}

Result<std::vector<Digest>> PostgresMetadataStore::gc_drop_referenced(
    const std::vector<Digest>& digests) {
  std::vector<Digest> dropped;
  Status st = pool_->write([&](Connection& c) -> Status {
    dropped.clear();
    for (const auto& d : digests) {
      BERTH_ASSIGN_OR_RETURN(auto s,
                             c.prepare("DELETE FROM gc_candidates WHERE digest=$1 AND EXISTS "
                                       "(SELECT 1 FROM manifest_refs WHERE kind=0 AND digest=$1)"));
      BERTH_RETURN_IF_ERROR(s.bind(1, std::string_view(d.str())).run());
      if (s.affected() > 0) dropped.push_back(d);
    }
    return Status::ok();
  });
  if (!st.is_ok()) return st;
  return dropped;
}

Status PostgresMetadataStore::gc_release(const Digest& digest) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM gc_pending WHERE digest=$1"));
    return s.bind(1, std::string_view(digest.str())).run();
  });
}

Result<std::vector<PendingDeletion>> PostgresMetadataStore::gc_pending() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT digest, since FROM gc_pending"));
  std::vector<PendingDeletion> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    auto d = Digest::parse(s.text(0));
    if (d) out.push_back(PendingDeletion{std::move(d).value(), s.int64(1)});
  }
  return out;
}

}  // namespace berth
