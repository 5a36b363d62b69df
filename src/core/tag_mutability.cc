#include "core/tag_mutability.h"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

#include "core/wildcard.h"

namespace berth {
namespace {

constexpr std::string_view kModeMember = "imageTagMutability";
constexpr std::string_view kFiltersMember = "imageTagMutabilityExclusionFilters";

Status invalid_parameter(std::string_view member, std::string_view constraint) {
  return error(Code::kInvalidArgument,
               fmt::format("Invalid parameter at '{}' failed to satisfy constraint: '{}'", member,
                           constraint));
}

bool is_filter_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '_' || c == '*' || c == '-';
}

}  // namespace

std::string_view format_tag_mutability(TagMutability mode) {
  switch (mode) {
    case TagMutability::kMutable:
      return "MUTABLE";
    case TagMutability::kImmutable:
      return "IMMUTABLE";
    case TagMutability::kMutableWithExclusion:
      return "MUTABLE_WITH_EXCLUSION";
    case TagMutability::kImmutableWithExclusion:
      return "IMMUTABLE_WITH_EXCLUSION";
  }
  return "MUTABLE";  // unreachable for valid enumerators
}

Result<TagMutability> parse_tag_mutability(std::string_view text) {
  for (TagMutability mode :
       {TagMutability::kMutable, TagMutability::kImmutable, TagMutability::kMutableWithExclusion,
        TagMutability::kImmutableWithExclusion}) {
    if (text == format_tag_mutability(mode)) return mode;
  }
  // Wording as moto reproduces ECR (ECR-API.md §3.15).
  return invalid_parameter(kModeMember,
                           "Member must satisfy enum value set: [IMMUTABLE, MUTABLE, "
                           "MUTABLE_WITH_EXCLUSION, IMMUTABLE_WITH_EXCLUSION]");
}

bool uses_exclusion_filters(TagMutability mode) {
  return mode == TagMutability::kMutableWithExclusion ||
         mode == TagMutability::kImmutableWithExclusion;
}

Status validate_exclusion_filter_type(std::string_view filter_type) {
  if (filter_type == kExclusionFilterTypeWildcard) return Status::ok();
  return invalid_parameter(
      kFiltersMember,
      fmt::format("Invalid value for 'filterType' in mutability exclusion filter: {}",
                  filter_type));
}

Status validate_exclusion_filter(std::string_view filter) {
  const bool ok = !filter.empty() && filter.size() <= kMaxExclusionFilterLength &&
                  std::all_of(filter.begin(), filter.end(), is_filter_char);
  if (ok) return Status::ok();
  return invalid_parameter(
      kFiltersMember,
      fmt::format("filter '{}' must satisfy regular expression '^[0-9a-zA-Z._*-]{{1,128}}$'",
                  filter));
}

Status validate_tag_mutability_config(const TagMutabilityConfig& config) {
  const std::string_view mode = format_tag_mutability(config.mode);
  if (!uses_exclusion_filters(config.mode)) {
    if (!config.exclusion_filters.empty()) {
      return invalid_parameter(
          kFiltersMember,
          fmt::format("ImageTagMutabilityExclusionFilters must be null when imageTagMutability "
                      "is set as {}",
                      mode));
    }
    return Status::ok();
  }
  if (config.exclusion_filters.size() < kMinExclusionFilters) {
    // moto's wording, said to mirror ECR.
    return invalid_parameter(
        kFiltersMember,
        fmt::format("ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is "
                    "set as {}",
                    mode));
  }
  if (config.exclusion_filters.size() > kMaxExclusionFilters) {
    return invalid_parameter(
        kFiltersMember,
        fmt::format("Member must have length less than or equal to {}", kMaxExclusionFilters));
  }
  for (const std::string& filter : config.exclusion_filters) {
    BERTH_RETURN_IF_ERROR(validate_exclusion_filter(filter));
  }
  return Status::ok();
}

Result<TagMutabilityConfig> make_tag_mutability_config(std::string_view mode,
                                                       std::vector<std::string> exclusion_filters) {
  BERTH_ASSIGN_OR_RETURN(TagMutability parsed, parse_tag_mutability(mode));
  TagMutabilityConfig config{parsed, std::move(exclusion_filters)};
  BERTH_RETURN_IF_ERROR(validate_tag_mutability_config(config));
  return config;
}

bool is_tag_immutable(const TagMutabilityConfig& config, std::string_view tag) {
  auto excluded = [&] {
    return std::any_of(config.exclusion_filters.begin(), config.exclusion_filters.end(),
                       [&](const std::string& filter) { return wildcard_match(filter, tag); });
  };
  switch (config.mode) {
    case TagMutability::kMutable:
      return false;
    case TagMutability::kImmutable:
      return true;
    case TagMutability::kMutableWithExclusion:
      return excluded();
    case TagMutability::kImmutableWithExclusion:
      return !excluded();
  }
  return false;  // unreachable for valid enumerators
}

}  // namespace berth
