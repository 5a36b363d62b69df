// Known-answer test for registry tokens: the exact token for fixed claims and
// a fixed key, computed independently of berth with Python's standard library:
//
//   import base64, hashlib, hmac
//   key = bytes(range(32))
//   claims = '{"acct":"123456789012","akid":"BKIAIOSFODNN7EXAMPLE","user":"alice",'
//            '"iat":1700000000,"exp":1700043200}'
//   b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
//   signed = "b1." + b64u(claims.encode())
//   token = signed + "." + b64u(hmac.new(key, signed.encode(), hashlib.sha256).digest())
#include <gtest/gtest.h>

#include <numeric>
#include <string>

#include "auth/registry_token.h"
#include "core/base64.h"

namespace berth::auth {
namespace {

constexpr std::string_view kClaimsJson =
    R"({"acct":"123456789012","akid":"BKIAIOSFODNN7EXAMPLE","user":"alice","iat":1700000000,"exp":1700043200})";
constexpr std::string_view kToken =
    "b1."
    "eyJhY2N0IjoiMTIzNDU2Nzg5MDEyIiwiYWtpZCI6IkJLSUFJT1NGT0ROTjdFWEFNUExFIiwidXNlciI6ImFsaWNlIiwiaW"
    "F0Ij"
    "oxNzAwMDAwMDAwLCJleHAiOjE3MDAwNDMyMDB9.bkMarvSy2f67lyrIJMlBxURkbrpKZexWqPyfa-LKyPU";
constexpr std::string_view kMacHex =
    "6e431aaef4b2d9febb972ac824c941c544646eba4a65ec56a8fc9f6be2cac8f5";

TokenKey key_0_to_31() {
  TokenKey key;
  std::iota(key.begin(), key.end(), uint8_t{0});
  return key;
}

TokenClaims known_claims() {
  return {"123456789012", "BKIAIOSFODNN7EXAMPLE", "alice", 1'700'000'000,
          1'700'000'000 + 12 * 3600};
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The token's three parts: "b1", the payload and the MAC.
struct Parts {
  std::string prefix, payload, mac;
};

Parts split(std::string_view token) {
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  return {std::string(token.substr(0, first)),
          std::string(token.substr(first + 1, second - first - 1)),
          std::string(token.substr(second + 1))};
}

TEST(RegistryTokenKnownAnswer, IssuedTokenIsExactlyTheIndependentValue) {
  EXPECT_EQ(issue_registry_token(known_claims(), key_0_to_31()), kToken);
}

TEST(RegistryTokenKnownAnswer, PartsDecodeToTheClaimsAndTheMac) {
  Parts p = split(kToken);
  EXPECT_EQ(p.prefix, "b1");
  auto payload = base64url_decode(p.payload);
  ASSERT_TRUE(payload.is_ok());
  EXPECT_EQ(*payload, kClaimsJson);
  auto mac = base64url_decode(p.mac);
  ASSERT_TRUE(mac.is_ok());
  EXPECT_EQ(hex(*mac), kMacHex);
}

TEST(RegistryTokenKnownAnswer, KnownTokenVerifiesOnlyWithinItsLifetime) {
  FakeClock clock(1'700'000'000'000);
  auto claims = verify_registry_token(kToken, key_0_to_31(), clock);
  ASSERT_TRUE(claims.is_ok()) << claims.status().to_string();
  EXPECT_EQ(*claims, known_claims());

  clock.set_seconds(1'700'043'199);
  EXPECT_TRUE(verify_registry_token(kToken, key_0_to_31(), clock).is_ok());
  clock.set_seconds(1'700'043'200);
  EXPECT_EQ(verify_registry_token(kToken, key_0_to_31(), clock).status().code(),
            Code::kTokenExpired);
  clock.set_seconds(1'700'000'000 - 300);  // within the allowed skew
  EXPECT_TRUE(verify_registry_token(kToken, key_0_to_31(), clock).is_ok());
  clock.set_seconds(1'700'000'000 - 301);
  EXPECT_EQ(verify_registry_token(kToken, key_0_to_31(), clock).status().code(),
            Code::kTokenInvalid);
}

TEST(RegistryTokenKnownAnswer, KnownTokenFailsUnderAnyOtherKey) {
  FakeClock clock(1'700'000'000'000);
  for (size_t byte : {size_t{0}, size_t{17}, size_t{31}}) {
    TokenKey key = key_0_to_31();
    key[byte] ^= 0x01;
    EXPECT_EQ(verify_registry_token(kToken, key, clock).status().code(), Code::kTokenInvalid)
        << byte;
  }
}

// One flipped bit in the decoded bytes of any part (the re-encoded token stays
// well-formed) is refused.
TEST(RegistryTokenKnownAnswer, OneBitChangeInEachPartIsRefused) {
  FakeClock clock(1'700'000'000'000);
  const Parts p = split(kToken);
  const std::string payload = base64url_decode(p.payload).value();
  const std::string mac = base64url_decode(p.mac).value();
  auto check = [&](const std::string& token, const std::string& what) {
    EXPECT_EQ(verify_registry_token(token, key_0_to_31(), clock).status().code(),
              Code::kTokenInvalid)
        << what << ": " << token;
  };
  for (size_t i = 0; i < p.prefix.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string prefix = p.prefix;
      prefix[i] = static_cast<char>(prefix[i] ^ (1 << bit));
      check(prefix + "." + p.payload + "." + p.mac, "prefix byte " + std::to_string(i));
    }
  }
  for (size_t i = 0; i < payload.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = payload;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      check(p.prefix + "." + base64url_encode(changed) + "." + p.mac,
            "payload byte " + std::to_string(i));
    }
  }
  for (size_t i = 0; i < mac.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = mac;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      check(p.prefix + "." + p.payload + "." + base64url_encode(changed),
            "mac byte " + std::to_string(i));
    }
  }
}

}  // namespace
}  // namespace berth::auth
