#include "core/base64.h"

#include <array>
#include <cstdint>

namespace berth {
namespace {

constexpr std::string_view kStandard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kBad = 0xff;

constexpr std::array<uint8_t, 256> reverse(std::string_view alphabet) {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kBad;
  for (size_t i = 0; i < alphabet.size(); ++i)
    table[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  return table;
}

constexpr auto kStandardReverse = reverse(kStandard);
constexpr auto kUrlReverse = reverse(kUrl);

std::string encode(std::string_view data, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve(4 * ((data.size() + 2) / 3));
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (rest == 2) v |= uint32_t{p[i + 1]} << 8;
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.append(3 - rest, '=');
  }
  return out;
}

// Decodes unpadded text of any length except 4k+1.
Result<std::string> decode(std::string_view text, const std::array<uint8_t, 256>& table) {
  if (text.size() % 4 == 1) return error(Code::kInvalidArgument, "base64 length is impossible");
  const size_t whole = text.size() / 4;
  const size_t rest = text.size() % 4;  // 0, 2 or 3 characters: 0, 1 or 2 more bytes
  std::string out(whole * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  uint8_t bad = 0;  // any character outside the alphabet sets the high bit
  for (size_t g = 0; g < whole; ++g, in += 4, o += 3) {
    const uint8_t a = table[in[0]], b = table[in[1]], c = table[in[2]], d = table[in[3]];
    bad |= a | b | c | d;
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  uint32_t tail_bits = 0;
  if (rest > 0) {
    const uint8_t a = table[in[0]], b = table[in[1]], c = rest == 3 ? table[in[2]] : 0;
    bad |= a | b | c;
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6);
    o[0] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) o[1] = static_cast<uint8_t>(v >> 8);
    // The last character carries 4 (two left) or 2 (three left) bits beyond
    // the final byte; a canonical encoding leaves them zero.
    tail_bits = rest == 2 ? (v >> 8) & 0xff : v & 0xff;
  }
  if (bad & 0x80) return error(Code::kInvalidArgument, "invalid base64 character");
  if (tail_bits != 0) return error(Code::kInvalidArgument, "base64 has non-zero trailing bits");
  return out;
}

}  // namespace

std::string base64_encode(std::string_view data) {
  return encode(data, kStandard, true);
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return error(Code::kInvalidArgument, "base64 length must be a multiple of 4");
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string_view body = text.substr(0, text.size() - pad);
  // Padding must complete the last group exactly: "xx==" or "xxx=".
  if (pad > 0 && body.size() % 4 != 4 - pad)
    return error(Code::kInvalidArgument, "invalid base64 padding");
  return decode(body, kStandardReverse);
}

std::string base64url_encode(std::string_view data) {
  return encode(data, kUrl, false);
}

Result<std::string> base64url_decode(std::string_view text) {
  return decode(text, kUrlReverse);
}

}  // namespace berth
