// Base64 decoding (src/core/base64.*): the strict decoders read registry
// tokens, Basic credentials, ECR layer parts and pagination tokens.
//
// Properties: decoding never crashes; a text either decoder accepts is the
// one text the matching encoder produces for the decoded bytes (the
// uniqueness tokens rely on); encode then decode is the identity.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/base64.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto decoded = berth::base64_decode(input)) {
    FUZZ_CHECK(berth::base64_encode(*decoded) == input);
  }
  if (auto decoded = berth::base64url_decode(input)) {
    FUZZ_CHECK(berth::base64url_encode(*decoded) == input);
  }

  auto std_round = berth::base64_decode(berth::base64_encode(input));
  FUZZ_CHECK(std_round.is_ok() && *std_round == input);
  auto url_round = berth::base64url_decode(berth::base64url_encode(input));
  FUZZ_CHECK(url_round.is_ok() && *url_round == input);
  return 0;
}
