// What berth records about repositories, manifests, tags, uploads and their
// neighbours: plain values exchanged between the stores (meta/), the
// application layer (registry/) and the API edges (oci/, ecr/), which see
// these types without seeing a store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.h"

namespace berth {

using RepositoryId = int64_t;

struct RepositoryRecord {
  RepositoryId id = 0;
  std::string account_id;
  std::string name;
  int64_t created_at = 0;  // seconds since epoch
  // ECR settings, stored as ECR spells them.
  std::string tag_mutability = "MUTABLE";
  // The WILDCARD exclusion filters' `filter` strings, in request order.
  std::vector<std::string> tag_mutability_exclusions;
  bool scan_on_push = false;
  std::string encryption_type = "AES256";
  std::string kms_key;
  std::optional<std::string> lifecycle_policy;  // the text as the user sent it
  std::optional<int64_t> lifecycle_evaluated_at;
};

struct ManifestRecord {
  Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::optional<Digest> subject;
  std::map<std::string, std::string> annotations;  // the manifest's top-level annotations
  std::string bytes;                               // exactly as pushed
  int64_t image_size = 0;                          // config + layers, as ECR's imageSizeInBytes
  int64_t pushed_at_ms = 0;                        // milliseconds since the epoch
  std::optional<int64_t> last_pulled_at_ms;
  // Set by the store: grows with every manifest it adds, so it orders
  // manifests pushed within the same millisecond by push order. Ignored by
  // put_manifest.
  int64_t push_sequence = 0;
};

// A manifest found by repository name, with that repository's id.
struct ResolvedManifest {
  RepositoryId repository = 0;
  ManifestRecord manifest;
};

// What a manifest refers to; recorded with it so that deletes and garbage
// collection know the graph without re-parsing.
struct ManifestReferences {
  std::vector<Digest> blobs;      // must be linked to the repository
  std::vector<Digest> manifests;  // must exist in the repository (index children)
};

// One event in the outbox (meta/event_outbox_store.h), as core/events.h
// builds it: the facts of an EventBridge-shaped event, rendered for a
// webhook only when delivered.
struct OutboxEvent {
  int64_t sequence = 0;     // assigned by the store: commit order
  std::string id;           // unique; the same on every delivery attempt
  std::string detail_type;  // "ECR Image Action", ...
  std::string account_id;
  std::string repository;
  std::string detail;   // the event's "detail", a JSON object
  int64_t time_ms = 0;  // milliseconds since the epoch
};

// The events a deletion reports, built inside the deleting transaction from
// what it deleted: the manifest's digest and the tags removed with it (a tag
// delete: that tag). The store writes them to the event outbox in that same
// transaction, so an acknowledged delete always has its events and a refused
// one has none. An empty function reports nothing.
using DeletionEvents = std::function<std::vector<OutboxEvent>(
    const Digest& digest, const std::vector<std::string>& tags)>;

struct PutManifestRequest {
  RepositoryId repository = 0;
  ManifestRecord manifest;
  ManifestReferences references;
  std::optional<std::string> tag;
  // When set and the tag already points at a different digest, the put fails
  // with kTagImmutable and nothing changes.
  bool tag_immutable = false;
  // When set and the manifest already exists, untagged or with `tag`
  // already pointing at it, the put fails with kAlreadyExists and nothing
  // changes (ECR PutImage's "image already exists"). Checked in the put's own
  // transaction, so of concurrent identical puts exactly one succeeds.
  bool refuse_existing = false;
  // Appended to the event outbox in the put's own transaction: an
  // acknowledged put always has its events, a failed one never.
  std::vector<OutboxEvent> events;
};

struct BlobLink {
  Digest digest;
  int64_t size = 0;
};

struct UploadRecord {
  std::string id;
  RepositoryId repository = 0;
  int64_t started_at = 0;
};

struct ReferrerRecord {
  Digest digest;
  std::string media_type;
  std::string artifact_type;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
};

struct ImageRecord {
  ManifestRecord manifest;  // bytes left empty by list calls
  std::vector<std::string> tags;
  std::vector<Digest> children;  // manifests an index lists
};

// What deleting one image (MetadataStore::delete_image) did.
struct ImageDeletion {
  std::vector<std::string> tags;  // the manifest's tags before the call, sorted
  bool manifest_deleted = false;
  // Set when the manifest was to go with its last tag but an index in the
  // repository lists it, so it stayed: the index that lists it.
  std::optional<Digest> kept_for_index;
};

// One expiration a lifecycle preview plans.
struct LifecyclePreviewResult {
  std::string digest;
  std::vector<std::string> tags;
  int64_t pushed_at_ms = 0;
  int rule_priority = 0;  // the rule that expires it

  friend bool operator==(const LifecyclePreviewResult&, const LifecyclePreviewResult&) = default;
};

struct LifecyclePreviewRecord {
  std::string policy_text;
  std::string status;                           // IN_PROGRESS, COMPLETE, EXPIRED, FAILED
  std::vector<LifecyclePreviewResult> results;  // the planned expirations, in plan order
  int64_t created_at = 0;
};

struct ExpirationRecord {
  std::string repository;
  Digest digest;
  std::vector<std::string> tags;
  int rule_priority = 0;
  int64_t expired_at = 0;
};

struct GcCandidate {
  Digest digest;
  int64_t since = 0;  // when it became a candidate
};

// A blob the collector claimed whose bytes are not yet known to be gone.
struct PendingDeletion {
  Digest digest;
  int64_t claimed_at = 0;  // the `now` of gc_claim
};

struct RepositoryUsage {
  std::string name;
  int64_t bytes = 0;  // distinct blobs linked to the repository plus its manifests
};

// A page request: entries strictly after `after` (empty: from the start), at
// most `limit` (0: no limit), in byte order: names compare as their UTF-8
// bytes do under memcmp, so "B" < "_" < "a" < "é" whatever the locale (SQLite's
// BINARY collation; PostgreSQL needs COLLATE "C"). Every listing a store
// documents as sorted uses the same order.
struct PageRequest {
  std::string after;
  size_t limit = 0;
};

}  // namespace berth
