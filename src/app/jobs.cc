#include "app/jobs.h"

#include <algorithm>
#include <chrono>

#include "core/clock.h"
#include "log/log.h"

namespace berth::app {

namespace {

// Sets the space reserve aside again once there is room; quiet while the
// disk stays full (every attempt would say so).
void restore_reserve(SpaceReserve& reserve) {
  if (reserve.held()) return;
  Status s = reserve.restore();
  if (s.is_ok()) {
    log::info("set the space reserve aside again");
  } else if (s.code() != Code::kStorageFull) {
    log::error("cannot set the space reserve aside", {{"error", s.to_string()}});
  }
}

}  // namespace

BackgroundJobs register_background_jobs(jobs::Scheduler& scheduler, const Config& config,
                                        Registry& registry, MetadataStore& meta, BlobStore& blobs,
                                        SpaceReserve& reserve, const std::atomic<bool>& stopping,
                                        ServerMetrics* metrics) {
  BackgroundJobs out;
  // A job's body with its outcome, recorded when there are metrics.
  auto job = [metrics](const char* name, std::function<JobOutcome()> body) -> std::function<void()> {
    if (metrics != nullptr) return metrics->timed_job(name, std::move(body));
    return [body = std::move(body)] { body(); };
  };
  Registry* r = &registry;
  SpaceReserve* space = &reserve;
  scheduler.every("upload-expiry",
                  std::chrono::seconds(std::min<int64_t>(600, config.upload_ttl_seconds)),
                  job("upload-expiry", [r, space] {
                    restore_reserve(*space);
                    auto n = r->expire_uploads();
                    if (!n) {
                      log::error("upload expiry failed", {{"error", n.status().to_string()}});
                      return JobOutcome{false, 0};
                    }
                    if (*n > 0) log::info("expired abandoned uploads", {{"count", *n}});
                    return JobOutcome{true, static_cast<uint64_t>(*n)};
                  }));

  out.lifecycle = std::make_unique<LifecycleRunner>(meta, Clock::system());
  LifecycleRunner* lifecycle = out.lifecycle.get();
  scheduler.every("lifecycle", std::chrono::seconds(config.lifecycle_interval_seconds),
                  job("lifecycle", [lifecycle] {
                    auto n = lifecycle->enforce_all();
                    if (!n) {
                      log::error("lifecycle run failed", {{"error", n.status().to_string()}});
                      return JobOutcome{false, 0};
                    }
                    return JobOutcome{true, static_cast<uint64_t>(*n)};
                  }));

  out.gc = std::make_unique<GarbageCollector>(meta, blobs, Clock::system());
  GarbageCollector* gc = out.gc.get();
  GcOptions gco;
  gco.grace_seconds = config.gc_grace_seconds;
  gco.space_reserve = space;
  scheduler.every("gc", std::chrono::seconds(config.gc_interval_seconds), job("gc", [gc, gco, space] {
    auto result = gc->run(gco);
    restore_reserve(*space);
    if (!result) {
      log::error("garbage collection failed", {{"error", result.status().to_string()}});
      return JobOutcome{false, 0};
    }
    if (result->reclaimed_blobs > 0) {
      log::info("garbage collection", {{"examined", result->examined},
                                       {"reclaimed_blobs", result->reclaimed_blobs},
                                       {"reclaimed_bytes", result->reclaimed_bytes},
                                       {"seconds", result->seconds}});
    }
    return JobOutcome{true, static_cast<uint64_t>(result->reclaimed_blobs)};
  }));

  // Background scrub: one slice of at most a minute per interval, so that
  // the other jobs on the scheduler's thread wait a minute at most; each
  // slice continues where the last stopped.
  out.scrubber = std::make_unique<Scrubber>(meta, blobs);
  Scrubber* scrubber = out.scrubber.get();
  ScrubOptions so;
  so.repair = true;
  so.rate_bytes_per_second = config.scrub_rate_bytes;
  so.time_budget = std::chrono::seconds(60);
  const std::atomic<bool>* stop = &stopping;
  so.should_stop = [stop] { return stop->load(); };
  scheduler.every("scrub", std::chrono::seconds(config.scrub_interval_seconds), job("scrub", [scrubber, so] {
    auto result = scrubber->run(so, [](const ScrubIssue& issue) {
      log::error(
          issue.kind == ScrubIssue::Kind::kCorrupt
              ? (issue.quarantined
                     ? "scrub: corrupt blob quarantined; it reads as missing until pushed again"
                     : "scrub: corrupt blob")
              : "scrub: a linked blob's bytes are missing",
          {{"digest", issue.digest.str()}, {"detail", issue.detail}});
    });
    if (!result) {
      log::error("scrub failed", {{"error", result.status().to_string()}});
      return JobOutcome{false, 0};
    }
    if (result->complete) {
      log::info("scrub pass complete", {{"checked", result->checked},
                                        {"bytes", result->bytes},
                                        {"corrupt", result->corrupt},
                                        {"missing", result->missing},
                                        {"quarantined", result->quarantined}});
    }
    return JobOutcome{true, static_cast<uint64_t>(result->checked)};
  }));
  return out;
}

}  // namespace berth::app
