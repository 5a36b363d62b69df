#include "core/wildcard.h"

#include <algorithm>

namespace berth {

bool wildcard_match(std::string_view pattern, std::string_view text) {
  const size_t first_star = pattern.find('*');
  if (first_star == std::string_view::npos) return pattern == text;

  // The pattern is head '*' middle '*' tail, where head and tail hold no star.
  // Head must be a prefix of the text and tail a suffix, without overlapping.
  const size_t last_star = pattern.rfind('*');
  const std::string_view head = pattern.substr(0, first_star);
  const std::string_view tail = pattern.substr(last_star + 1);
  if (text.size() < head.size() + tail.size()) return false;
  if (!text.starts_with(head) || !text.ends_with(tail)) return false;

  // Each literal segment of the middle must occur, in order, inside what is
  // left between head and tail. Taking the leftmost occurrence every time is
  // optimal: it leaves the longest remainder for the segments that follow.
  std::string_view rest = text.substr(head.size(), text.size() - head.size() - tail.size());
  std::string_view middle = pattern.substr(first_star + 1, last_star - first_star);
  while (!middle.empty()) {
    const size_t star = middle.find('*');  // present: middle ends with the last star
    const std::string_view segment = middle.substr(0, star);
    if (!segment.empty()) {
      const size_t at = rest.find(segment);
      if (at == std::string_view::npos) return false;
      rest.remove_prefix(at + segment.size());
    }
    middle.remove_prefix(star + 1);
  }
  return true;
}

size_t wildcard_count(std::string_view pattern) {
  return static_cast<size_t>(std::count(pattern.begin(), pattern.end(), '*'));
}

}  // namespace berth
