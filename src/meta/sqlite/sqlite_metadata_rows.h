// Pieces of SqliteMetadataStore that more than one role's file uses: the
// schema's constants, row readers and statements run inside a caller's
// transaction. Private to src/meta/sqlite/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"
#include "meta/sqlite/sqlite_db.h"
#include "meta/stored_formats.h"

namespace berth::sqlite_meta {

// Every ordered or paged query says COLLATE BINARY (memcmp of the UTF-8
// bytes), the byte order the role interfaces promise (core/records.h,
// PageRequest); it is also the columns' default, which the indexes use.

// manifest_refs.kind
inline constexpr int kRefBlob = 0;
inline constexpr int kRefManifest = 1;

// The columns read_repo reads, in its order.
inline constexpr const char* kRepoColumns =
    "id, account_id, name, created_at, tag_mutability, tag_mutability_exclusions, scan_on_push, "
    "encryption_type, kms_key, lifecycle_policy, lifecycle_evaluated_at";

RepositoryRecord read_repo(const sqlite::Statement& s);

// The typed fields' text forms (meta/stored_formats.h).
using stored_formats::annotations_from_json;
using stored_formats::annotations_to_json;
using stored_formats::preview_results_from_json;
using stored_formats::preview_results_to_json;
using stored_formats::strings_from_json;
using stored_formats::strings_to_json;

// The row id of manifest `digest` in `repo`, nullopt when absent.
Result<std::optional<int64_t>> manifest_id(sqlite::Connection& c, RepositoryId repo,
                                           std::string_view digest);

// Queues `digest` as a garbage-collection candidate at `now`; an already
// queued one keeps its time.
Status enqueue_candidate(sqlite::Connection& c, std::string_view digest, int64_t now);

// Queues the blobs a manifest refers to, before it goes. The caller passes no
// time, so they count as queued at 0 (as unlink_blob's do): every pass sees
// them, whatever its clock says.
Status enqueue_manifest_blobs(sqlite::Connection& c, int64_t manifest_id);

// Whether `digest` is claimed by the collector and its bytes not yet gone.
Result<bool> pending_deletion(sqlite::Connection& c, std::string_view digest);

// link_blob inside the caller's transaction.
Status link_blob_in(sqlite::Connection& c, RepositoryId repo, const Digest& digest, int64_t size,
                    int64_t now);

// Appends `events` to the outbox within the caller's transaction
// (sqlite_events.cc); kAlreadyExists when an id is taken.
Status insert_events(sqlite::Connection& c, const std::vector<OutboxEvent>& events);

// The one measure of stored bytes, for the usage report (UsageStore) and the
// quotas; within the caller's transaction or lease. A repository holds its
// blob links' sizes plus its manifests' lengths; an account holds each blob
// and each manifest once, however many of its repositories hold it.
// kRepositoryBytesOfR is the repository's measure as an expression over `r`,
// a row of repositories, for listings.
extern const char* const kRepositoryBytesOfR;
Result<int64_t> repository_bytes_in(sqlite::Connection& c, RepositoryId repo);
Result<int64_t> account_bytes_in(sqlite::Connection& c, std::string_view account_id);

// What a write adds, for check_quota_in.
enum class QuotaItem { kBlob, kManifest };

// Within the caller's transaction: kLimitExceeded (meta/quota_store.h) when
// adding `item` `digest` of `size` bytes to `repo` would take the repository
// or its account over a quota; OK when no quota applies or the repository
// (for the account quota: the account) already holds it. Checks the quotas
// of the repository and of its account (one indexed read when none is set).
Status check_quota_in(sqlite::Connection& c, RepositoryId repo, QuotaItem item,
                      std::string_view digest, int64_t size);

}  // namespace berth::sqlite_meta
