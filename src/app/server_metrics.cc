#include "app/server_metrics.h"

#include <fmt/format.h>

#include "log/log.h"

namespace berth::app {

namespace {

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

std::string_view status_class(unsigned status) {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  if (status >= 200) return "2xx";
  return "1xx";
}

std::string_view RepositoryAdmission::label(const std::string& key, std::string_view repository,
                                            bool may_admit) {
  {
    std::shared_lock lock(mu_);
    if (admitted_.find(key) != admitted_.end()) return repository;
    if (!may_admit || admitted_.size() >= limit_) return "_other";
  }
  std::unique_lock lock(mu_);
  if (admitted_.size() >= limit_)
    return admitted_.count(key) ? repository : std::string_view("_other");
  admitted_.insert(key);
  return repository;
}

ServerMetrics::ServerMetrics(ServerMetricsOptions options)
    : options_(std::move(options)),
      admission_(options_.top_repositories),
      requests_(registry_.counter(
          "berth_http_requests_total",
          "HTTP requests answered, by API (oci, ecr, other), route or ECR operation, and "
          "status class.",
          {"api", "route", "status_class"})),
      request_seconds_(registry_.histogram("berth_http_request_duration_seconds",
                                           "Time from a request's head to its last response byte.",
                                           {"api", "route"})),
      received_bytes_(
          registry_.counter("berth_repository_received_bytes_total",
                            "Request body bytes received for a repository (/v2); repositories past "
                            "the top-N are summed per account as repository=\"_other\".",
                            {"account", "repository"})),
      sent_bytes_(registry_.counter(
          "berth_repository_sent_bytes_total",
          "Response bytes sent for a repository (/v2); repositories past the top-N are "
          "summed per account as repository=\"_other\".",
          {"account", "repository"})),
      job_runs_(registry_.counter("berth_job_runs_total",
                                  "Background job runs, by task and result (ok, failed).",
                                  {"task", "result"})),
      job_seconds_(registry_.histogram("berth_job_duration_seconds",
                                       "Duration of background job runs.", {"task"},
                                       {0.01, 0.1, 1, 10, 60, 300, 1800})),
      job_items_(registry_.counter(
          "berth_job_items_total",
          "What background job runs did: uploads expired, images expired by lifecycle "
          "rules, blobs reclaimed by GC, blobs checked by the scrub.",
          {"task"})),
      scans_completed_(registry_.counter(
          "berth_scans_completed_total",
          "Image scans this process's workers ended with a result, by status (COMPLETE, "
          "UNSUPPORTED_IMAGE).",
          {"status"})) {
  scans_started_ =
      &registry_
           .counter("berth_scans_started_total",
                    "Image scans this process's workers claimed (a retried one each time).")
           .with({});
  scans_completed_.with({kScanComplete});
  scans_completed_.with({kScanUnsupportedImage});
  scans_failed_ = &registry_
                       .counter("berth_scans_failed_total",
                                "Image scans this process's workers ended FAILED (the stores "
                                "failed, not the image).")
                       .with({});
  scan_seconds_ =
      &registry_
           .histogram("berth_scan_duration_seconds",
                      "Time from a scan's claim to its end, reading layers, matching and the SBOM "
                      "included.",
                      {}, {0.1, 0.5, 1, 5, 10, 30, 60, 300})
           .with({});
  scans_rematched_ =
      &registry_
           .counter("berth_scans_rematched_total",
                    "Completed scans re-matched from their stored inventories after an advisory "
                    "import.")
           .with({});
  uploads_in_flight_ =
      &registry_
           .gauge("berth_uploads_in_flight",
                  "Upload requests (OCI blob upload chunks and ECR layer parts) being "
                  "received now.")
           .with({});
  store_seconds_ =
      &registry_
           .histogram("berth_store_call_duration_seconds",
                      "Duration of calls into the registry's stores (run on the worker pool).", {})
           .with({});
  store_failures_ =
      &registry_
           .counter("berth_store_call_failures_total",
                    "Store calls that failed on the server's side (internal error, storage full, "
                    "unavailable).")
           .with({});
  store_rejected_ =
      &registry_
           .counter("berth_store_calls_rejected_total",
                    "Store calls refused because no worker was free within the offload deadline.")
           .with({});
  registry_.gauge("berth_build_info", "Always 1; the version label names this build.", {"version"})
      .with({options_.version})
      .set(1);
}

void ServerMetrics::record_request(const server::RequestLogEntry& e, std::string_view api,
                                   std::string_view route, std::string_view repository) {
  requests_.with({api, route, status_class(e.status)}).inc();
  request_seconds_.with({api, route}).observe(static_cast<double>(e.duration_us) / 1e6);
  if (repository.empty()) return;
  const std::string& account = e.account.empty() ? options_.default_account : e.account;
  // Only an answered, successful request may claim a series of its own.
  const bool may_admit = e.status >= 200 && e.status < 300;
  std::string key = fmt::format("{}/{}", account, repository);
  std::string_view label = admission_.label(key, repository, may_admit);
  if (e.bytes_in > 0) received_bytes_.with({account, label}).inc(e.bytes_in);
  if (e.bytes_out > 0) sent_bytes_.with({account, label}).inc(e.bytes_out);
}

void ServerMetrics::record_store_call(std::chrono::steady_clock::duration ran, bool failed) {
  store_seconds_->observe(seconds(ran));
  if (failed) store_failures_->inc();
}

void ServerMetrics::record_store_rejected() {
  store_rejected_->inc();
}

void ServerMetrics::record_job(std::string_view job, std::chrono::steady_clock::duration took,
                               const JobOutcome& outcome) {
  job_runs_.with({job, outcome.ok ? "ok" : "failed"}).inc();
  job_seconds_.with({job}).observe(seconds(took));
  job_items_.with({job}).inc(outcome.items);
}

void ServerMetrics::record_scan_started() {
  scans_started_->inc();
}

void ServerMetrics::record_scan_ended(std::string_view status,
                                      std::chrono::steady_clock::duration took) {
  if (status == kScanFailed) {
    scans_failed_->inc();
  } else {
    scans_completed_.with({status}).inc();
  }
  scan_seconds_->observe(seconds(took));
}

void ServerMetrics::record_scans_rematched(uint64_t scans) {
  scans_rematched_->inc(scans);
}

std::function<void()> ServerMetrics::timed_job(std::string job, std::function<JobOutcome()> body) {
  return [this, job = std::move(job), body = std::move(body)] {
    const auto start = std::chrono::steady_clock::now();
    JobOutcome outcome = body();
    record_job(job, std::chrono::steady_clock::now() - start, outcome);
  };
}

void add_scrape_collectors(ServerMetrics& metrics, const server::HttpServer& server,
                           IdentityStore& identity, UsageStore& usage,
                           std::chrono::seconds usage_refresh) {
  metrics::Registry& r = metrics.registry();
  metrics::Gauge& open = r.gauge("berth_connections_open", "Client connections open now.").with({});
  metrics::Counter& accepted =
      r.counter("berth_connections_accepted_total", "Client connections accepted since start.")
          .with({});
  r.on_collect([&server, &open, &accepted] {
    open.set(static_cast<double>(server.open_connections()));
    accepted.set_from_source(server.accepted_connections());
  });
  metrics::GaugeFamily& storage =
      r.gauge("berth_storage_bytes", "Bytes stored per account (blobs and manifests, each once).",
              {"account"});
  struct Refresh {
    std::mutex mu;
    std::chrono::steady_clock::time_point last{};  // guarded by mu
    bool done = false;                             // guarded by mu
  };
  auto refresh = std::make_shared<Refresh>();
  r.on_collect([&identity, &usage, &storage, refresh, usage_refresh] {
    std::lock_guard lock(refresh->mu);
    const auto now = std::chrono::steady_clock::now();
    if (refresh->done && now - refresh->last < usage_refresh) return;
    refresh->done = true;
    refresh->last = now;
    auto accounts = identity.list_accounts();
    if (!accounts) {
      log::warn("metrics: cannot list accounts for storage bytes",
                {{"error", accounts.status().to_string()}});
      return;
    }
    storage.clear();
    for (const auto& a : *accounts) {
      auto bytes = usage.account_usage(a.id);
      if (bytes) storage.with({a.id}).set(static_cast<double>(*bytes));
    }
  });
}

void add_scan_queue_collector(ServerMetrics& metrics, ScanStore& scans) {
  metrics::GaugeFamily& queued = metrics.registry().gauge(
      "berth_scans_queued",
      "Image scans waiting in the metadata store (all nodes'): PENDING ones not yet claimed, "
      "IN_PROGRESS ones claimed and not ended.",
      {"status"});
  metrics::Gauge& pending = queued.with({kScanPending});
  metrics::Gauge& in_progress = queued.with({kScanInProgress});
  metrics.registry().on_collect([&scans, &pending, &in_progress] {
    auto depth = scans.scan_queue_depth();
    if (!depth) {
      log::warn("metrics: cannot count the waiting scans", {{"error", depth.status().to_string()}});
      return;
    }
    pending.set(static_cast<double>(depth->pending));
    in_progress.set(static_cast<double>(depth->in_progress));
  });
}

}  // namespace berth::app
