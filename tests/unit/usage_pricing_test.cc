// GB-months stored and transfer-out tiers (core/usage_pricing.h), priced as
// ECR prices them.
#include "core/usage_pricing.h"

#include <gtest/gtest.h>

#include <cmath>

namespace berth::usage {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kGiB = kBytesPerGiB;
// 2026-11-01T00:00:00Z and 2026-12-01T00:00:00Z (November: 30 days, 720 hours).
constexpr int64_t kNov = 1'793'491'200'000;
constexpr int64_t kDec = kNov + 30 * kDay;
constexpr int64_t kJan = kDec + 31 * kDay;

TEST(UsageMonthsTest, SplitsAtCalendarMonthsInUtc) {
  auto months = split_by_month(kNov + 10 * kDay, kJan + 5 * kDay);
  ASSERT_EQ(months.size(), 3u);
  EXPECT_EQ(months[0].label(), "2026-11");
  EXPECT_EQ(months[0].from_ms, kNov + 10 * kDay);
  EXPECT_EQ(months[0].to_ms, kDec);
  EXPECT_EQ(months[0].month_start_ms, kNov);
  EXPECT_EQ(months[0].month_length_ms, 720 * kHour);
  EXPECT_EQ(months[1].label(), "2026-12");
  EXPECT_EQ(months[1].month_length_ms, 744 * kHour);
  EXPECT_EQ(months[2].label(), "2027-01");
  EXPECT_EQ(months[2].from_ms, kJan);
  EXPECT_EQ(months[2].to_ms, kJan + 5 * kDay);
  EXPECT_TRUE(split_by_month(kDec, kDec).empty());
  EXPECT_EQ(split_by_month(kNov, kDec).size(), 1u);  // the end is exclusive
  // February of a leap year.
  constexpr int64_t kFeb2028 = 1'832'976'000'000;  // 2028-02-01T00:00:00Z
  auto feb = split_by_month(kFeb2028, kFeb2028 + 1);
  ASSERT_EQ(feb.size(), 1u);
  EXPECT_EQ(feb[0].label(), "2028-02");
  EXPECT_EQ(feb[0].month_length_ms, 29 * kDay);
}

struct IntegralCase {
  const char* name;
  std::vector<StorageSample> samples;
  std::vector<int64_t> runs;
  int64_t from, to;
  long double want_gib_months;
};

TEST(UsageIntegralTest, TimeWeightedOverTheRange) {
  const long double nov_hours = 720, dec_hours = 744;
  const std::vector<IntegralCase> cases = {
      {"one GiB all month", {{kNov, kGiB}}, {}, kNov, kDec, 1.0L},
      {"before the first sample, nothing", {{kNov + 15 * kDay, kGiB}}, {}, kNov, kDec, 0.5L},
      {"a sample before the range holds into it", {{kNov - kDay, 2 * kGiB}}, {}, kNov, kDec, 2.0L},
      {"each sample holds until the next",
       {{kNov, kGiB}, {kNov + 10 * kDay, 4 * kGiB}},
       {},
       kNov,
       kDec,
       (10 * 1 + 20 * 4) / 30.0L},
      {"a gap: the last sample holds over it",
       {{kNov, kGiB}, {kNov + kHour, kGiB}, {kNov + 100 * kHour, 2 * kGiB}},
       {},
       kNov,
       kNov + 200 * kHour,
       (100 * 1 + 100 * 2) / nov_hours},
      {"a run without the series ends it (repository deleted)",
       {{kNov, kGiB}},
       {kNov, kNov + 72 * kHour},
       kNov,
       kDec,
       72 / nov_hours},
      {"across a month boundary each month by its own hours",
       {{kNov + 29 * kDay, kGiB}},
       {},
       kNov,
       kDec + kDay,
       24 / nov_hours + 24 / dec_hours},
      {"part of a month",
       {{kNov, 3 * kGiB}},
       {},
       kNov + 6 * kHour,
       kNov + 12 * kHour,
       3 * 6 / nov_hours},
      {"no samples", {}, {}, kNov, kDec, 0.0L},
  };
  for (const auto& c : cases) {
    EXPECT_NEAR(static_cast<double>(gib_months(c.samples, c.runs, c.from, c.to)),
                static_cast<double>(c.want_gib_months), 1e-12)
        << c.name;
  }
}

TEST(UsagePricingTest, StorageAtTenCentsPerGibMonth) {
  Pricing p;
  EXPECT_EQ(storage_cost_micros(1.0L, p), 100'000);
  EXPECT_EQ(storage_cost_micros(2.5L, p), 250'000);
  EXPECT_EQ(storage_cost_micros(1e-9L, p), 0);
  EXPECT_EQ(storage_cost_micros(0.0000051L, p), 1);  // rounded half up to a micro-dollar
  EXPECT_EQ(usd_cents(250'000), "0.25");
  EXPECT_EQ(usd_cents(4'995'000), "5.00");
  EXPECT_EQ(usd_cents(4'994'999), "4.99");
  EXPECT_EQ(usd_cents(0), "0.00");
}

struct TransferCase {
  const char* name;
  int64_t already, bytes, want_micros;
};

TEST(UsagePricingTest, TransferOutTiersPerAccountMonth) {
  Pricing p;
  constexpr int64_t kTiB = 1024 * kGiB;
  const std::vector<TransferCase> cases = {
      {"nothing", 0, 0, 0},
      {"within the free GiB", 0, kGiB / 2, 0},
      {"exactly the free GiB", 0, kGiB, 0},
      {"two GiB: one free, one at 0.09", 0, 2 * kGiB, 90'000},
      {"the free GiB was used earlier in the month", kGiB, kGiB, 90'000},
      {"half of it was used earlier", kGiB / 2, kGiB, 45'000},
      {"up to 10 TiB", 0, 10 * kTiB, (10 * 1024 - 1) * 90'000},
      {"crossing 10 TiB", 10 * kTiB - kGiB, 2 * kGiB, 90'000 + 85'000},
      {"crossing 50 TiB", 50 * kTiB - kGiB, 2 * kGiB, 85'000 + 70'000},
      {"crossing 150 TiB", 150 * kTiB - kGiB, 2 * kGiB, 70'000 + 50'000},
      {"the whole ladder to 200 TiB", 0, 200 * kTiB,
       (10 * 1024 - 1) * 90'000LL + 40 * 1024 * 85'000LL + 100 * 1024 * 70'000LL +
           50 * 1024 * 50'000LL},
      {"a byte past the free GiB", 0, kGiB + 1, 0},  // 0.09/2^30 USD rounds to 0
      {"a MiB at 0.09", kGiB, kGiB / 1024, 88},      // 87.89 micro-dollars
  };
  for (const auto& c : cases) {
    EXPECT_EQ(transfer_cost_micros(c.already, c.bytes, p), c.want_micros) << c.name;
  }
}

TEST(UsagePricingTest, ConfiguredTiersAreChecked) {
  Pricing p;
  EXPECT_TRUE(p.validate().is_ok());
  Pricing flat;
  flat.free_transfer_bytes = 0;
  flat.transfer_tiers = {{kUnlimited, 20'000}};
  EXPECT_TRUE(flat.validate().is_ok());
  EXPECT_EQ(transfer_cost_micros(0, 3 * kGiB, flat), 60'000);
  Pricing open_ended = p;
  open_ended.transfer_tiers.back().up_to_gib = 999'999;
  EXPECT_FALSE(open_ended.validate().is_ok());
  Pricing descending = p;
  descending.transfer_tiers[1].up_to_gib = 5;
  EXPECT_FALSE(descending.validate().is_ok());
  Pricing negative = p;
  negative.storage_micros_per_gib_month = -1;
  EXPECT_FALSE(negative.validate().is_ok());
}

}  // namespace
}  // namespace berth::usage
