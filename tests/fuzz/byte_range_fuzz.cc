// Content-Range of chunk uploads and Range of blob GETs (src/core/byte_range.*).
//
// Properties: an accepted Content-Range has first <= last and a length that
// is last - first + 1 without wrapping (the upload handler compares it with
// Content-Length and with the bytes written); a partial GET range lies inside
// the blob, for blob sizes at the edges of uint64.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/byte_range.h"
#include "fuzz_check.h"

namespace {

void check_get_range(std::string_view header, uint64_t size) {
  auto r = berth::interpret_range(header, size);
  if (r.kind != berth::RangeRequest::Kind::kPartial) return;
  FUZZ_CHECK(size > 0);
  FUZZ_CHECK(r.range.first <= r.range.last);
  FUZZ_CHECK(r.range.last < size);
  FUZZ_CHECK(r.range.length() >= 1 && r.range.length() <= size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto r = berth::parse_content_range(input)) {
    FUZZ_CHECK(r->first <= r->last);
    FUZZ_CHECK(r->length() >= 1);
    FUZZ_CHECK(r->length() - 1 == r->last - r->first);
  }
  for (uint64_t blob_size :
       {uint64_t{0}, uint64_t{1}, uint64_t{1024}, uint64_t{1} << 40, UINT64_MAX - 1, UINT64_MAX}) {
    check_get_range(input, blob_size);
  }
  return 0;
}
