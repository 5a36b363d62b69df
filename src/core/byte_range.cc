#include "core/byte_range.h"

#include <charconv>

namespace berth {
namespace {

std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<ByteRange> parse_content_range(std::string_view header) {
  std::string_view s = trim(header);
  if (s.substr(0, 6) == "bytes ") s = trim(s.substr(6));
  if (s.substr(0, 6) == "bytes=") s = s.substr(6);
  std::optional<uint64_t> total;
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    std::string_view t = s.substr(slash + 1);
    if (t != "*") {
      total = parse_u64(t);
      if (!total)
        return error(Code::kRangeInvalid, "Content-Range complete length must be a number or '*'");
    }
    s = s.substr(0, slash);
  }
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    return error(Code::kRangeInvalid, "Content-Range must be <start>-<end>");
  }
  auto first = parse_u64(s.substr(0, dash));
  auto last = parse_u64(s.substr(dash + 1));
  if (!first || !last || *last < *first) {
    return error(Code::kRangeInvalid, "Content-Range must be <start>-<end> with start <= end");
  }
  if (*first == 0 && *last == UINT64_MAX) {
    // 2^64 bytes: ByteRange::length() cannot express it.
    return error(Code::kRangeInvalid, "Content-Range covers more bytes than a length can express");
  }
  if (total && *last >= *total) {
    return error(Code::kRangeInvalid, "Content-Range ends beyond its complete length");
  }
  return ByteRange{*first, *last};
}

RangeRequest interpret_range(std::string_view header, uint64_t size) {
  RangeRequest out;
  std::string_view s = trim(header);
  if (s.substr(0, 6) != "bytes=") return out;
  s = trim(s.substr(6));
  if (s.find(',') != std::string_view::npos) return out;
  auto dash = s.find('-');
  if (dash == std::string_view::npos) return out;
  std::string_view a = trim(s.substr(0, dash));
  std::string_view b = trim(s.substr(dash + 1));
  if (a.empty()) {
    auto n = parse_u64(b);
    if (!n) return out;
    if (*n == 0 || size == 0) {
      out.kind = RangeRequest::Kind::kUnsatisfiable;
      return out;
    }
    uint64_t len = std::min(*n, size);
    out.kind = RangeRequest::Kind::kPartial;
    out.range = {size - len, size - 1};
    return out;
  }
  auto first = parse_u64(a);
  if (!first) return out;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = parse_u64(b);
    if (!l || *l < *first) return out;
    last = std::min(*l, last);
  }
  if (*first >= size) {
    out.kind = RangeRequest::Kind::kUnsatisfiable;
    return out;
  }
  out.kind = RangeRequest::Kind::kPartial;
  out.range = {*first, last};
  return out;
}

}  // namespace berth
