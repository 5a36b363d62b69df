// Metrics in the Prometheus text exposition format 0.0.4: counters, gauges
// and histograms grouped in labelled families, and one renderer. No HTTP and
// no I/O here; the application decides who may read the text and where.
//
// Hot path: recording on a series the caller already holds is a relaxed
// atomic add (counters spread over per-thread shards, so threads counting the
// same series do not fight over one cache line). Finding a series by its
// label values takes a shared (reader) lock on its family and builds one
// small key; a series is created once, under the family's exclusive lock, and
// lives as long as the Registry, so references stay valid.
//
// Cardinality is the caller's business: every distinct tuple of label values
// is a series kept for the life of the process. Label values must come from
// bounded sets (routes, operations, status classes) or be bounded by the
// caller (see RepositoryBytes in app/). Never put a secret in a label.
//
// Thread-safe throughout.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace berth::metrics {

// A monotonically increasing count.
class Counter {
 public:
  void inc(uint64_t n = 1);
  uint64_t value() const;
  // Sets the count from a monotonic source counted elsewhere (e.g. the
  // listener's accepted connections), read by a collector at scrape time.
  // Only collectors call it; mixing it with inc() loses increments.
  void set_from_source(uint64_t total);

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Cell {
    std::atomic<uint64_t> v{0};
  };
  std::array<Cell, kShards> cells_;
};

// A value that goes up and down, or is set from outside (e.g. at scrape time).
class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is
// implicit), with their sum and count.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from 0.5 ms to 30 s.
const std::vector<double>& default_latency_buckets();

// Label values of one series, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

enum class Type { kCounter, kGauge, kHistogram };

// All series of one metric name. `M` is Counter, Gauge or Histogram.
template <class M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series with these label values (one per label name; a wrong count is
  // a programming error and yields the series of the values given, padded or
  // cut to the label count). Created on first use.
  M& with(std::initializer_list<std::string_view> values);
  M& with(const LabelValues& values);
  // Drops every series (for gauges rebuilt at scrape time, whose label sets
  // come and go). References obtained before are invalidated.
  void clear();

  const std::string& name() const { return name_; }
  // Appends this family's text (HELP, TYPE, then one line per series, sorted
  // by label values; a histogram's buckets, sum and count).
  void render(std::string& out) const;

 private:
  M& find_or_create(std::string key, LabelValues values);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::shared_mutex mu_;
  struct Series {
    LabelValues values;
    std::unique_ptr<M> metric;
  };
  std::map<std::string, Series> series_;  // by joined label values; guarded by mu_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns families, in registration order, and renders them all. Register
// families at start-up; a name registered twice is a programming error
// (the second call returns the first family when the type matches).
class Registry {
 public:
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> labels,
                             std::vector<double> bounds = default_latency_buckets());

  // `fn` runs at the start of every render(), to set gauges read from
  // elsewhere (open connections, storage bytes). It must not call render().
  void on_collect(std::function<void()> fn);

  // The whole exposition, Content-Type "text/plain; version=0.0.4".
  std::string render() const;

 private:
  struct Entry {
    Type type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  Entry* find(const std::string& name);

  mutable std::mutex mu_;
  std::vector<Entry> families_;                    // guarded by mu_ (the vector, not the families)
  std::vector<std::function<void()>> collectors_;  // guarded by mu_
  mutable std::mutex render_mu_;  // one render at a time (collectors set shared gauges)
};

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label value escaping of the text format: backslash, double quote and line
// feed become \\, \" and \n.
std::string escape_label_value(std::string_view v);
// HELP text escaping: backslash and line feed.
std::string escape_help(std::string_view v);
// A sample value: integers without a fraction, +Inf, -Inf, NaN as the format
// spells them, other values in the shortest form that reads back exactly.
std::string format_value(double v);

}  // namespace berth::metrics
