// MetadataStore: everything berth knows besides blob bytes: repositories,
// manifests, tags, which repository may see which blob, upload sessions and
// referrers. Implementations: sqlite/ (embedded) and postgres/ (shared by
// several nodes); every implementation runs tests/unit/metadata_store_conformance.
//
// The store is the sum of its roles, one interface each, so that a caller
// can depend on just the part it uses:
//   RepositoryStore   (meta/repository_store.h)    repositories and their settings
//   BlobLinkStore     (meta/blob_link_store.h)     which repository sees which blob
//   UploadStore       (meta/upload_store.h)        upload sessions, leases, blob writes
//   ManifestStore     (meta/manifest_store.h)      manifests, tags, referrers, pulls
//   LifecycleStore    (meta/lifecycle_store.h)     policies, previews, expirations
//   GcStore           (meta/gc_store.h)            garbage-collection candidates and claims
//   UsageStore        (meta/usage_store.h)         bytes per repository and account
//   QuotaStore        (meta/quota_store.h)         storage quotas per repository and account
//   ResourceTagStore  (meta/resource_tag_store.h)  ECR resource tags
//   PolicyStore       (meta/policy_store.h)        repository, registry and user policies
//   EventOutboxStore  (meta/event_outbox_store.h)  events waiting for webhooks
//   AdvisoryStore     (meta/advisory_store.h)      imported vulnerability advisories
//   ScanStore         (meta/scan_store.h)          image scans, findings, inventories
// Identities are apart (meta/identity_store.h).
//
// Every method is thread-safe and atomic: it either happens whole or not at all.
// Failures are values: kNameUnknown, kManifestUnknown, kBlobUnknown,
// kBlobUploadUnknown and friends, or kInternal/kUnavailable for store trouble.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"
#include "meta/advisory_store.h"
#include "meta/blob_link_store.h"
#include "meta/event_outbox_store.h"
#include "meta/gc_store.h"
#include "meta/lifecycle_store.h"
#include "meta/manifest_store.h"
#include "meta/policy_store.h"
#include "meta/quota_store.h"
#include "meta/repository_store.h"
#include "meta/resource_tag_store.h"
#include "meta/scan_store.h"
#include "meta/upload_store.h"
#include "meta/usage_store.h"

namespace berth {

class MetadataStore : public RepositoryStore,
                      public BlobLinkStore,
                      public UploadStore,
                      public ManifestStore,
                      public LifecycleStore,
                      public GcStore,
                      public UsageStore,
                      public QuotaStore,
                      public ResourceTagStore,
                      public PolicyStore,
                      public EventOutboxStore,
                      public AdvisoryStore,
                      public ScanStore {
 public:
  ~MetadataStore() override = default;
};

}  // namespace berth
