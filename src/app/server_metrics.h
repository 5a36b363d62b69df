// The series `berth serve` exposes on /metrics (README, "Monitoring"), and
// the recording calls the wiring makes: one per finished request (from the
// access-log entry), per store call (the Offloader's observer), per
// background job run; gauges read at scrape time through collectors.
//
// Thread-safe: every method may be called from any thread at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "meta/identity_store.h"
#include "meta/scan_store.h"
#include "meta/usage_store.h"
#include "metrics/metrics.h"
#include "server/http_server.h"

namespace berth::app {

// Which repositories get their own byte series: the first `limit` that see a
// successful, authorised request since the process started keep theirs for
// its lifetime; every other repository is counted under repository="_other"
// of its account. So an anonymous caller cannot mint series with made-up
// names, and a scrape never sees more than `limit` + accounts byte series.
class RepositoryAdmission {
 public:
  explicit RepositoryAdmission(size_t limit) : limit_(limit) {}
  // The repository label for `repository` (admitting it while there is room
  // and `may_admit`), or "_other".
  std::string_view label(const std::string& key, std::string_view repository, bool may_admit);

 private:
  size_t limit_;
  std::shared_mutex mu_;
  std::set<std::string, std::less<>> admitted_;  // account + '/' + repository; guarded by mu_
};

struct ServerMetricsOptions {
  std::string version;            // for berth_build_info
  std::string default_account;    // the account of unauthenticated requests (auth off)
  size_t top_repositories = 100;  // RepositoryAdmission's limit
};

// A background job's outcome, for berth_job_* series.
struct JobOutcome {
  bool ok = true;
  uint64_t items =
      0;  // what the run did: expired uploads, deleted images, reclaimed blobs, checked blobs
};

class ServerMetrics {
 public:
  explicit ServerMetrics(ServerMetricsOptions options);

  metrics::Registry& registry() { return registry_; }

  // One finished request, from its access-log entry. `api` is "oci", "ecr" or
  // "other"; `route` the /v2 route, the ECR operation or the endpoint
  // ("healthz", "metrics"...), from a bounded set; `repository` the /v2
  // repository or empty.
  void record_request(const server::RequestLogEntry& e, std::string_view api,
                      std::string_view route, std::string_view repository);
  // One store call through the Offloader.
  void record_store_call(std::chrono::steady_clock::duration ran, bool failed);
  void record_store_rejected();
  // One run of background job `job`.
  void record_job(std::string_view job, std::chrono::steady_clock::duration took,
                  const JobOutcome& outcome);
  // This process's scan workers (ScanningService::Observer): a scan claimed;
  // a scan ended with `status` (COMPLETE, UNSUPPORTED_IMAGE or FAILED)
  // `took` after its claim; `scans` scans re-matched after an advisory import.
  void record_scan_started();
  void record_scan_ended(std::string_view status, std::chrono::steady_clock::duration took);
  void record_scans_rematched(uint64_t scans);
  // Upload requests (chunks and whole uploads) being received now.
  metrics::Gauge& uploads_in_flight() { return *uploads_in_flight_; }

  // Wraps a job body so that each run is timed and recorded under `job`.
  std::function<void()> timed_job(std::string job, std::function<JobOutcome()> body);

  // The exposition text (collectors run first).
  std::string render() const { return registry_.render(); }

 private:
  ServerMetricsOptions options_;
  metrics::Registry registry_;
  RepositoryAdmission admission_;
  metrics::CounterFamily& requests_;
  metrics::HistogramFamily& request_seconds_;
  metrics::CounterFamily& received_bytes_;
  metrics::CounterFamily& sent_bytes_;
  metrics::Gauge* uploads_in_flight_;
  metrics::Histogram* store_seconds_;
  metrics::Counter* store_failures_;
  metrics::Counter* store_rejected_;
  metrics::CounterFamily& job_runs_;
  metrics::HistogramFamily& job_seconds_;
  metrics::CounterFamily& job_items_;
  metrics::Counter* scans_started_;
  metrics::CounterFamily& scans_completed_;
  metrics::Counter* scans_failed_;
  metrics::Histogram* scan_seconds_;
  metrics::Counter* scans_rematched_;
};

// Registers the gauges read at scrape time: open and accepted connections of
// `server`, and storage bytes per account (from `usage`, for every account of
// `identity`, queried at most once per `usage_refresh` as the query walks the
// database). Everything passed must outlive `metrics`' last render.
void add_scrape_collectors(ServerMetrics& metrics, const server::HttpServer& server,
                           IdentityStore& identity, UsageStore& usage,
                           std::chrono::seconds usage_refresh);

// Registers the gauge of the scans waiting in `scans` (every node's, by
// status PENDING and IN_PROGRESS), read with one store query per scrape.
// `scans` must outlive `metrics`' last render.
void add_scan_queue_collector(ServerMetrics& metrics, ScanStore& scans);

// "2xx".."5xx" for an HTTP status; "1xx" below 200 (or 0: no answer sent).
std::string_view status_class(unsigned status);

}  // namespace berth::app
