#include "auth/registry_token.h"

#include <gtest/gtest.h>

#include <numeric>

namespace berth::auth {
namespace {

constexpr int64_t kNow = 1'700'000'000;

TokenKey make_key(uint8_t first) {
  TokenKey key;
  std::iota(key.begin(), key.end(), first);
  return key;
}

TokenClaims sample_claims() {
  return {"123456789012", "BKIAABCDEFGHIJKLMNOP", "ci", kNow, kNow + kRegistryTokenLifetimeSeconds};
}

class RegistryTokenTest : public ::testing::Test {
 protected:
  Result<TokenClaims> verify(std::string_view token) const {
    return verify_registry_token(token, key_, clock_);
  }

  TokenKey key_ = make_key(0);
  FakeClock clock_{kNow * 1000};
};

TEST_F(RegistryTokenTest, RoundTrip) {
  std::string token = issue_registry_token(sample_claims(), key_);
  auto claims = verify(token);
  ASSERT_TRUE(claims.is_ok()) << claims.status().to_string();
  EXPECT_EQ(*claims, sample_claims());
}

TEST_F(RegistryTokenTest, TokenShapeSuitsDockerLogin) {
  std::string token = issue_registry_token(sample_claims(), key_);
  EXPECT_TRUE(token.starts_with("b1."));
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
      std::string::npos)
      << token;
}

TEST_F(RegistryTokenTest, ArbitraryClaimStringsRoundTrip) {
  TokenClaims claims = sample_claims();
  claims.user_name = "team/\"quoted\":user \xe1\x88\xb4 \\ end";
  claims.access_key_id = "";
  auto verified = verify(issue_registry_token(claims, key_));
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(*verified, claims);
}

TEST_F(RegistryTokenTest, InvalidUtf8ClaimsRoundTrip) {
  TokenClaims claims = sample_claims();
  claims.user_name = std::string("\xff\xfe\x00\x01", 4);
  auto verified = verify(issue_registry_token(claims, key_));
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(verified->user_name, claims.user_name);
}

TEST_F(RegistryTokenTest, ExpiresAtTheExactBoundary) {
  TokenClaims claims = sample_claims();
  claims.expires_at = kNow + 3600;
  std::string token = issue_registry_token(claims, key_);
  clock_.set_seconds(kNow + 3599);
  EXPECT_TRUE(verify(token).is_ok());
  clock_.set_seconds(kNow + 3600);
  EXPECT_EQ(verify(token).status().code(), Code::kTokenExpired);
  clock_.set_seconds(kNow + 3601);
  EXPECT_EQ(verify(token).status().code(), Code::kTokenExpired);
}

TEST_F(RegistryTokenTest, EmptyLifetimeIsInvalid) {
  TokenClaims claims = sample_claims();
  claims.expires_at = claims.issued_at;
  clock_.set_seconds(kNow - 10);
  EXPECT_EQ(verify(issue_registry_token(claims, key_)).status().code(), Code::kTokenInvalid);
}

TEST_F(RegistryTokenTest, IssuedInTheFutureIsInvalid) {
  std::string token = issue_registry_token(sample_claims(), key_);
  clock_.set_seconds(kNow - 300);
  EXPECT_TRUE(verify(token).is_ok());
  clock_.set_seconds(kNow - 301);
  EXPECT_EQ(verify(token).status().code(), Code::kTokenInvalid);
}

TEST_F(RegistryTokenTest, WrongKeyIsInvalid) {
  std::string token = issue_registry_token(sample_claims(), make_key(100));
  auto result = verify(token);
  EXPECT_EQ(result.status().code(), Code::kTokenInvalid);
}

TEST_F(RegistryTokenTest, SplicedPayloadIsInvalid) {
  TokenClaims admin = sample_claims();
  admin.user_name = "admin";
  std::string mine = issue_registry_token(sample_claims(), key_);
  std::string theirs = issue_registry_token(admin, key_);
  ASSERT_NE(mine, theirs);
  // Their payload under my MAC, and my payload under their MAC.
  std::string spliced1 = theirs.substr(0, theirs.rfind('.')) + mine.substr(mine.rfind('.'));
  std::string spliced2 = mine.substr(0, mine.rfind('.')) + theirs.substr(theirs.rfind('.'));
  EXPECT_EQ(verify(spliced1).status().code(), Code::kTokenInvalid);
  EXPECT_EQ(verify(spliced2).status().code(), Code::kTokenInvalid);
}

// Every single-character change anywhere (prefix, payload, separator, MAC,
// including the MAC's last character whose low bits base64 does not use) must
// be refused.
TEST_F(RegistryTokenTest, EverySingleCharacterTamperIsInvalid) {
  const std::string token = issue_registry_token(sample_claims(), key_);
  ASSERT_TRUE(verify(token).is_ok());
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ :";
  for (size_t i = 0; i < token.size(); ++i) {
    for (char replacement : alphabet) {
      if (token[i] == replacement) continue;
      std::string tampered = token;
      tampered[i] = replacement;
      EXPECT_EQ(verify(tampered).status().code(), Code::kTokenInvalid)
          << "position " << i << " -> " << replacement;
    }
  }
}

TEST_F(RegistryTokenTest, TruncatedOrExtendedIsInvalid) {
  const std::string token = issue_registry_token(sample_claims(), key_);
  EXPECT_EQ(verify(token.substr(0, token.size() - 1)).status().code(), Code::kTokenInvalid);
  EXPECT_EQ(verify(token + "A").status().code(), Code::kTokenInvalid);
  EXPECT_EQ(verify(token + "=").status().code(), Code::kTokenInvalid);
  EXPECT_EQ(verify(token + ".x").status().code(), Code::kTokenInvalid);
  EXPECT_EQ(verify(" " + token).status().code(), Code::kTokenInvalid);
}

TEST_F(RegistryTokenTest, GarbageIsInvalid) {
  for (std::string garbage :
       {std::string(), std::string("b1."), std::string("b1.."), std::string("b2.e30.AAAA"),
        std::string("AWS:password"), std::string("b1.e30"), std::string("b1.e30.e30.e30"),
        std::string("b1.!!!!.????"), std::string(10000, 'A'), std::string("b1.\0\0.\0", 8)}) {
    EXPECT_EQ(verify(garbage).status().code(), Code::kTokenInvalid) << garbage;
  }
}

// --- ECR authorizationToken and Basic headers -----------------------------------

TEST(EcrAuthorizationToken, IsBase64OfAwsColonPassword) {
  // base64("AWS:abc"), computed independently with `printf AWS:abc | base64`.
  EXPECT_EQ(ecr_authorization_token("abc"), "QVdTOmFiYw==");
  EXPECT_EQ(ecr_authorization_token(""), "QVdTOg==");
}

TEST(EcrAuthorizationToken, RoundTripsThroughBasicParser) {
  TokenKey key = make_key(7);
  std::string token = issue_registry_token(sample_claims(), key);
  auto creds = parse_basic_authorization("Basic " + ecr_authorization_token(token));
  ASSERT_TRUE(creds.is_ok()) << creds.status().to_string();
  EXPECT_EQ(creds->user, "AWS");
  EXPECT_EQ(creds->password, token);
  FakeClock clock(kNow * 1000);
  EXPECT_TRUE(verify_registry_token(creds->password, key, clock).is_ok());
}

TEST(BasicAuthorization, AcceptsWellFormedVariants) {
  struct Case {
    std::string header, user, password;
  };
  const Case cases[] = {
      {"Basic QVdTOnBhc3M=", "AWS", "pass"},
      {"basic QVdTOnBhc3M=", "AWS", "pass"},
      {"BASIC   QVdTOnBhc3M=  ", "AWS", "pass"},
      {"\tBasic\tQVdTOnBhc3M=", "AWS", "pass"},
      {"Basic QVdTOmE6Yjpj", "AWS", "a:b:c"},                  // "AWS:a:b:c"
      {"Basic QVdTOg==", "AWS", ""},                           // "AWS:"
      {"Basic OnNlY3JldA==", "", "secret"},                    // ":secret"
      {"Basic 4Yi0OuGItA==", "\xe1\x88\xb4", "\xe1\x88\xb4"},  // UTF-8 "ሴ:ሴ"
  };
  for (const Case& c : cases) {
    auto creds = parse_basic_authorization(c.header);
    ASSERT_TRUE(creds.is_ok()) << c.header << ": " << creds.status().to_string();
    EXPECT_EQ(creds->user, c.user) << c.header;
    EXPECT_EQ(creds->password, c.password) << c.header;
  }
}

TEST(BasicAuthorization, RejectsMalformedHeaders) {
  const std::string rejected[] = {
      "",
      "Basic",
      "Basic ",
      "Bearer QVdTOnBhc3M=",
      "BasicQVdTOnBhc3M=",
      "Basic QVdTOnBhc3M",    // padding missing
      "Basic QVdTOnBhc3M==",  // too much padding
      "Basic QVdTOnBhc3N=",   // non-zero trailing bits
      "Basic QVdT OnBhc3M=",  // whitespace inside the token
      "Basic QVdTOnBh=c3M=",  // padding in the middle
      "Basic QVdT",           // "AWS": no colon
      "Basic !!!!",
      "Basic QVdTOnBhc3M=,x",
      "Basic QVdTOgFwYXNz",  // "AWS:\x01pass": control character
      "Basic QVdTOgBwYXNz",  // "AWS:\0pass"
      "Basic " + std::string(9000, 'A'),
  };
  for (const std::string& header : rejected) {
    EXPECT_EQ(parse_basic_authorization(header).status().code(), Code::kUnauthenticated) << header;
  }
}

}  // namespace
}  // namespace berth::auth
