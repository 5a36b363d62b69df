// Bytes out for the usage report: what blob and manifest GETs sent, per
// account, repository and hour, summed in memory and flushed to the
// UsageStore's hourly buckets by the usage-flush job (and once more at
// shutdown). Recording never touches a store, so it costs a request a map
// update; a crash loses what was recorded since the last flush, at most one
// flush interval.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/status.h"
#include "meta/identity_store.h"
#include "meta/usage_store.h"

namespace berth::app {

class TransferMeter {
 public:
  // Adds `bytes` sent at `at_ms` for `repository` of `account_id`.
  void add(std::string_view account_id, std::string_view repository, int64_t at_ms, uint64_t bytes);

  // Adds what was recorded since the last successful flush to `store`
  // (UsageStore::add_transfer, one transaction). On failure the rows stay
  // here for the next flush, and the store's error is returned.
  Status flush(UsageStore& store);

  // Buckets recorded and not yet flushed.
  size_t pending() const;

 private:
  using Key = std::tuple<std::string, std::string, int64_t>;  // account, repository, hour
  mutable std::mutex mu_;
  std::map<Key, int64_t, std::less<>> pending_;  // guarded by mu_
  std::mutex flush_mu_;                          // one flush at a time
};

// One storage sampling run at `now_ms`: for every account of `accounts`, a
// sample of each of its repositories and one of the account (each blob and
// manifest once), written in one transaction. Returns the rows written, or
// the first store error (nothing written then).
Result<size_t> sample_storage(IdentityStore& accounts, UsageStore& usage, int64_t now_ms);

}  // namespace berth::app
