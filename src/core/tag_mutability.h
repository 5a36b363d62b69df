// Tag mutability of a repository (ECR `imageTagMutability` and
// `imageTagMutabilityExclusionFilters`, ECR-API.md §6.1 and §3.15).
//
// Pure domain logic: parsing, validation and the "is this tag immutable"
// decision. Whether a push actually moves an existing tag (the tag exists and
// points elsewhere, or, for ECR compatibility, exists at all) is the caller's
// business; this file only answers whether the tag is protected.
//
// Errors are Code::kInvalidArgument with ECR's `Invalid parameter at '<member>'
// failed to satisfy constraint: '<constraint>'` message, which the ECR edge
// reports as InvalidParameterException.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth {

enum class TagMutability {
  kMutable,                 // MUTABLE: every tag may move (the default)
  kImmutable,               // IMMUTABLE: no existing tag may move
  kMutableWithExclusion,    // MUTABLE_WITH_EXCLUSION: tags matching a filter are immutable
  kImmutableWithExclusion,  // IMMUTABLE_WITH_EXCLUSION: tags matching a filter stay mutable
};

inline constexpr size_t kMinExclusionFilters = 1;
inline constexpr size_t kMaxExclusionFilters = 5;
inline constexpr size_t kMaxExclusionFilterLength = 128;
// The only exclusion `filterType` ECR defines.
inline constexpr std::string_view kExclusionFilterTypeWildcard = "WILDCARD";

// ECR's wire string: "MUTABLE", "IMMUTABLE", "MUTABLE_WITH_EXCLUSION",
// "IMMUTABLE_WITH_EXCLUSION".
std::string_view format_tag_mutability(TagMutability mode);

// Inverse of format_tag_mutability. Exact, case-sensitive match; anything else
// (including "" and lower case) is kInvalidArgument naming the enum value set.
Result<TagMutability> parse_tag_mutability(std::string_view text);

// True for the two *_WITH_EXCLUSION modes.
bool uses_exclusion_filters(TagMutability mode);

struct TagMutabilityConfig {
  TagMutability mode = TagMutability::kMutable;
  // The `filter` strings of the `{"filterType": "WILDCARD", "filter": ...}`
  // entries, in request order. Empty means "no filters sent": the ECR edge must
  // itself reject an explicitly empty JSON array (the model's list minimum is 1).
  std::vector<std::string> exclusion_filters;
};

// `filterType` must be exactly "WILDCARD".
Status validate_exclusion_filter_type(std::string_view filter_type);

// One filter: 1-128 characters from [0-9a-zA-Z._*-] (ECR's
// ^[0-9a-zA-Z._*-]{1,128}$). ECR documents no limit on the number of '*'.
Status validate_exclusion_filter(std::string_view filter);

// The whole setting, checked in this order:
//   1. a plain mode (MUTABLE, IMMUTABLE) with any filter -> rejected;
//   2. a *_WITH_EXCLUSION mode without filters -> rejected;
//   3. more than 5 filters -> rejected;
//   4. each filter per validate_exclusion_filter, in order.
Status validate_tag_mutability_config(const TagMutabilityConfig& config);

// parse_tag_mutability + validate_tag_mutability_config in one step, for the
// PutImageTagMutability / CreateRepository handlers.
Result<TagMutabilityConfig> make_tag_mutability_config(std::string_view mode,
                                                       std::vector<std::string> exclusion_filters);

// Whether an existing `tag` may not be moved to another image. A filter
// matches a tag when it matches the WHOLE tag, '*' standing for any run of
// characters (wildcard_match); `dev-*` matches `dev-1` but not `mydev-1`
// [berth interpretation, ECR-API.md §6.1]. Filters are ignored under the plain
// modes. Expects a config that passed validation; never fails.
bool is_tag_immutable(const TagMutabilityConfig& config, std::string_view tag);

}  // namespace berth
