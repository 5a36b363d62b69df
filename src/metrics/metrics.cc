#include "metrics/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace berth::metrics {

namespace {

// A small per-thread number spreading counter increments over the shards.
size_t shard_index() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

constexpr char kKeySeparator = '\x1f';

std::string join_key(const LabelValues& values) {
  std::string key;
  for (const auto& v : values) {
    key += v;
    key += kKeySeparator;
  }
  return key;
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const LabelValues& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

constexpr std::string_view type_name(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

template <class M>
constexpr Type type_of();
template <>
constexpr Type type_of<Counter>() {
  return Type::kCounter;
}
template <>
constexpr Type type_of<Gauge>() {
  return Type::kGauge;
}
template <>
constexpr Type type_of<Histogram>() {
  return Type::kHistogram;
}

}  // namespace

void Counter::inc(uint64_t n) {
  cells_[shard_index() % kShards].v.fetch_add(n, std::memory_order_relaxed);
}

uint64_t Counter::value() const {
  uint64_t total = 0;
  for (const auto& c : cells_) total += c.v.load(std::memory_order_relaxed);
  return total;
}

void Counter::set_from_source(uint64_t total) {
  for (size_t i = 1; i < kShards; ++i) cells_[i].v.store(0, std::memory_order_relaxed);
  cells_[0].v.store(total, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // The first bucket whose upper bound is >= v ("le"); past the last, +Inf.
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& default_latency_buckets() {
  static const std::vector<double> buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,   0.5,   1,      2.5,   5,    10,    30};
  return buckets;
}

template <class M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
}

template <class M>
M& Family<M>::with(std::initializer_list<std::string_view> values) {
  LabelValues v;
  v.reserve(label_names_.size());
  for (auto s : values) v.emplace_back(s);
  return with(v);
}

template <class M>
M& Family<M>::with(const LabelValues& values) {
  LabelValues v = values;
  v.resize(label_names_.size());
  std::string key = join_key(v);
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second.metric;
  }
  return find_or_create(std::move(key), std::move(v));
}

template <class M>
M& Family<M>::find_or_create(std::string key, LabelValues values) {
  std::unique_lock lock(mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return *it->second.metric;
  std::unique_ptr<M> metric;
  if constexpr (std::is_same_v<M, Histogram>) {
    metric = std::make_unique<Histogram>(bounds_);
  } else {
    metric = std::make_unique<M>();
  }
  M& ref = *metric;
  series_.emplace(std::move(key), Series{std::move(values), std::move(metric)});
  return ref;
}

template <class M>
void Family<M>::clear() {
  std::unique_lock lock(mu_);
  series_.clear();
}

template <class M>
void Family<M>::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_,
                     type_name(type_of<M>()));
  std::shared_lock lock(mu_);
  for (const auto& [key, s] : series_) {
    if constexpr (std::is_same_v<M, Histogram>) {
      const Histogram::Snapshot snap = s.metric->snapshot();
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        out += name_;
        out += "_bucket";
        append_labels(out, label_names_, s.values, "le",
                      i < bounds_.size() ? format_value(bounds_[i]) : std::string("+Inf"));
        out += ' ';
        out += std::to_string(snap.cumulative[i]);
        out += '\n';
      }
      out += name_;
      out += "_sum";
      append_labels(out, label_names_, s.values);
      out += ' ';
      out += format_value(snap.sum);
      out += '\n';
      out += name_;
      out += "_count";
      append_labels(out, label_names_, s.values);
      out += ' ';
      out += std::to_string(snap.cumulative.back());
      out += '\n';
    } else {
      out += name_;
      append_labels(out, label_names_, s.values);
      out += ' ';
      if constexpr (std::is_same_v<M, Counter>) {
        out += std::to_string(s.metric->value());
      } else {
        out += format_value(s.metric->value());
      }
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry* Registry::find(const std::string& name) {
  for (auto& e : families_) {
    const std::string& n = e.counter ? e.counter->name()
                           : e.gauge ? e.gauge->name()
                                     : e.histogram->name();
    if (n == name) return &e;
  }
  return nullptr;
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  if (Entry* e = find(name); e != nullptr && e->counter) return *e->counter;
  Entry e{Type::kCounter,
          std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labels)),
          nullptr, nullptr};
  families_.push_back(std::move(e));
  return *families_.back().counter;
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  if (Entry* e = find(name); e != nullptr && e->gauge) return *e->gauge;
  Entry e{Type::kGauge, nullptr,
          std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(labels)),
          nullptr};
  families_.push_back(std::move(e));
  return *families_.back().gauge;
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  if (Entry* e = find(name); e != nullptr && e->histogram) return *e->histogram;
  Entry e{Type::kHistogram, nullptr, nullptr,
          std::make_unique<HistogramFamily>(std::move(name), std::move(help), std::move(labels),
                                            std::move(bounds))};
  families_.push_back(std::move(e));
  return *families_.back().histogram;
}

void Registry::on_collect(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  std::lock_guard render_lock(render_mu_);
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (const auto& fn : collectors) fn();
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& e : families_) {
    if (e.counter) e.counter->render(out);
    if (e.gauge) e.gauge->render(out);
    if (e.histogram) e.histogram->render(out);
  }
  return out;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace berth::metrics
