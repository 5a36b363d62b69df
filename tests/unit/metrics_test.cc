#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace berth::metrics {
namespace {

TEST(MetricsText, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_help("x\\y\nz\""), "x\\\\y\\nz\"");
}

TEST(MetricsText, ValuesUseTheFormatsSpelling) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsText, CounterFamilyRendersHelpTypeAndSortedSeries) {
  Registry r;
  auto& f = r.counter("berth_things_total", "Things.\nCounted", {"kind"});
  f.with({"b\"x"}).inc(2);
  f.with({"a"}).inc();
  f.with({"a"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP berth_things_total Things.\\nCounted\n"
            "# TYPE berth_things_total counter\n"
            "berth_things_total{kind=\"a\"} 2\n"
            "berth_things_total{kind=\"b\\\"x\"} 2\n");
}

TEST(MetricsText, HistogramHasCumulativeBucketsInfSumAndCount) {
  Registry r;
  auto& f = r.histogram("berth_wait_seconds", "Wait.", {"api"}, {0.1, 1});
  auto& h = f.with({"oci"});
  h.observe(0.05);
  h.observe(0.1);  // on the bound: counted in le="0.1"
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(r.render(),
            "# HELP berth_wait_seconds Wait.\n"
            "# TYPE berth_wait_seconds histogram\n"
            "berth_wait_seconds_bucket{api=\"oci\",le=\"0.1\"} 2\n"
            "berth_wait_seconds_bucket{api=\"oci\",le=\"1\"} 3\n"
            "berth_wait_seconds_bucket{api=\"oci\",le=\"+Inf\"} 4\n"
            "berth_wait_seconds_sum{api=\"oci\"} 7.65\n"
            "berth_wait_seconds_count{api=\"oci\"} 4\n");
}

TEST(MetricsText, UnlabelledGaugeAndCollectorsRunBeforeRender) {
  Registry r;
  auto& g = r.gauge("berth_open", "Open.");
  int calls = 0;
  r.on_collect([&] {
    ++calls;
    g.with({}).set(5);
  });
  EXPECT_EQ(r.render(), "# HELP berth_open Open.\n# TYPE berth_open gauge\nberth_open 5\n");
  EXPECT_EQ(calls, 1);
}

TEST(MetricsText, RegisteringANameTwiceReturnsTheSameFamily) {
  Registry r;
  auto& a = r.counter("berth_x_total", "X.");
  auto& b = r.counter("berth_x_total", "X.");
  EXPECT_EQ(&a, &b);
}

TEST(MetricsCounter, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& f = r.counter("berth_c_total", "C.", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) f.with({"same"}).inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.with({"same"}).value(), 80000u);
}

}  // namespace
}  // namespace berth::metrics
