// Pieces of PostgresMetadataStore that more than one role's file uses: the
// schema's constants, row readers and statements run inside a caller's
// transaction. Private to src/meta/postgres/.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"
#include "meta/postgres/postgres_db.h"
#include "meta/stored_formats.h"

namespace berth::pg_meta {

// Every ordered or paged query says COLLATE "C" (byte order of the UTF-8
// bytes), the order the role interfaces promise (core/records.h,
// PageRequest); it is also the columns' collation, which the indexes use.

using stored_formats::annotations_from_json;
using stored_formats::annotations_to_json;
using stored_formats::preview_results_from_json;
using stored_formats::preview_results_to_json;
using stored_formats::strings_from_json;
using stored_formats::strings_to_json;

// manifest_refs.kind
inline constexpr int kRefBlob = 0;
inline constexpr int kRefManifest = 1;

// The columns read_repo reads, in its order.
inline constexpr const char* kRepoColumns =
    "id, account_id, name, created_at, tag_mutability, tag_mutability_exclusions, scan_on_push, "
    "encryption_type, kms_key, lifecycle_policy, lifecycle_evaluated_at";

RepositoryRecord read_repo(const pg::Statement& s);

// A page's LIMIT: NULL (no limit) for 0.
std::optional<int64_t> page_limit(size_t limit);

// The row id of manifest `digest` in `repo`, nullopt when absent.
Result<std::optional<int64_t>> manifest_id(pg::Connection& c, RepositoryId repo,
                                           std::string_view digest);

// Queues `digest` as a garbage-collection candidate at `now`; an already
// queued one keeps its time.
Status enqueue_candidate(pg::Connection& c, std::string_view digest, int64_t now);

// Queues the blobs a manifest refers to, before it goes, at 0 (as
// unlink_blob's): every pass sees them, whatever its clock says.
Status enqueue_manifest_blobs(pg::Connection& c, int64_t manifest_id);

// Whether `digest` is claimed by the collector and its bytes not yet gone.
Result<bool> pending_deletion(pg::Connection& c, std::string_view digest);

// link_blob inside the caller's transaction.
Status link_blob_in(pg::Connection& c, RepositoryId repo, const Digest& digest, int64_t size,
                    int64_t now);
// Appends `events` to the outbox in the caller's transaction (kAlreadyExists
// when an id is taken). Transactions that append events take one advisory
// lock first, so sequence numbers follow commit order, as the deliverer's
// "everything above what I handled" reading needs.
Status insert_events(pg::Connection& c, const std::vector<OutboxEvent>& events);

// The one measure of stored bytes, for the usage report (UsageStore) and the
// quotas; within the caller's transaction or lease. A repository holds its
// blob links' sizes plus its manifests' lengths; an account holds each blob
// and each manifest once, however many of its repositories hold it.
// kRepositoryBytesOfR is the repository's measure as an expression over `r`,
// a row of repositories, for listings.
extern const char* const kRepositoryBytesOfR;
Result<int64_t> repository_bytes_in(pg::Connection& c, RepositoryId repo);
Result<int64_t> account_bytes_in(pg::Connection& c, std::string_view account_id);

// What a write adds, for check_quota_in.
enum class QuotaItem { kBlob, kManifest };

// Within the caller's transaction: kLimitExceeded (meta/quota_store.h) when
// adding `item` `digest` of `size` bytes to `repo` would take the repository
// or its account over a quota; OK when no quota applies or the repository
// (for the account quota: the account) already holds it. Checks the quotas
// of the repository and of its account (one indexed read when none is set).
// Locks the applicable quota rows (FOR UPDATE) so that concurrent writes
// under one quota take turns.
Status check_quota_in(pg::Connection& c, RepositoryId repo, QuotaItem item, std::string_view digest,
                      int64_t size);

}  // namespace berth::pg_meta
