#include "app/usage_meter.h"

namespace berth::app {

namespace {
constexpr int64_t kHourMs = 3'600'000;
}

void TransferMeter::add(std::string_view account_id, std::string_view repository, int64_t at_ms,
                        uint64_t bytes) {
  if (bytes == 0) return;
  const int64_t hour = at_ms - at_ms % kHourMs;
  std::lock_guard lock(mu_);
  pending_[Key(std::string(account_id), std::string(repository), hour)] +=
      static_cast<int64_t>(bytes);
}

Status TransferMeter::flush(UsageStore& store) {
  std::lock_guard flushing(flush_mu_);
  std::map<Key, int64_t, std::less<>> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(pending_);
  }
  if (taken.empty()) return Status::ok();
  std::vector<TransferRow> rows;
  rows.reserve(taken.size());
  for (const auto& [key, bytes] : taken) {
    rows.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), bytes});
  }
  Status s = store.add_transfer(rows);
  if (!s.is_ok()) {
    std::lock_guard lock(mu_);
    for (auto& [key, bytes] : taken) pending_[key] += bytes;
  }
  return s;
}

size_t TransferMeter::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

Result<size_t> sample_storage(IdentityStore& accounts, UsageStore& usage, int64_t now_ms) {
  BERTH_ASSIGN_OR_RETURN(auto list, accounts.list_accounts());
  std::vector<StorageSampleRow> rows;
  for (const AccountRecord& a : list) {
    BERTH_ASSIGN_OR_RETURN(auto repos, usage.repository_usage(a.id));
    BERTH_ASSIGN_OR_RETURN(int64_t total, usage.account_usage(a.id));
    rows.push_back({a.id, "", now_ms, total});
    for (const RepositoryUsage& r : repos) rows.push_back({a.id, r.name, now_ms, r.bytes});
  }
  BERTH_RETURN_IF_ERROR(usage.put_storage_samples(rows));
  return rows.size();
}

}  // namespace berth::app
