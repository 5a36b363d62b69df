#include "meta/stored_formats.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <boost/json.hpp>
#include <charconv>

namespace berth::stored_formats {

namespace {

boost::json::value parse_or_null(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return ec ? boost::json::value() : v;
}

}  // namespace

std::string strings_to_json(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return boost::json::serialize(a);
}

std::vector<std::string> strings_from_json(std::string_view text) {
  std::vector<std::string> out;
  boost::json::value v = parse_or_null(text);
  if (!v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::string annotations_to_json(const std::map<std::string, std::string>& m) {
  boost::json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return boost::json::serialize(o);
}

std::map<std::string, std::string> annotations_from_json(std::string_view text) {
  std::map<std::string, std::string> out;
  boost::json::value v = parse_or_null(text);
  if (!v.is_object()) return out;
  for (const auto& [k, e] : v.as_object()) {
    if (e.is_string()) out.emplace(std::string(k), std::string(e.as_string()));
  }
  return out;
}

std::string preview_results_to_json(const std::vector<LifecyclePreviewResult>& results) {
  boost::json::array a;
  for (const auto& r : results) {
    boost::json::array tags;
    for (const auto& t : r.tags) tags.emplace_back(t);
    a.push_back(boost::json::object{{"digest", r.digest},
                                    {"tags", std::move(tags)},
                                    {"pushed_at_ms", r.pushed_at_ms},
                                    {"rule", r.rule_priority}});
  }
  return boost::json::serialize(a);
}

std::vector<LifecyclePreviewResult> preview_results_from_json(std::string_view text) {
  std::vector<LifecyclePreviewResult> out;
  boost::json::value v = parse_or_null(text);
  if (!v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    LifecyclePreviewResult r;
    if (const auto* d = o.if_contains("digest"); d != nullptr && d->is_string())
      r.digest = d->as_string();
    if (const auto* t = o.if_contains("tags"); t != nullptr && t->is_array()) {
      for (const auto& tag : t->as_array()) {
        if (tag.is_string()) r.tags.emplace_back(tag.as_string());
      }
    }
    if (const auto* ms = o.if_contains("pushed_at_ms"); ms != nullptr && ms->is_int64()) {
      r.pushed_at_ms = ms->as_int64();
    } else if (const auto* sec = o.if_contains("pushed_at"); sec != nullptr && sec->is_int64()) {
      r.pushed_at_ms = sec->as_int64() * 1000;
    }
    if (const auto* rule = o.if_contains("rule"); rule != nullptr && rule->is_int64()) {
      r.rule_priority = static_cast<int>(rule->as_int64());
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

constexpr int kSeverities = static_cast<int>(scan::Severity::kCritical) + 1;

}  // namespace

std::string severity_counts_text(const std::vector<scan::Finding>& findings) {
  std::array<int64_t, kSeverities> counts{};
  for (const scan::Finding& f : findings) {
    const int i = static_cast<int>(f.severity);
    if (i >= 0 && i < kSeverities) ++counts[i];
  }
  return fmt::format("{}", fmt::join(counts, ","));
}

std::map<scan::Severity, int64_t> severity_counts_from_text(std::string_view text) {
  std::map<scan::Severity, int64_t> out;
  int severity = 0;
  while (!text.empty() && severity < kSeverities) {
    const size_t comma = text.find(',');
    const std::string_view field = text.substr(0, comma);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), n);
    if (ec != std::errc() || end != field.data() + field.size()) return {};
    if (n > 0) out[static_cast<scan::Severity>(severity)] = n;
    ++severity;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace berth::stored_formats
