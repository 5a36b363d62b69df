// Structured logging: every line is one JSON object with time, level and msg,
// plus fields. Callers must never pass a secret as a field or in a message.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace berth::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Sets the threshold ("debug", "info", "warn", "error"); false if unknown.
bool set_level(std::string_view level);
bool enabled(Level level);

// Writes one line to stderr. Thread-safe.
void write(Level level, std::string_view msg, boost::json::object fields = {});

inline void debug(std::string_view msg, boost::json::object fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, msg, std::move(fields));
}
inline void info(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kInfo, msg, std::move(fields));
}
inline void warn(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kWarn, msg, std::move(fields));
}
inline void error(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kError, msg, std::move(fields));
}

}  // namespace berth::log
