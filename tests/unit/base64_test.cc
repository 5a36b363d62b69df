#include "core/base64.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <string>

#include "core/digest.h"

namespace berth {
namespace {

// RFC 4648 §10 test vectors.
TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesRfc4648Vectors) {
  for (std::string plain : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto decoded = base64_decode(base64_encode(plain));
    ASSERT_TRUE(decoded.is_ok()) << plain;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64, UrlAlphabetIsUnpaddedAndUsesDashUnderscore) {
  const std::string bytes("\xfb\xff\xbf", 3);  // all of 62 and 63 in the output
  EXPECT_EQ(base64_encode(bytes), "+/+/");
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  auto back = base64url_decode("-_-_");
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, bytes);
}

TEST(Base64, RefusesEverythingButTheCanonicalText) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zh==", "Zm9=", "Zm8 ", " Zm8=", "Zm8=\n",
                          "Zg==Zg==", "Z=g=", "-_-_", "Zm9v\r\n", "Zm9vYg=\x00"}) {
    EXPECT_FALSE(base64_decode(bad).is_ok()) << bad;
  }
  for (const char* bad : {"Zg==", "Zh", "Zm9", "+/+/", "Z", "Zm9vY", "Zm 9"}) {
    EXPECT_FALSE(base64url_decode(bad).is_ok()) << bad;
  }
}

// The decoder agrees with OpenSSL's on random input of every length, and
// round-trips through both alphabets.
TEST(Base64, AgreesWithOpenSslOnRandomBytes) {
  for (size_t size = 0; size < 200; ++size) {
    std::string plain(size, '\0');
    ASSERT_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(plain.data()), static_cast<int>(size)),
              1);
    std::string theirs(4 * ((size + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(theirs.data()),
                            reinterpret_cast<const unsigned char*>(plain.data()),
                            static_cast<int>(size));
    theirs.resize(static_cast<size_t>(n));
    EXPECT_EQ(base64_encode(plain), theirs);
    auto decoded = base64_decode(theirs);
    ASSERT_TRUE(decoded.is_ok()) << size;
    EXPECT_EQ(*decoded, plain);
    auto url = base64url_decode(base64url_encode(plain));
    ASSERT_TRUE(url.is_ok()) << size;
    EXPECT_EQ(*url, plain);
  }
}

// RFC 4231 test case 2.
TEST(HmacSha256, MatchesRfc4231) {
  const std::string key = "Jefe";
  auto mac = hmac_sha256(key.data(), key.size(), "what do ya want for nothing?");
  EXPECT_EQ(to_hex(mac.data(), mac.size()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// The per-thread context must not carry one call's key into the next.
TEST(HmacSha256, KeysDoNotLeakBetweenCalls) {
  const std::string a(32, 'a');
  const std::string b(20, '\x0b');
  auto first = hmac_sha256(a.data(), a.size(), "Hi There");
  auto rfc = hmac_sha256(b.data(), b.size(), "Hi There");  // RFC 4231 test case 1
  EXPECT_EQ(to_hex(rfc.data(), rfc.size()),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac_sha256(a.data(), a.size(), "Hi There"), first);
  EXPECT_NE(first, rfc);
  // A zero-length key is a key of zeros, not "the previous key".
  const std::string zero(1, '\0');
  EXPECT_EQ(hmac_sha256("", 0, "data"), hmac_sha256(zero.data(), zero.size(), "data"));
}

}  // namespace
}  // namespace berth
