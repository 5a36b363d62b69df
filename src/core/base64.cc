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
  for (size_t i = 0; i < alphabet.size(); ++i) table[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
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
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    uint8_t v = table[static_cast<uint8_t>(c)];
    if (v == kBad) return error(Code::kInvalidArgument, "invalid base64 character");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The last character may carry 2 or 4 bits beyond the final byte; a
  // canonical encoding leaves them zero.
  if ((acc & ((1u << bits) - 1)) != 0) return error(Code::kInvalidArgument, "base64 has non-zero trailing bits");
  return out;
}

}  // namespace

std::string base64_encode(std::string_view data) { return encode(data, kStandard, true); }

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return error(Code::kInvalidArgument, "base64 length must be a multiple of 4");
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string_view body = text.substr(0, text.size() - pad);
  // Padding must complete the last group exactly: "xx==" or "xxx=".
  if (pad > 0 && body.size() % 4 != 4 - pad) return error(Code::kInvalidArgument, "invalid base64 padding");
  return decode(body, kStandardReverse);
}

std::string base64url_encode(std::string_view data) { return encode(data, kUrl, false); }

Result<std::string> base64url_decode(std::string_view text) { return decode(text, kUrlReverse); }

}  // namespace berth
