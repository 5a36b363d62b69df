// ECR-style wildcard patterns, shared by lifecycle `tagPatternList` entries and
// tag-mutability exclusion filters.
//
// Grammar: '*' matches any run of characters, including none. Every other byte
// matches itself, case-sensitively. There is no '?', no character class and no
// escape, so a pattern can never match a literal '*' other than through a '*'.
// Matching is over bytes; tags are ASCII in practice.
#pragma once

#include <cstddef>
#include <string_view>

namespace berth {

// True when `pattern` matches the whole of `text` (not a substring of it).
// Iterative, no recursion and no allocation: the literal head and tail of the
// pattern are anchored, and each literal segment between stars is found at its
// leftmost position after the previous one. Worst case O(|pattern| * |text|).
bool wildcard_match(std::string_view pattern, std::string_view text);

// Number of '*' characters in `pattern`.
size_t wildcard_count(std::string_view pattern);

}  // namespace berth
