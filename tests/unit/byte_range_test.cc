// Content-Range of chunked uploads (distribution-spec v1.1, "Pushing a blob in
// chunks") and Range of blob GETs (RFC 9110 §14.1-14.4).
#include "core/byte_range.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

ByteRange content_range_ok(std::string_view header) {
  Result<ByteRange> r = parse_content_range(header);
  EXPECT_TRUE(r.is_ok()) << "'" << header << "': " << r.status().to_string();
  return r.is_ok() ? *r : ByteRange{~0ull, ~0ull};
}

void expect_content_range_invalid(std::string_view header) {
  Result<ByteRange> r = parse_content_range(header);
  ASSERT_FALSE(r.is_ok()) << "accepted '" << header << "' as " << r->first << "-" << r->last;
  EXPECT_EQ(r.status().code(), Code::kRangeInvalid) << header;
}

// --- Content-Range ----------------------------------------------------------------

TEST(ContentRangeTest, DistributionSpecForm) {
  EXPECT_EQ(content_range_ok("0-99"), (ByteRange{0, 99}));
  EXPECT_EQ(content_range_ok("100-199"), (ByteRange{100, 199}));
  EXPECT_EQ(content_range_ok("5-5"), (ByteRange{5, 5}));
  EXPECT_EQ(content_range_ok("0-99").length(), 100u);
  EXPECT_EQ(content_range_ok("5-5").length(), 1u);
}

TEST(ContentRangeTest, Rfc9110Form) {
  EXPECT_EQ(content_range_ok("bytes 0-99/200"), (ByteRange{0, 99}));
  EXPECT_EQ(content_range_ok("bytes 0-99/*"), (ByteRange{0, 99}));
  EXPECT_EQ(content_range_ok("bytes 100-199/200"), (ByteRange{100, 199}));
}

TEST(ContentRangeTest, SurroundingWhitespaceIsIgnored) {
  EXPECT_EQ(content_range_ok("  0-99 "), (ByteRange{0, 99}));
  EXPECT_EQ(content_range_ok("\tbytes 0-99/*\t"), (ByteRange{0, 99}));
}

TEST(ContentRangeTest, LargeOffsets) {
  EXPECT_EQ(content_range_ok("4294967296-8589934591"), (ByteRange{4294967296ull, 8589934591ull}));
  EXPECT_EQ(content_range_ok("0-18446744073709551614").last, 18446744073709551614ull);
}

TEST(ContentRangeTest, Malformed) {
  expect_content_range_invalid("");
  expect_content_range_invalid("   ");
  expect_content_range_invalid("0");
  expect_content_range_invalid("-");
  expect_content_range_invalid("-99");
  expect_content_range_invalid("0-");
  expect_content_range_invalid("a-b");
  expect_content_range_invalid("0x10-0x20");
  expect_content_range_invalid("0-99x");
  expect_content_range_invalid("+0-99");
  expect_content_range_invalid("0--99");
  expect_content_range_invalid("0 - 99");
  expect_content_range_invalid("bytes */200");  // the unsatisfied-range form
  expect_content_range_invalid("bytes");
  expect_content_range_invalid("items 0-99/200");
  expect_content_range_invalid("0-18446744073709551616");  // overflows uint64
}

// Regression: "0-18446744073709551615" spans 2^64 bytes, so ByteRange::length()
// wrapped to 0 and the chunk-upload handler matched it against an empty body
// with Content-Length: 0. Seen while writing the byte_range fuzz target's
// length property.
TEST(ContentRangeTest, RangeWhoseLengthOverflowsIsInvalid) {
  expect_content_range_invalid("0-18446744073709551615");
  expect_content_range_invalid("bytes 0-18446744073709551615/*");
  EXPECT_EQ(content_range_ok("1-18446744073709551615").length(), 18446744073709551615ull);
}

TEST(ContentRangeTest, LastBeforeFirstIsInvalid) {
  expect_content_range_invalid("99-0");
  expect_content_range_invalid("100-99");
  expect_content_range_invalid("bytes 10-9/20");
}

// Regression: parse_content_range used to discard everything after '/'
// unchecked, accepting a malformed complete-length although the header
// promises kRangeInvalid for anything that is not "<first>-<last>" or
// "bytes <first>-<last>/<total|*>". RFC 9110 §14.4 also makes a complete-length
// that is not greater than last-pos invalid ("bytes 0-99/50").
TEST(ContentRangeTest, MalformedCompleteLengthIsInvalid) {
  expect_content_range_invalid("bytes 0-99/abc");
  expect_content_range_invalid("bytes 0-99/");
  expect_content_range_invalid("bytes 0-99/-5");
  expect_content_range_invalid("bytes 0-99/50");
}

// --- Range ---------------------------------------------------------------------------

using Kind = RangeRequest::Kind;

void expect_partial(std::string_view header, uint64_t size, ByteRange want) {
  RangeRequest r = interpret_range(header, size);
  EXPECT_EQ(r.kind, Kind::kPartial) << "'" << header << "' on " << size << " bytes";
  EXPECT_EQ(r.range, want) << "'" << header << "' on " << size << " bytes: got " << r.range.first
                           << "-" << r.range.last;
}

void expect_kind(std::string_view header, uint64_t size, Kind want) {
  EXPECT_EQ(interpret_range(header, size).kind, want)
      << "'" << header << "' on " << size << " bytes";
}

TEST(RangeTest, AbsentHeaderMeansWhole) {
  expect_kind("", 200, Kind::kWhole);
}

TEST(RangeTest, FirstToLast) {
  expect_partial("bytes=0-99", 200, {0, 99});
  expect_partial("bytes=100-199", 200, {100, 199});
  expect_partial("bytes=0-0", 200, {0, 0});
  expect_partial("bytes=199-199", 200, {199, 199});
  expect_partial("bytes=0-199", 200, {0, 199});
}

TEST(RangeTest, LastBeyondTheEndIsClipped) {
  expect_partial("bytes=0-999", 200, {0, 199});
  expect_partial("bytes=150-18446744073709551615", 200, {150, 199});
}

TEST(RangeTest, OpenEnded) {
  expect_partial("bytes=100-", 200, {100, 199});
  expect_partial("bytes=0-", 200, {0, 199});
  expect_partial("bytes=199-", 200, {199, 199});
}

TEST(RangeTest, Suffix) {
  expect_partial("bytes=-50", 200, {150, 199});
  expect_partial("bytes=-1", 200, {199, 199});
  expect_partial("bytes=-200", 200, {0, 199});
  expect_partial("bytes=-500", 200, {0, 199});  // longer than the blob: the whole blob
}

TEST(RangeTest, WhitespaceAroundTheSpecIsTolerated) {
  expect_partial(" bytes= 10-19 ", 200, {10, 19});
}

TEST(RangeTest, FirstBeyondTheEndIsUnsatisfiable) {
  expect_kind("bytes=200-", 200, Kind::kUnsatisfiable);
  expect_kind("bytes=200-300", 200, Kind::kUnsatisfiable);
  expect_kind("bytes=1000-2000", 200, Kind::kUnsatisfiable);
  expect_kind("bytes=-0", 200, Kind::kUnsatisfiable);
}

TEST(RangeTest, MultipleRangesAreIgnored) {
  expect_kind("bytes=0-1,5-6", 200, Kind::kWhole);
  expect_kind("bytes=0-1, -5", 200, Kind::kWhole);
  expect_kind("bytes=500-600,700-800", 200, Kind::kWhole);
}

TEST(RangeTest, MalformedHeadersAreIgnored) {
  for (std::string_view h :
       {"0-99", "bytes 0-99", "bytes=", "bytes=-", "bytes=abc", "bytes=a-b", "bytes=5-1",
        "bytes=0-9x", "items=0-9", "bytes=--5", "bytes=0-99999999999999999999999"}) {
    expect_kind(h, 200, Kind::kWhole);
  }
}

TEST(RangeTest, ZeroSizeBlob) {
  expect_kind("", 0, Kind::kWhole);
  expect_kind("bytes=0-", 0, Kind::kUnsatisfiable);
  expect_kind("bytes=0-0", 0, Kind::kUnsatisfiable);
  expect_kind("bytes=0-99", 0, Kind::kUnsatisfiable);
  expect_kind("bytes=-5", 0, Kind::kUnsatisfiable);
  expect_kind("bytes=0-1,2-3", 0, Kind::kWhole);
}

TEST(RangeTest, PartialRangesAlwaysLieInsideTheBlob) {
  // Exhaustive over small sizes and offsets: a partial answer never points
  // outside [0, size) and never has last < first.
  for (uint64_t size = 0; size <= 12; ++size) {
    for (uint64_t a = 0; a <= 14; ++a) {
      for (uint64_t b = 0; b <= 14; ++b) {
        for (const std::string& h :
             {"bytes=" + std::to_string(a) + "-" + std::to_string(b),
              "bytes=" + std::to_string(a) + "-", "bytes=-" + std::to_string(b)}) {
          RangeRequest r = interpret_range(h, size);
          if (r.kind != Kind::kPartial) continue;
          EXPECT_LE(r.range.first, r.range.last) << h << " size " << size;
          EXPECT_LT(r.range.last, size) << h << " size " << size;
        }
      }
    }
  }
}

}  // namespace
}  // namespace berth
