// Parsing of the byte ranges the registry API uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/status.h"

namespace berth {

// An inclusive byte range [first, last].
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// A chunk upload's Content-Range: "<first>-<last>", also accepting the RFC 9110
// form "bytes <first>-<last>/<total|*>". kRangeInvalid when malformed,
// last < first, or the range is all 2^64 offsets (its length() would wrap).
Result<ByteRange> parse_content_range(std::string_view header);

// The outcome of a GET Range header against a blob of `size` bytes.
struct RangeRequest {
  enum class Kind { kWhole, kPartial, kUnsatisfiable } kind = Kind::kWhole;
  ByteRange range;
};

// Interprets "bytes=a-b", "bytes=a-", "bytes=-n" (a single range). An absent,
// malformed or multi-range header yields kWhole (RFC 9110 lets a server ignore
// Range); a syntactically valid range outside the blob yields kUnsatisfiable.
RangeRequest interpret_range(std::string_view header, uint64_t size);

}  // namespace berth
