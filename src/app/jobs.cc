#include "app/jobs.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

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
                                        IdentityStore& accounts, TransferMeter& transfer,
                                        ServerMetrics* metrics,
                                        std::vector<WebhookTarget> webhooks) {
  BackgroundJobs out;
  // A job's body with its outcome, recorded when there are metrics.
  auto job = [metrics](const char* name,
                       std::function<JobOutcome()> body) -> std::function<void()> {
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
  out.lifecycle->record_events(!webhooks.empty());
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
  scheduler.every(
      "gc", std::chrono::seconds(config.gc_interval_seconds), job("gc", [gc, gco, space] {
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
  scheduler.every(
      "scrub", std::chrono::seconds(config.scrub_interval_seconds), job("scrub", [scrubber, so] {
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

  // Outbox pruning: events delivered to every webhook, and any event older
  // than events.retention, go (EventOutboxStore::prune_events), and so do the
  // retry schedules of webhooks no longer configured. Without webhooks only
  // the retention applies. berth_job_items_total counts the events.
  {
    std::vector<std::string> names;
    for (const WebhookTarget& w : webhooks) names.push_back(w.name);
    EventOutboxStore* outbox = &meta;
    const int64_t retention_ms = config.event_retention_seconds * 1000;
    scheduler.every(
        "event-prune", std::chrono::seconds(std::min<int64_t>(600, config.event_retention_seconds)),
        job("event-prune", [outbox, names, retention_ms] {
          auto n = outbox->prune_events(names, Clock::system().now_millis() - retention_ms);
          if (!n) {
            log::error("event outbox pruning failed", {{"error", n.status().to_string()}});
            return JobOutcome{false, 0};
          }
          if (*n > 0) log::info("pruned the event outbox", {{"events", *n}});
          auto schedules = outbox->prune_webhook_backoffs(names);
          if (!schedules) {
            log::error("pruning retry schedules failed",
                       {{"error", schedules.status().to_string()}});
            return JobOutcome{false, static_cast<uint64_t>(*n)};
          }
          if (*schedules > 0)
            log::info("dropped the retry schedules of removed webhooks",
                      {{"schedules", *schedules}});
          return JobOutcome{true, static_cast<uint64_t>(*n)};
        }));
  }

  // Usage for the cost report: a storage sample of every repository and
  // account per usage.sample-interval, the first a minute after start (a
  // server restarted more often than the interval still samples), samples
  // and transfer buckets older
  // than usage.retention pruned by the same run; berth_job_items_total counts
  // the samples written. Bytes out recorded in memory reach the store every
  // usage.flush-interval (and at shutdown, App::run).
  {
    IdentityStore* ids = &accounts;
    UsageStore* usage = &meta;
    const int64_t retention_ms = config.usage_retention_seconds * 1000;
    scheduler.every(
        "usage-sample", std::chrono::seconds(config.usage_sample_interval_seconds),
        std::chrono::minutes(1), job("usage-sample", [ids, usage, retention_ms] {
          const int64_t now = Clock::system().now_millis();
          auto n = sample_storage(*ids, *usage, now);
          if (!n) {
            log::error("usage sampling failed", {{"error", n.status().to_string()}});
            return JobOutcome{false, 0};
          }
          auto pruned = usage->prune_usage(now - retention_ms);
          if (!pruned) {
            log::error("usage pruning failed", {{"error", pruned.status().to_string()}});
            return JobOutcome{false, static_cast<uint64_t>(*n)};
          }
          return JobOutcome{true, static_cast<uint64_t>(*n)};
        }));
    TransferMeter* meter = &transfer;
    scheduler.every("usage-flush", std::chrono::seconds(config.usage_flush_interval_seconds),
                    job("usage-flush", [meter, usage] {
                      const size_t buckets = meter->pending();
                      if (Status s = meter->flush(*usage); !s.is_ok()) {
                        log::error("flushing bytes out failed; kept for the next flush",
                                   {{"error", s.to_string()}});
                        return JobOutcome{false, 0};
                      }
                      return JobOutcome{true, static_cast<uint64_t>(buckets)};
                    }));
  }

  if (!webhooks.empty()) {
    DeliveryOptions delivery;
    delivery.region = config.region;
    delivery.first_retry = std::chrono::seconds(config.webhook_first_retry_seconds);
    delivery.retry_cap = std::chrono::seconds(
        std::max(config.webhook_retry_cap_seconds, config.webhook_first_retry_seconds));
    out.webhooks =
        std::make_unique<WebhookDelivery>(meta, std::move(webhooks), delivery, Clock::system());
    WebhookDelivery* deliverer = out.webhooks.get();
    scheduler.every("webhooks", std::chrono::seconds(1), [deliverer] {
      auto n = deliverer->run_once();
      if (!n) log::error("webhook delivery pass failed", {{"error", n.status().to_string()}});
    });
  }
  return out;
}

Result<std::vector<WebhookTarget>> webhook_targets(const Config& config) {
  std::vector<WebhookTarget> out;
  for (const WebhookConfig& w : config.webhooks) {
    if (Status s = check_webhook_url(w.url); !s.is_ok()) {
      return error(Code::kInvalidArgument,
                   fmt::format("events.webhooks.{}: {}", w.name, s.message()));
    }
    WebhookTarget t{w.name, w.url, w.secret, w.accounts, w.repository_prefixes, w.event_types};
    if (!w.secret_file.empty()) {
      std::ifstream in(w.secret_file);
      std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
      if (!in.good() && !in.eof()) secret.clear();
      if (secret.empty()) {
        return error(Code::kInvalidArgument,
                     fmt::format("events.webhooks.{}: cannot read a secret from '{}'", w.name,
                                 w.secret_file));
      }
      t.secret = std::move(secret);
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace berth::app
