// The environment seam for time: production code asks a Clock, tests freeze it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace berth {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual int64_t now_seconds() const = 0;
  // Milliseconds since the Unix epoch.
  virtual int64_t now_millis() const = 0;

  // The process-wide real clock. Thread-safe.
  static const Clock& system();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t millis = 1'700'000'000'000) : millis_(millis) {}
  int64_t now_seconds() const override { return millis_.load() / 1000; }
  int64_t now_millis() const override { return millis_.load(); }
  void set_seconds(int64_t s) { millis_ = s * 1000; }
  void advance_seconds(int64_t s) { millis_ += s * 1000; }

 private:
  std::atomic<int64_t> millis_;
};

}  // namespace berth
