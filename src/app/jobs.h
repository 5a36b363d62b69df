// The background jobs of `berth serve`, registered on its one scheduler:
// upload expiry (which also sets the space reserve aside again), lifecycle
// enforcement, garbage collection, the background scrub, usage sampling and
// the flush of bytes out (README, "Usage and cost"), each at the
// interval its configuration key gives (0 disables a job).
#pragma once

#include <atomic>
#include <memory>

#include "app/config.h"
#include "app/server_metrics.h"
#include "app/usage_meter.h"
#include "blob/blob_store.h"
#include "blob/space_reserve.h"
#include "jobs/scheduler.h"
#include "meta/metadata_store.h"
#include "registry/garbage_collector.h"
#include "registry/lifecycle_runner.h"
#include "registry/registry.h"
#include "registry/scrubber.h"
#include "registry/webhook_delivery.h"

namespace berth::app {

// The runners the jobs call; they must outlive the scheduler's thread (stop
// the scheduler before destroying them).
struct BackgroundJobs {
  std::unique_ptr<GarbageCollector> gc;
  std::unique_ptr<LifecycleRunner> lifecycle;
  std::unique_ptr<Scrubber> scrubber;
  std::unique_ptr<WebhookDelivery> webhooks;  // null without webhooks
};

// The webhooks of `config` with their secrets read (secret-file), urls
// checked. kInvalidArgument naming the webhook otherwise.
Result<std::vector<WebhookTarget>> webhook_targets(const Config& config);

// Registers every background job on `scheduler` (call before its start()),
// with webhook delivery every second when `webhooks` is not empty.
// The jobs use `registry`, `meta`, `blobs`, `reserve`, `accounts` (whose
// accounts the usage-sample job samples) and `transfer` (flushed by the
// usage-flush job), which must outlive the scheduler's thread; `stopping` set to true ends a scrub
// slice early. Failures of a run are logged, never returned: the next run tries again. With
// `metrics`, each run is also recorded there (runs, duration, items, failures); it must outlive the
// scheduler's thread.
BackgroundJobs register_background_jobs(jobs::Scheduler& scheduler, const Config& config,
                                        Registry& registry, MetadataStore& meta, BlobStore& blobs,
                                        SpaceReserve& reserve, const std::atomic<bool>& stopping,
                                        IdentityStore& accounts, TransferMeter& transfer,
                                        ServerMetrics* metrics = nullptr,
                                        std::vector<WebhookTarget> webhooks = {});

}  // namespace berth::app
