#include "core/usage_pricing.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace berth::usage {
namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

int64_t epoch_ms(sys_days d) {
  return std::chrono::duration_cast<milliseconds>(d.time_since_epoch()).count();
}

int64_t round_micros(long double v) {
  return static_cast<int64_t>(std::llround(v));
}

}  // namespace

long double held_byte_ms(const std::vector<StorageSample>& samples,
                         const std::vector<int64_t>& runs, int64_t from_ms, int64_t to_ms) {
  long double total = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const StorageSample& s = samples[i];
    int64_t until = to_ms;
    if (runs.empty()) {
      if (i + 1 < samples.size()) until = samples[i + 1].at_ms;
    } else {
      auto next = std::upper_bound(runs.begin(), runs.end(), s.at_ms);
      if (next != runs.end()) until = *next;
    }
    const int64_t begin = std::max(s.at_ms, from_ms);
    const int64_t end = std::min(until, to_ms);
    if (end > begin) total += static_cast<long double>(s.bytes) * (end - begin);
  }
  return total;
}

std::string MonthSpan::label() const {
  return fmt::format("{:04}-{:02}", year, month);
}

std::vector<MonthSpan> split_by_month(int64_t from_ms, int64_t to_ms) {
  std::vector<MonthSpan> out;
  if (to_ms <= from_ms) return out;
  const auto from_day =
      std::chrono::floor<days>(std::chrono::sys_time<milliseconds>(milliseconds(from_ms)));
  year_month_day ymd{from_day};
  auto month = ymd.year() / ymd.month();
  while (true) {
    const sys_days start{month / 1};
    const sys_days next{(month + std::chrono::months(1)) / 1};
    const int64_t start_ms = epoch_ms(start);
    const int64_t next_ms = epoch_ms(next);
    if (start_ms >= to_ms) break;
    MonthSpan span;
    span.year = static_cast<int>(month.year());
    span.month = static_cast<unsigned>(month.month());
    span.from_ms = std::max(from_ms, start_ms);
    span.to_ms = std::min(to_ms, next_ms);
    span.month_start_ms = start_ms;
    span.month_length_ms = next_ms - start_ms;
    out.push_back(span);
    month += std::chrono::months(1);
  }
  return out;
}

long double gib_months(const std::vector<StorageSample>& samples, const std::vector<int64_t>& runs,
                       int64_t from_ms, int64_t to_ms) {
  long double total = 0;
  for (const MonthSpan& m : split_by_month(from_ms, to_ms)) {
    total += held_byte_ms(samples, runs, m.from_ms, m.to_ms) /
             (static_cast<long double>(kBytesPerGiB) * m.month_length_ms);
  }
  return total;
}

std::vector<TransferTier> default_transfer_tiers() {
  std::vector<TransferTier> tiers;
  tiers.push_back({10 * 1024, 90'000});
  tiers.push_back({50 * 1024, 85'000});
  tiers.push_back({150 * 1024, 70'000});
  tiers.push_back({kUnlimited, 50'000});
  return tiers;
}

Status Pricing::validate() const {
  if (storage_micros_per_gib_month < 0 || free_transfer_bytes < 0)
    return error(Code::kInvalidArgument, "rates and the free transfer must not be negative");
  if (transfer_tiers.empty() || transfer_tiers.back().up_to_gib != kUnlimited)
    return error(Code::kInvalidArgument, "the last transfer-out tier must have no up-to-gb");
  int64_t previous = 0;
  for (size_t i = 0; i < transfer_tiers.size(); ++i) {
    const TransferTier& t = transfer_tiers[i];
    if (t.micros_per_gib < 0)
      return error(Code::kInvalidArgument, "a transfer-out rate must not be negative");
    if (i + 1 == transfer_tiers.size()) break;
    if (t.up_to_gib == kUnlimited || t.up_to_gib <= previous)
      return error(Code::kInvalidArgument,
                   "transfer-out tiers must ascend by up-to-gb, only the last one unlimited");
    previous = t.up_to_gib;
  }
  return Status::ok();
}

int64_t storage_cost_micros(long double gib_months, const Pricing& pricing) {
  return round_micros(gib_months * pricing.storage_micros_per_gib_month);
}

int64_t transfer_cost_micros(int64_t already, int64_t bytes, const Pricing& pricing) {
  const int64_t from = std::max(already, pricing.free_transfer_bytes);
  const int64_t to = already + bytes;
  long double micros = 0;
  int64_t tier_start = 0;
  for (const TransferTier& t : pricing.transfer_tiers) {
    const int64_t tier_end = t.up_to_gib == kUnlimited ? INT64_MAX : t.up_to_gib * kBytesPerGiB;
    const int64_t lo = std::max(from, tier_start);
    const int64_t hi = std::min(to, tier_end);
    if (hi > lo) {
      micros += static_cast<long double>(hi - lo) * t.micros_per_gib / kBytesPerGiB;
    }
    if (tier_end >= to) break;
    tier_start = tier_end;
  }
  return round_micros(micros);
}

std::string usd_cents(int64_t micros) {
  const bool negative = micros < 0;
  const int64_t m = negative ? -micros : micros;
  const int64_t cents = (m + 5'000) / 10'000;
  return fmt::format("{}{}.{:02}", negative ? "-" : "", cents / 100, cents % 100);
}

}  // namespace berth::usage
