// Repository names and tags, per the OCI distribution-spec grammar.
#pragma once

#include <string_view>

#include "core/status.h"

namespace berth {

inline constexpr size_t kMaxRepositoryNameLength = 255;
inline constexpr size_t kMaxTagLength = 128;

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
// and at most 255 characters. kNameInvalid otherwise.
Status validate_repository_name(std::string_view name);

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. kTagInvalid otherwise.
Status validate_tag(std::string_view tag);

// A manifest reference is a digest when it contains ':' (tags cannot).
inline bool reference_is_digest(std::string_view reference) {
  return reference.find(':') != std::string_view::npos;
}

}  // namespace berth
