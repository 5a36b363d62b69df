// /readyz: whether this process should receive traffic. Each check is named;
// the answer reveals only the names of the failing ones, the reasons go to
// the log (once per change, not on every probe).
//
// Thread-safe: check() may run on several threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::app {

struct ReadinessOptions {
  std::function<Status()> check_metadata;  // "database": reachable, schema at this berth's version
  std::function<Status()> check_blobs;     // "storage": the blob store accepts a write
  std::string data_dir;                    // "disk": free space here ...
  uint64_t min_free_bytes = 0;             // ... at least this (0: not checked)
  const std::atomic<bool>* draining = nullptr;  // "draining": true once SIGTERM asked to stop
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
  ReadinessOptions options_;
  std::mutex mu_;
  std::vector<std::string> last_failing_;  // guarded by mu_; what was last logged
};

// {"status":"ok"} or {"status":"unavailable","failing":[...]}.
std::string readiness_json(const ReadinessReport& report);

}  // namespace berth::app
