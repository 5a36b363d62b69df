#include "core/events.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <ctime>

namespace berth {
namespace json = boost::json;

namespace {

OutboxEvent event_of(std::string id, std::string_view detail_type, std::string_view account,
                     std::string_view repository, const json::object& detail, int64_t time_ms) {
  OutboxEvent e;
  e.id = std::move(id);
  e.detail_type = std::string(detail_type);
  e.account_id = std::string(account);
  e.repository = std::string(repository);
  e.detail = json::serialize(detail);
  e.time_ms = time_ms;
  return e;
}

}  // namespace

OutboxEvent image_action_event(std::string id, std::string_view account,
                               std::string_view repository, std::string_view action,
                               std::string_view result, std::string_view digest,
                               std::string_view tag, int64_t time_ms) {
  json::object d{{"result", result}, {"repository-name", repository}, {"action-type", action}};
  if (!digest.empty()) d["image-digest"] = digest;
  if (!tag.empty()) d["image-tag"] = tag;
  return event_of(std::move(id), kImageActionEvent, account, repository, d, time_ms);
}

OutboxEvent lifecycle_expiry_event(std::string id, std::string_view account,
                                   std::string_view repository, std::string_view digest,
                                   const std::vector<std::string>& tags, int64_t time_ms) {
  json::array t;
  for (const auto& tag : tags) t.emplace_back(tag);
  json::object d{{"result", "SUCCESS"},
                 {"repository-name", repository},
                 {"action-type", "EXPIRE"},
                 {"image-digest", digest},
                 {"image-tags", std::move(t)}};
  return event_of(std::move(id), kLifecyclePolicyActionEvent, account, repository, d, time_ms);
}

OutboxEvent image_scan_event(std::string id, std::string_view account, std::string_view repository,
                             std::string_view digest, const std::vector<std::string>& tags,
                             std::string_view scan_status,
                             const std::vector<std::pair<std::string, int64_t>>& severity_counts,
                             int64_t time_ms) {
  json::array t;
  for (const auto& tag : tags) t.emplace_back(tag);
  json::object counts;
  for (const auto& [severity, n] : severity_counts) counts[severity] = n;
  json::object d{{"scan-status", scan_status},
                 {"repository-name", repository},
                 {"finding-severity-counts", std::move(counts)},
                 {"image-digest", digest},
                 {"image-tags", std::move(t)}};
  return event_of(std::move(id), kImageScanEvent, account, repository, d, time_ms);
}

std::string event_time(int64_t time_ms) {
  const std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string render_event(const OutboxEvent& e, std::string_view region) {
  boost::system::error_code ec;
  json::value detail = json::parse(e.detail, ec);
  if (ec) detail = json::object{};
  json::object o{{"version", "0"},
                 {"id", e.id},
                 {"detail-type", e.detail_type},
                 {"source", "aws.ecr"},
                 {"account", e.account_id},
                 {"time", event_time(e.time_ms)},
                 {"region", region},
                 {"resources", json::array{}},
                 {"detail", std::move(detail)}};
  // As ECR: an image action names no resource, a lifecycle action and an
  // image scan their repository.
  if (e.detail_type == kLifecyclePolicyActionEvent || e.detail_type == kImageScanEvent) {
    o["resources"].as_array().emplace_back(
        fmt::format("arn:aws:ecr:{}:{}:repository/{}", region, e.account_id, e.repository));
  }
  return json::serialize(o);
}

}  // namespace berth
