// /readyz: whether this process should receive traffic. Each check is named;
// the answer reveals only the names of the failing ones, the reasons go to
// the log (once per change, not on every probe).
//
// The store checks write to the disk or to S3 and need no credentials, so
// they run at most once per `reuse` and one at a time: probes and scrapes in
// between (or waiting for the one running) share its result. Draining is read
// on every call.
//
// Thread-safe: check() may run on several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace berth::app {

struct ReadinessOptions {
  std::function<Status()> check_metadata;  // "database": reachable, schema at this berth's version
  std::function<Status()> check_blobs;     // "storage": the blob store accepts a write
  std::string data_dir;                    // "disk": free space here ...
  uint64_t min_free_bytes = 0;             // ... at least this (0: not checked)
  const std::atomic<bool>* draining = nullptr;  // "draining": true once SIGTERM asked to stop
  std::chrono::milliseconds reuse{1000};        // how long one run of the store checks answers
  std::function<std::chrono::steady_clock::time_point()> now;  // tests; default steady_clock
};

struct ReadinessReport {
  bool ready = true;
  std::vector<std::string> failing;  // check names, in a fixed order
};

class Readiness {
 public:
  explicit Readiness(ReadinessOptions options) : options_(std::move(options)) {}
  // Runs every check (they may block on the disk or the database: call it on a worker).
  ReadinessReport check();

 private:
  struct Probe {
    std::vector<std::string> failing;                          // check names, in order
    std::vector<std::pair<std::string, std::string>> reasons;  // name, why
  };
  // The store checks' last result, or a new one when it is older than reuse.
  Probe probe();

  ReadinessOptions options_;
  std::mutex probe_mu_;                              // one run of the store checks at a time
  bool probed_ = false;                              // guarded by probe_mu_
  std::chrono::steady_clock::time_point probed_at_;  // guarded by probe_mu_
  Probe last_probe_;                                 // guarded by probe_mu_
  std::mutex mu_;
  std::vector<std::string> last_failing_;  // guarded by mu_; what was last logged
};

// {"status":"ok"} or {"status":"unavailable","failing":[...]}.
std::string readiness_json(const ReadinessReport& report);

}  // namespace berth::app
