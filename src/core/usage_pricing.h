// Usage accounting as ECR bills it: GB-months stored (a time-weighted
// integral of storage samples) and GB transferred out (priced by tiers per
// account and calendar month). Pure: no clock, no I/O.
//
// "GB" is what AWS bills as GB: a GiB, 2^30 bytes. Months are calendar
// months in UTC; a GB-month is one GiB held for every hour of one month, so a
// range spanning months is priced month by month. Money is in integer
// micro-dollars (1 USD = 1,000,000), rounded half away from zero once per
// figure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::usage {

inline constexpr int64_t kBytesPerGiB = int64_t{1} << 30;
inline constexpr int64_t kMicrosPerUsd = 1'000'000;
inline constexpr int64_t kUnlimited = -1;

// One storage sample of one series (a repository, or an account's distinct
// bytes): `bytes` held at `at_ms` (milliseconds since the epoch).
struct StorageSample {
  int64_t at_ms = 0;
  int64_t bytes = 0;
};

// Byte-milliseconds held over [from_ms, to_ms). `samples` is one series,
// ordered by time; `runs` (ordered) are the times of every sampling run,
// which covers a series that a run no longer listed (its repository was
// deleted). A sample holds from its time until the first run after it (when
// `runs` is empty: the next sample), or `to_ms`; before the first sample the
// series holds nothing. Samples before `from_ms` count from `from_ms` on.
long double held_byte_ms(const std::vector<StorageSample>& samples,
                         const std::vector<int64_t>& runs, int64_t from_ms, int64_t to_ms);

// The part of [from_ms, to_ms) within one calendar month (UTC).
struct MonthSpan {
  int year = 0;
  unsigned month = 0;           // 1..12
  int64_t from_ms = 0;          // inclusive
  int64_t to_ms = 0;            // exclusive
  int64_t month_start_ms = 0;   // the first millisecond of the month
  int64_t month_length_ms = 0;  // hours of the month x 3,600,000
  std::string label() const;    // "2026-11"
};

// [from_ms, to_ms) cut at month boundaries, oldest first; empty when
// to_ms <= from_ms.
std::vector<MonthSpan> split_by_month(int64_t from_ms, int64_t to_ms);

// GiB-months of one series over [from_ms, to_ms): per month, the byte-ms
// held in that month's part of the range over (GiB x the month's length).
long double gib_months(const std::vector<StorageSample>& samples, const std::vector<int64_t>& runs,
                       int64_t from_ms, int64_t to_ms);

// A transfer-out tier: bytes of an account's month up to `up_to_gib` in all
// (counted from the month's first byte, the free ones included; kUnlimited
// for the last tier) cost `micros_per_gib`.
struct TransferTier {
  int64_t up_to_gib = kUnlimited;
  int64_t micros_per_gib = 0;
};

// Up to 10 TiB 0.09, next 40 TiB 0.085, next 100 TiB 0.07, then 0.05 USD/GiB.
std::vector<TransferTier> default_transfer_tiers();

// The rates. Defaults: ECR's published list prices for private repositories
// (storage 0.10 USD per GB-month) and, for data transfer out, AWS's published
// EC2 "data transfer out to the internet" prices, which ECR uses: the first
// 1 GB a month free, then up to 10 TB 0.09, the next 40 TB 0.085, the next
// 100 TB 0.07 and over 150 TB 0.05 USD per GB.
struct Pricing {
  int64_t storage_micros_per_gib_month = 100'000;
  int64_t free_transfer_bytes = kBytesPerGiB;
  std::vector<TransferTier> transfer_tiers = default_transfer_tiers();

  // kInvalidArgument when a rate is negative, the tiers are not ascending or
  // the last one is not unlimited.
  Status validate() const;
};

// Micro-dollars for `gib_months` of storage.
int64_t storage_cost_micros(long double gib_months, const Pricing& pricing);

// Micro-dollars for one account's transfer out in one month: the bytes past
// `already` (sent earlier in the same month, outside the range priced) up to
// `already + bytes`, each at its tier's rate; the free bytes cost nothing.
int64_t transfer_cost_micros(int64_t already, int64_t bytes, const Pricing& pricing);

// "12.34" (USD, micro-dollars rounded to cents half away from zero).
std::string usd_cents(int64_t micros);

}  // namespace berth::usage
