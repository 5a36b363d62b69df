// The events berth reports to webhooks, shaped as ECR's EventBridge events
// (README, "Events"): {version, id, detail-type, source "aws.ecr", account,
// time, region, resources, detail}. Pure: ids and times come from the caller.
//
// Kinds: "ECR Image Action" (a push or delete, SUCCESS or FAILURE), "ECR
// Lifecycle Policy Action" (an image a lifecycle policy expired) and "ECR
// Image Scan" (a basic scan ended); delivery and filtering take any
// detail-type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/records.h"

namespace berth {

inline constexpr std::string_view kImageActionEvent = "ECR Image Action";
inline constexpr std::string_view kLifecyclePolicyActionEvent = "ECR Lifecycle Policy Action";
inline constexpr std::string_view kImageScanEvent = "ECR Image Scan";

// An "ECR Image Action" event: `action` "PUSH" or "DELETE", `result`
// "SUCCESS" or "FAILURE"; `tag` empty when the image was addressed by digest.
OutboxEvent image_action_event(std::string id, std::string_view account,
                               std::string_view repository, std::string_view action,
                               std::string_view result, std::string_view digest,
                               std::string_view tag, int64_t time_ms);

// An "ECR Lifecycle Policy Action" event: the image `digest` with `tags` expired.
OutboxEvent lifecycle_expiry_event(std::string id, std::string_view account,
                                   std::string_view repository, std::string_view digest,
                                   const std::vector<std::string>& tags, int64_t time_ms);

// An "ECR Image Scan" event: the scan of image `digest` (tagged `tags`)
// ended with `scan_status` ("COMPLETE", "FAILED", ...); `severity_counts` by
// ECR severity name, non-zero counts only.
OutboxEvent image_scan_event(std::string id, std::string_view account, std::string_view repository,
                             std::string_view digest, const std::vector<std::string>& tags,
                             std::string_view scan_status,
                             const std::vector<std::pair<std::string, int64_t>>& severity_counts,
                             int64_t time_ms);

// The event as a webhook receives it (one JSON object), for berth's `region`.
// As ECR's, an image action's resources are empty, a lifecycle action's and
// an image scan's name the repository's ARN.
std::string render_event(const OutboxEvent& event, std::string_view region);

// RFC 3339 in UTC, whole seconds as EventBridge writes them: 2026-12-07T08:15:00Z.
std::string event_time(int64_t time_ms);

}  // namespace berth
