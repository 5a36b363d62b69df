// StoreMigration: copies a whole registry from one pair of stores (metadata
// and identities, blobs) into another, e.g. from the embedded SQLite + disk
// into PostgreSQL + S3 (`berth migrate-store`). Only the store interfaces are
// used, so any direction works.
//
// What is copied: accounts, their registry policies, users with their inline
// and attached policies, access keys (sealed secrets re-sealed by the
// caller's hook, active state and token revocation time), repositories with
// their settings (tag mutability and exclusions, scan on push, encryption,
// lifecycle policy and when it last ran, repository policy, resource tags),
// every stored blob (streamed and verified by digest on both sides), the blob
// links of each repository, manifests (with their subject, so referrers
// follow), tags and last pull times, then storage quotas. Not copied: upload sessions in flight,
// scan results and findings, imported advisories, lifecycle previews and the
// expiration history, events waiting for webhooks, and the registry token key
// (the destination keeps its own, so registry passwords must be fetched anew).
//
// Every write is an upsert or is skipped when the destination already has the
// item, so a run that was killed can simply be run again; blobs the
// destination already holds with the same size are not copied again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "blob/blob_store.h"
#include "core/status.h"
#include "meta/identity_store.h"
#include "meta/metadata_store.h"

namespace berth {

// One side of a migration; the stores are borrowed for the migration's life.
struct MigrationStores {
  MetadataStore& meta;
  IdentityStore& identity;
  BlobStore& blobs;
};

// Where a run is, for a progress display. `phase` is one of "identities",
// "blobs", "repositories".
struct MigrationProgress {
  std::string phase;
  uint64_t done = 0;   // items of the phase handled so far
  uint64_t total = 0;  // items of the phase known so far (blobs: grows page by page)
  uint64_t bytes = 0;  // blob bytes copied so far
};

struct MigrationOptions {
  // Count what would be copied; write nothing.
  bool dry_run = false;
  // Gives an access key's sealed secret as the destination must store it
  // (the two sides may seal under different secret keys). Empty: copied as
  // is. A failure is reported for that key and the key is not copied.
  std::function<Result<std::string>(const AccessKeyRecord& key)> reseal_secret;
  // Called after each item and at each phase's start and end; on the
  // calling thread.
  std::function<void(const MigrationProgress&)> progress;
  // Test-only: sleep this long after each blob copied, so that a test can
  // interrupt a run midway (0: no pause).
  std::chrono::milliseconds blob_pause{0};
  // Bytes read from the source per step of a blob copy (bounds memory).
  size_t copy_buffer_bytes = 1 << 20;
};

// What a run did (or, dry, would do). Counts are of items written (or found
// already in place) at the destination.
struct MigrationReport {
  uint64_t accounts = 0;
  uint64_t users = 0;
  uint64_t access_keys = 0;
  uint64_t user_policies = 0;  // inline policies and attachments
  uint64_t user_tags = 0;      // key/value pairs
  uint64_t groups = 0;
  uint64_t group_members = 0;
  uint64_t group_policies = 0;     // inline policies and attachments
  uint64_t registry_policies = 0;  // accounts with a registry policy
  uint64_t repositories = 0;
  uint64_t repository_policies = 0;
  uint64_t lifecycle_policies = 0;
  uint64_t resource_tags = 0;   // key/value pairs
  uint64_t storage_quotas = 0;  // an account's and its repositories' quotas
  uint64_t blob_links = 0;
  uint64_t manifests = 0;
  uint64_t tags = 0;
  uint64_t blobs_copied = 0;
  uint64_t blobs_present = 0;  // already at the destination, with the right size
  uint64_t bytes_copied = 0;
  // One line per item that could not be copied, naming it (e.g. "blob
  // sha256:...: the source's bytes hash to sha256:..."). Non-empty means the
  // destination is incomplete; never holds a secret.
  std::vector<std::string> failures;
};

// Copies `from` into `to`. Not thread-safe: one run at a time per
// destination (a run aborts the destination uploads an interrupted run left,
// recognised by their "migrate-" id prefix). The source should not change
// during a final run; a run while it changes copies a consistent item at a
// time, and the next run copies the rest.
class StoreMigration {
 public:
  StoreMigration(MigrationStores from, MigrationStores to, MigrationOptions options);

  // Runs every phase, continuing past per-item failures (listed in the
  // report). Fails only when a store cannot be listed at all (the
  // destination is then partly written; run again).
  Result<MigrationReport> run();

  // Copies one blob from the source to the destination, streaming, hashing
  // the source's bytes on the way and then the destination's committed bytes.
  // kDigestInvalid naming both digests when the source's bytes do not hash
  // to `digest` (nothing is committed); kInternal when the destination's
  // committed bytes do not (they are removed); store errors as they come.
  // Returns the bytes copied.
  Result<uint64_t> copy_blob(const Digest& digest);
  // An account's groups, with their policies and members (after its users).
  Status copy_groups(const std::string& account_id, MigrationReport& report);

 private:
  Status copy_identities(MigrationReport& report);
  Status copy_blobs(MigrationReport& report);
  Status copy_repositories(MigrationReport& report);
  Status copy_repository(const RepositoryRecord& source, MigrationReport& report);
  void progress(const std::string& phase, uint64_t done, uint64_t total, uint64_t bytes);

  MigrationStores from_;
  MigrationStores to_;
  MigrationOptions options_;
  std::vector<Digest> failed_blobs_;  // sorted; their links and manifests are not copied
  std::vector<BlobLink> linked_;      // every digest some source repository links
};

}  // namespace berth
