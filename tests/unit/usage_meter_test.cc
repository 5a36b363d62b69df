// TransferMeter (app/usage_meter.h): bytes out summed in memory per account,
// repository and hour, added to the UsageStore's buckets by each flush.
#include "app/usage_meter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth::app {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kT0 = 1'800'000'000'000;  // a multiple of an hour

class TransferMeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-usage-meter-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    auto opened = SqliteMetadataStore::open((dir_ / "berth.db").string(), false);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteMetadataStore> store_;
};

TEST_F(TransferMeterTest, FlushAddsHourlyBucketsAndEmptiesTheMeter) {
  TransferMeter meter;
  meter.add("000000000000", "app", kT0 + 5, 100);
  meter.add("000000000000", "app", kT0 + kHour - 1, 20);  // same hour
  meter.add("000000000000", "app", kT0 + kHour, 7);       // the next one
  meter.add("000000000000", "db", kT0, 0);                // nothing sent: no bucket
  EXPECT_EQ(meter.pending(), 2u);
  ASSERT_TRUE(meter.flush(*store_).is_ok());
  EXPECT_EQ(meter.pending(), 0u);

  meter.add("000000000000", "app", kT0 + 10, 3);
  ASSERT_TRUE(meter.flush(*store_).is_ok());
  ASSERT_TRUE(meter.flush(*store_).is_ok());  // nothing new: adds nothing

  auto rows = store_->transfer("000000000000", kT0, kT0 + 2 * kHour);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].hour_ms, kT0);
  EXPECT_EQ((*rows)[0].bytes, 123);
  EXPECT_EQ((*rows)[1].hour_ms, kT0 + kHour);
  EXPECT_EQ((*rows)[1].bytes, 7);
}

}  // namespace
}  // namespace berth::app
