// MetadataStore on PostgreSQL. Thread-safe; any number of berth processes and
// nodes may share one database.
//
// The same files as the SQLite store (meta/sqlite/), one per role:
// schema.cc (open), migrations.cc (the schema versions), postgres_<role>.cc
// for each role, and postgres_metadata_rows.{h,cc} for what several roles
// share. Every method is one transaction (a single statement, or
// pg::Pool::write / read); writes run SERIALIZABLE and are retried on
// serialization failures, which gives tag moves, GC claims, upload leases and
// upload commits the outcome SQLite's single writer gives them. A database
// that cannot be reached makes a method fail with kUnavailable.
#pragma once

#include <memory>
#include <string>

#include "meta/metadata_store.h"
#include "meta/postgres/migrations.h"
#include "meta/postgres/postgres_db.h"

namespace berth {

class PostgresMetadataStore final : public MetadataStore {
 public:
  // Connects to the database `opts` names (kUnavailable, naming the DSN
  // without its password, when it cannot) and migrates its schema to the
  // latest version (meta/postgres/migrations.h), reporting the versions
  // before and after in `*report` when given. kFailedPrecondition, naming
  // both versions, when the database is newer than this binary.
  static Result<std::unique_ptr<PostgresMetadataStore>> open(
      pg::Pool::Options opts, pg_meta::MigrationReport* report = nullptr);

  // RepositoryStore (postgres_repositories.cc)
  Result<RepositoryRecord> create_repository(const RepositoryRecord& repo) override;
  Result<RepositoryRecord> ensure_repository(std::string_view account_id, std::string_view name,
                                             int64_t now) override;
  Result<RepositoryRecord> get_repository(std::string_view account_id,
                                          std::string_view name) override;
  Result<RepositoryRecord> get_repository_by_id(RepositoryId id) override;
  Result<std::vector<RepositoryRecord>> list_repositories(std::string_view account_id,
                                                          const PageRequest& page) override;
  Status update_repository(const RepositoryRecord& repo) override;
  Status delete_repository(RepositoryId id, bool force) override;

  // BlobLinkStore (postgres_blob_links.cc)
  Status link_blob(RepositoryId repo, const Digest& digest, int64_t size, int64_t now) override;
  Result<BlobLink> get_blob_link(RepositoryId repo, const Digest& digest) override;
  Status unlink_blob(RepositoryId repo, const Digest& digest) override;
  Result<std::vector<RepositoryId>> repositories_with_blob(std::string_view account_id,
                                                           const Digest& digest) override;
  Result<std::vector<BlobLink>> linked_blobs() override;

  // UploadStore (postgres_uploads.cc)
  Status create_upload(const UploadRecord& upload) override;
  Result<UploadRecord> get_upload(std::string_view id) override;
  Status delete_upload(std::string_view id) override;
  Status acquire_upload_lease(std::string_view id, std::string_view holder, int64_t now,
                              int64_t until) override;
  Status release_upload_lease(std::string_view id, std::string_view holder) override;
  Result<std::vector<UploadRecord>> uploads_started_before(int64_t when) override;
  Status begin_blob_write(const Digest& digest, int64_t now) override;
  Status end_blob_write(const Digest& digest) override;
  Status complete_upload(RepositoryId repo, const Digest& digest, int64_t size,
                         std::string_view upload_id, int64_t now) override;

  // ManifestStore (postgres_manifests.cc)
  Status put_manifest(const PutManifestRequest& req) override;
  Result<ManifestRecord> get_manifest(RepositoryId repo, const Digest& digest) override;
  Result<ManifestRecord> get_manifest_by_tag(RepositoryId repo, std::string_view tag) override;
  Result<ResolvedManifest> resolve_manifest(std::string_view account_id, std::string_view repo_name,
                                            const Digest* digest, std::string_view tag) override;
  Status delete_manifest(RepositoryId repo, const Digest& digest,
                         const DeletionEvents& events = {}) override;
  Status delete_tag(RepositoryId repo, std::string_view tag,
                    const DeletionEvents& events = {}) override;
  Result<ImageDeletion> delete_image(RepositoryId repo, const Digest& digest,
                                     std::optional<std::string_view> tag,
                                     const DeletionEvents& events = {}) override;
  Result<std::vector<std::string>> list_tags(RepositoryId repo, const PageRequest& page) override;
  Result<std::vector<ReferrerRecord>> list_referrers(
      RepositoryId repo, const Digest& subject,
      std::optional<std::string_view> artifact_type) override;
  Result<std::vector<ImageRecord>> list_images(RepositoryId repo, const PageRequest& page) override;
  Result<std::vector<std::string>> tags_for_manifest(RepositoryId repo,
                                                     const Digest& digest) override;
  Status record_pull(RepositoryId repo, const Digest& digest, int64_t when_ms) override;

  // LifecycleStore (postgres_lifecycle.cc)
  Status set_lifecycle_policy(RepositoryId repo, const std::optional<std::string>& text) override;
  Status mark_lifecycle_evaluated(RepositoryId repo, int64_t when) override;
  Result<std::vector<RepositoryRecord>> repositories_with_lifecycle_policy() override;
  Status put_lifecycle_preview(RepositoryId repo, const LifecyclePreviewRecord& preview) override;
  Result<LifecyclePreviewRecord> get_lifecycle_preview(RepositoryId repo) override;
  Status expire_manifest(RepositoryId repo, const Digest& digest,
                         const std::vector<std::string>& expected_tags,
                         const DeletionEvents& events = {}) override;
  Status record_expirations(const std::vector<ExpirationRecord>& expirations) override;
  Result<std::vector<ExpirationRecord>> list_expirations(std::string_view account_id,
                                                         size_t limit) override;

  // GcStore (postgres_gc.cc)
  Result<std::vector<GcCandidate>> gc_candidates(int64_t queued_before, size_t limit) override;
  Status gc_enqueue(const std::vector<Digest>& digests, int64_t now) override;
  Result<std::optional<int64_t>> gc_claim(const Digest& digest, int64_t linked_before,
                                          int64_t writes_after, bool dry_run, int64_t now) override;
  Result<std::vector<Digest>> gc_drop_referenced(const std::vector<Digest>& digests) override;
  Status gc_release(const Digest& digest) override;
  Result<std::vector<PendingDeletion>> gc_pending() override;

  // UsageStore (postgres_usage.cc)
  Result<std::vector<RepositoryUsage>> repository_usage(std::string_view account_id) override;
  Result<int64_t> account_usage(std::string_view account_id) override;
  Status put_storage_samples(const std::vector<StorageSampleRow>& rows) override;
  Result<std::vector<StorageSampleRow>> storage_samples(std::string_view account_id,
                                                        int64_t from_ms, int64_t to_ms) override;
  Status add_transfer(const std::vector<TransferRow>& rows) override;
  Result<std::vector<TransferRow>> transfer(std::string_view account_id, int64_t from_ms,
                                            int64_t to_ms) override;
  Result<size_t> prune_usage(int64_t before_ms) override;

  // QuotaStore (postgres_quotas.cc)
  Status set_quota(std::string_view account_id, std::optional<std::string_view> repository,
                   int64_t bytes) override;
  Status clear_quota(std::string_view account_id,
                     std::optional<std::string_view> repository) override;
  Result<std::vector<StorageQuota>> list_quotas(
      std::optional<std::string_view> account_id) override;
  Status check_blob_quota(RepositoryId repo, const Digest& digest, int64_t size) override;

  // ResourceTagStore (postgres_resource_tags.cc)
  Result<std::vector<std::pair<std::string, std::string>>> get_resource_tags(
      RepositoryId repo) override;
  Result<std::vector<RepositoryRecord>> repositories_with_resource_tag(
      std::string_view key, std::string_view value) override;
  Status set_resource_tags(RepositoryId repo,
                           const std::vector<std::pair<std::string, std::string>>& tags) override;
  Status update_resource_tags(RepositoryId repo,
                              const std::vector<std::pair<std::string, std::string>>& set,
                              const std::vector<std::string>& remove,
                              std::size_t max_tags) override;

  // ScanStore (postgres_scans.cc)
  Status request_scan(RepositoryId repo, const Digest& digest, int64_t now_ms,
                      int64_t not_since_ms) override;
  Result<ScanRecord> get_scan(RepositoryId repo, const Digest& digest) override;
  Result<std::optional<ScanRecord>> claim_scan(std::string_view holder, int64_t now_ms,
                                               int64_t until_ms) override;
  Status renew_scan_lease(RepositoryId repo, const Digest& digest, std::string_view holder,
                          int64_t until_ms) override;
  Status finish_scan(RepositoryId repo, const Digest& digest, std::string_view holder,
                     const ScanOutcome& outcome) override;
  Result<std::vector<scan::Finding>> scan_findings(RepositoryId repo,
                                                   const Digest& digest) override;
  Result<std::vector<ScanSummary>> scan_summaries(RepositoryId repo,
                                                  const std::vector<Digest>& digests) override;
  Result<ScanQueueDepth> scan_queue_depth() override;
  Result<std::optional<scan::Inventory>> image_inventory(RepositoryId repo,
                                                         const Digest& digest) override;
  Result<std::vector<ScanRecord>> scans_to_rematch(int64_t advisory_version, size_t limit) override;
  Status rematch_scan(RepositoryId repo, const Digest& digest, int64_t previous_version,
                      const ScanOutcome& outcome) override;
  Result<RegistryScanningConfiguration> get_registry_scanning_configuration(
      std::string_view account_id) override;
  Status put_registry_scanning_configuration(std::string_view account_id,
                                             const RegistryScanningConfiguration& config) override;

  // EventOutboxStore (postgres_events.cc)
  Status append_events(const std::vector<OutboxEvent>& events) override;
  Result<std::vector<OutboxEvent>> undelivered_events(std::string_view webhook,
                                                      int64_t after_sequence,
                                                      size_t limit) override;
  Status mark_event_delivered(std::string_view webhook, int64_t sequence, int64_t when_ms) override;
  Result<size_t> prune_events(const std::vector<std::string>& webhooks,
                              int64_t created_before_ms) override;
  Result<std::vector<WebhookBackoff>> webhook_backoffs(std::string_view webhook) override;
  Status set_webhook_backoff(std::string_view webhook, const WebhookBackoff& backoff) override;
  Status clear_webhook_backoff(std::string_view webhook, std::string_view repository_key) override;
  Result<size_t> prune_webhook_backoffs(const std::vector<std::string>& webhooks) override;

  // AdvisoryStore (postgres_advisories.cc)
  Result<AdvisoryImportRecord> import_advisories(const std::vector<scan::Advisory>& advisories,
                                                 int64_t produced_at_ms, std::string_view sources,
                                                 int64_t now_ms) override;
  Result<std::optional<AdvisoryImportRecord>> latest_advisory_import() override;
  Result<std::vector<scan::Advisory>> advisories_for(
      std::string_view ecosystem, const std::vector<std::string>& packages) override;

  // PolicyStore (postgres_policies.cc)
  Result<std::optional<std::string>> get_repository_policy(RepositoryId repo) override;
  Result<std::optional<std::string>> set_repository_policy(
      RepositoryId repo, const std::optional<std::string>& text) override;
  Result<std::optional<std::string>> get_registry_policy(std::string_view account_id) override;
  Result<std::optional<std::string>> set_registry_policy(
      std::string_view account_id, const std::optional<std::string>& text) override;
  Result<std::vector<std::pair<std::string, std::string>>> list_user_policies(
      std::string_view account_id, std::string_view user) override;
  Status put_user_policy(std::string_view account_id, std::string_view user, std::string_view name,
                         std::string_view text) override;
  Status delete_user_policy(std::string_view account_id, std::string_view user,
                            std::string_view name) override;
  Result<std::vector<std::string>> list_attached_user_policies(std::string_view account_id,
                                                               std::string_view user) override;
  Status attach_user_policy(std::string_view account_id, std::string_view user,
                            std::string_view arn) override;
  Status detach_user_policy(std::string_view account_id, std::string_view user,
                            std::string_view arn) override;
  Result<std::vector<std::pair<std::string, std::string>>> list_group_policies(
      std::string_view account_id, std::string_view group) override;
  Status put_group_policy(std::string_view account_id, std::string_view group,
                          std::string_view name, std::string_view text) override;
  Status delete_group_policy(std::string_view account_id, std::string_view group,
                             std::string_view name) override;
  Result<std::vector<std::string>> list_attached_group_policies(std::string_view account_id,
                                                                std::string_view group) override;
  Status attach_group_policy(std::string_view account_id, std::string_view group,
                             std::string_view arn) override;
  Status detach_group_policy(std::string_view account_id, std::string_view group,
                             std::string_view arn) override;

  // The connection pool, which the identity store shares.
  pg::Pool& pool() { return *pool_; }

 private:
  explicit PostgresMetadataStore(std::unique_ptr<pg::Pool> pool) : pool_(std::move(pool)) {}

  std::unique_ptr<pg::Pool> pool_;
};

}  // namespace berth
