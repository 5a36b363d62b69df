// Registry tokens and Basic credentials (src/auth/registry_token.*): the
// Authorization header of every /v2 request.
//
// Each input is tried as a whole token, as a claims payload carried by a
// correctly MAC'd token (so the claims parser is reached, which a forger
// never could), as a Basic Authorization header value, and as three claim
// strings (lines) to mint a token from.
// Properties: a token is accepted only with claims that survive being issued
// again; a Basic header parses back to what re-encoding it gives; an issued
// token has no ':' and verifies to exactly the claims it was minted with.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/registry_token.h"
#include "core/base64.h"
#include "core/clock.h"
#include "core/digest.h"
#include "fuzz_check.h"

namespace {

using namespace berth::auth;

constexpr int64_t kNow = 1'700'000'000;

TokenKey key() {
  TokenKey k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 7 + 1);
  return k;
}

// What issue_registry_token would produce for a payload of our choosing.
std::string token_with_payload(std::string_view payload, const TokenKey& k) {
  std::string signed_part = "b1." + berth::base64url_encode(payload);
  auto tag = berth::hmac_sha256(k.data(), k.size(), signed_part);
  return signed_part + "." +
         berth::base64url_encode(
             std::string_view(reinterpret_cast<const char*>(tag.data()), tag.size()));
}

void check_reissue(const TokenClaims& claims, const TokenKey& k, const berth::Clock& clock) {
  std::string token = issue_registry_token(claims, k);
  FUZZ_CHECK(token.find(':') == std::string::npos);
  auto again = verify_registry_token(token, k, clock);
  if (token.size() > 4096) {
    FUZZ_CHECK(!again.is_ok());
    return;
  }
  FUZZ_CHECK(again.is_ok());
  FUZZ_CHECK(*again == claims);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const TokenKey k = key();
  const berth::FakeClock clock(kNow * 1000);

  if (auto claims = verify_registry_token(input, k, clock)) check_reissue(*claims, k, clock);

  if (auto claims = verify_registry_token(token_with_payload(input, k), k, clock)) {
    FUZZ_CHECK(claims->expires_at > claims->issued_at && kNow < claims->expires_at);
    check_reissue(*claims, k, clock);
  }

  if (auto basic = parse_basic_authorization(input)) {
    auto again = parse_basic_authorization(
        "Basic " + berth::base64_encode(basic->user + ":" + basic->password));
    FUZZ_CHECK(again.is_ok() && again->user == basic->user && again->password == basic->password);
  }

  // Mint a token from three lines of claim strings.
  TokenClaims claims;
  std::string_view rest = input;
  for (std::string* field : {&claims.account_id, &claims.access_key_id, &claims.user_name}) {
    auto nl = rest.find('\n');
    *field = std::string(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  claims.issued_at = kNow;
  claims.expires_at = kNow + kRegistryTokenLifetimeSeconds;
  check_reissue(claims, k, clock);

  // The ECR authorizationToken is the Basic credential docker sends back.
  auto basic = parse_basic_authorization("Basic " + ecr_authorization_token(claims.user_name));
  const bool control = std::any_of(claims.user_name.begin(), claims.user_name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (!control && claims.user_name.size() < 4096) {
    FUZZ_CHECK(basic.is_ok() && basic->user == "AWS" && basic->password == claims.user_name);
  }
  return 0;
}
