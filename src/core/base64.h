// Standard (RFC 4648 §4, padded) base64 over OpenSSL's EVP block coder.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace berth {

std::string base64_encode(std::string_view data);
// kInvalidArgument for characters outside the alphabet, bad padding or a
// length that is not a multiple of four.
Result<std::string> base64_decode(std::string_view text);

}  // namespace berth
