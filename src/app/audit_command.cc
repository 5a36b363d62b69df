#include "app/audit_command.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <ostream>
#include <vector>

namespace berth::app {
namespace json = boost::json;

namespace {

// `since` as the RFC 3339 prefix records compare against: record times are
// all UTC with the same layout, so text order is time order.
Result<std::string> since_bound(const std::string& since) {
  if (since.empty()) return std::string();
  if (since.size() >= 10 && since[4] == '-' && since[7] == '-') {
    std::string t = since;
    if (!t.empty() && t.back() == 'Z') t.pop_back();
    return t;
  }
  BERTH_ASSIGN_OR_RETURN(int64_t back, parse_duration(since));
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs =
      std::chrono::system_clock::to_time_t(now) - static_cast<std::time_t>(back);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string text(const json::object& r, std::string_view key) {
  const json::value* v = r.if_contains(key);
  if (v == nullptr) return "-";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_array()) {
    std::string s;
    for (const auto& x : v->as_array()) {
      if (x.is_string()) s += (s.empty() ? "" : ",") + std::string(x.as_string());
    }
    return s.empty() ? "-" : s;
  }
  return json::serialize(*v);
}

}  // namespace

int print_audit_log(const Config& config, const AuditQuery& query, std::ostream& out,
                    std::ostream& err) {
  const std::string path = audit_log_target(config);
  if (path == "off" || path == "stderr") {
    err << "berth admin audit: the audit log is " << path
        << " in this configuration; nothing to read\n";
    return 1;
  }
  auto since = since_bound(query.since);
  if (!since) {
    err << "berth admin audit: --since: " << since.status().message() << " (or an RFC 3339 time)\n";
    return 1;
  }
  std::ifstream in(path);
  if (!in) {
    err << "berth admin audit: cannot read " << path << "\n";
    return 1;
  }
  std::vector<std::pair<std::string, json::object>> records;
  size_t unreadable = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      ++unreadable;
      continue;
    }
    json::object& r = v.as_object();
    const std::string time = text(r, "time");
    if (!since->empty() && time.substr(0, since->size()) < *since) continue;
    if (!query.account.empty() && text(r, "account") != query.account) continue;
    if (!query.repository.empty() && text(r, "repository") != query.repository) continue;
    records.emplace_back(time, std::move(r));
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (query.table) {
    out << fmt::format("{:<24}  {:<4}  {:<22}  {:<8}  {:<12}  {:<16}  {:<24}  {}\n", "TIME", "API",
                       "OPERATION", "RESULT", "ACCOUNT", "USER", "REPOSITORY", "IMAGE");
  }
  for (const auto& [time, r] : records) {
    if (!query.table) {
      out << json::serialize(r) << "\n";
      continue;
    }
    std::string image = text(r, "image_tags");
    if (image == "-") image = text(r, "image_digests");
    std::string result = text(r, "result");
    if (r.contains("error_code")) result += " " + text(r, "error_code");
    out << fmt::format("{:<24}  {:<4}  {:<22}  {:<8}  {:<12}  {:<16}  {:<24}  {}\n", time,
                       text(r, "api"), text(r, "operation"), result, text(r, "account"),
                       text(r, "user"), text(r, "repository"), image);
  }
  if (unreadable > 0) err << "berth admin audit: skipped " << unreadable << " unreadable line(s)\n";
  return 0;
}

}  // namespace berth::app
