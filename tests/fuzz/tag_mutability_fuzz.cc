// Tag mutability settings and exclusion filters (src/core/tag_mutability.*,
// src/core/wildcard.*), as CreateRepository and PutImageTagMutability receive
// them and as every manifest push evaluates them.
//
// Input: lines; the first is the mode, the last the tag pushed, the ones in
// between the exclusion filters.
// Properties: wildcard_match agrees with a plain dynamic-programming matcher;
// is_tag_immutable follows from the mode and the filters as documented.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tag_mutability.h"
#include "core/wildcard.h"
#include "fuzz_check.h"

namespace {

// The obvious O(|p|*|t|) matcher, the reference wildcard_match must agree with.
bool reference_match(std::string_view p, std::string_view t) {
  std::vector<char> row(t.size() + 1, 0), next(t.size() + 1, 0);
  row[0] = 1;  // the empty pattern matches the empty text
  for (size_t j = 1; j <= t.size(); ++j) row[j] = 0;
  for (char pc : p) {
    next.assign(t.size() + 1, 0);
    next[0] = pc == '*' && row[0];
    for (size_t j = 1; j <= t.size(); ++j) {
      next[j] = pc == '*' ? (row[j] || next[j - 1]) : (row[j - 1] && pc == t[j - 1]);
    }
    row.swap(next);
  }
  return row[t.size()] != 0;
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    auto nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto lines = split_lines(input);
  const std::string_view tag = lines.back();

  for (size_t i = 0; i < lines.size(); ++i) {
    FUZZ_CHECK(berth::wildcard_match(lines[i], tag) == reference_match(lines[i], tag));
    FUZZ_CHECK(
        berth::wildcard_match(lines[i], lines[i]));  // literal text matches itself, '*' included
  }

  (void)berth::validate_exclusion_filter_type(lines.front());
  auto mode = berth::parse_tag_mutability(lines.front());
  if (mode) FUZZ_CHECK(berth::format_tag_mutability(*mode) == lines.front());

  std::vector<std::string> filters;
  for (size_t i = 1; i + 1 < lines.size(); ++i) filters.emplace_back(lines[i]);
  auto config = berth::make_tag_mutability_config(lines.front(), filters);
  if (!config) return 0;
  FUZZ_CHECK(mode.is_ok() && config->mode == *mode);
  FUZZ_CHECK(config->exclusion_filters.size() <= berth::kMaxExclusionFilters);

  bool any_filter = false;
  for (const auto& f : config->exclusion_filters) {
    FUZZ_CHECK(berth::validate_exclusion_filter(f).is_ok());
    any_filter = any_filter || reference_match(f, tag);
  }
  const bool immutable = berth::is_tag_immutable(*config, tag);
  switch (config->mode) {
    case berth::TagMutability::kMutable:
      FUZZ_CHECK(!immutable);
      break;
    case berth::TagMutability::kImmutable:
      FUZZ_CHECK(immutable);
      break;
    case berth::TagMutability::kMutableWithExclusion:
      FUZZ_CHECK(immutable == any_filter);
      break;
    case berth::TagMutability::kImmutableWithExclusion:
      FUZZ_CHECK(immutable == !any_filter);
      break;
  }
  return 0;
}
