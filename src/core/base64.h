// Base64 (RFC 4648): the padded standard alphabet (§4) and the unpadded URL
// alphabet (§5). Decoding is strict: it accepts only the one text the encoder
// produces for some byte string (no whitespace, exact padding, zero trailing
// bits), so every decoded value has exactly one encoding. Tokens and sealed
// secrets rely on that.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace berth {

std::string base64_encode(std::string_view data);
// kInvalidArgument for characters outside the alphabet, bad padding, a length
// that is not a multiple of four or non-zero trailing bits.
Result<std::string> base64_decode(std::string_view text);

// Unpadded URL-safe alphabet ('-' and '_').
std::string base64url_encode(std::string_view data);
// kInvalidArgument for '=', '+', '/', other characters outside the alphabet,
// an impossible length (4k+1) or non-zero trailing bits.
Result<std::string> base64url_decode(std::string_view text);

}  // namespace berth
