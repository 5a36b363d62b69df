// Known-answer tests for sealed secrets: the exact bytes of a box, not only
// that what is sealed opens again.
//
// The vectors start from the AES-256 cases of the GCM specification (McGrew &
// Viega, "The Galois/Counter Mode of Operation", test cases 13-16). GCM's
// ciphertext does not depend on the associated data, so a berth box of test
// case 15's key, nonce and plaintext must carry test case 15's ciphertext
// byte for byte; only the tag differs, because berth authenticates its version
// byte (and the caller's associated data) as GCM AAD. Those tags and the whole
// boxes were computed independently, with Python's `cryptography` package:
//
//   from cryptography.hazmat.primitives.ciphers.aead import AESGCM
//   ct = AESGCM(K).encrypt(IV, P, b"\x01" + associated_data)   # ciphertext || tag
//   box = base64.b64encode(b"\x01" + IV + ct)
//
// after checking that the same package reproduces test cases 13-16 exactly.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "auth/secret_box.h"
#include "core/base64.h"

namespace berth::auth {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

template <size_t N>
std::array<uint8_t, N> unhex_array(std::string_view hex) {
  std::string bytes = unhex(hex);
  EXPECT_EQ(bytes.size(), N);
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N && i < bytes.size(); ++i) out[i] = static_cast<uint8_t>(bytes[i]);
  return out;
}

// GCM specification, test cases 15 and 16 (AES-256).
constexpr std::string_view kKey =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr std::string_view kIv = "cafebabefacedbaddecaf888";
constexpr std::string_view kPlaintext =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr std::string_view kCiphertext15 =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";

struct BoxVector {
  const char* name;
  std::string_view key_hex;
  std::string_view nonce_hex;
  std::string_view plaintext_hex;
  std::string associated_data;
  std::string_view ciphertext_hex;  // from the GCM specification
  std::string_view tag_hex;         // computed with AAD = 0x01 || associated_data
  std::string_view box;             // base64(0x01 || nonce || ciphertext || tag)
};

const std::vector<BoxVector>& vectors() {
  static const std::vector<BoxVector> v = {
      {"case15_no_associated_data", kKey, kIv, kPlaintext, "", kCiphertext15,
       "9acaccbafb7c1073386fa404503c8c40",
       "Acr+ur76ztut3sr4iFItwfCZVn0H9H83oyqEQn1kOozcv+"
       "XAyXWYor0lVdGqjLCOSFkNuz2nsIsQVoKIOMX2HmOTunoKvMn2YomAF"
       "a2aysy6+3wQczhvpARQPIxA"},
      {"case15_access_key_id", kKey, kIv, kPlaintext, "BKIAEXAMPLEKEYID0001", kCiphertext15,
       "2594ba887d7e4f8571be35bb8fb69680",
       "Acr+ur76ztut3sr4iFItwfCZVn0H9H83oyqEQn1kOozcv+"
       "XAyXWYor0lVdGqjLCOSFkNuz2nsIsQVoKIOMX2HmOTunoKvMn2YomAF"
       "a0llLqIfX5PhXG+NbuPtpaA"},
      // Test case 16's 60-byte plaintext, with its 20-byte AAD as berth's associated data.
      {"case16_associated_data", kKey, kIv, kPlaintext.substr(0, 120),
       unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"), kCiphertext15.substr(0, 120),
       "d1fb94002f66044b43a8f604bd768985",
       "Acr+ur76ztut3sr4iFItwfCZVn0H9H83oyqEQn1kOozcv+"
       "XAyXWYor0lVdGqjLCOSFkNuz2nsIsQVoKIOMX2HmOTunoKvMn2YtH7l"
       "AAvZgRLQ6j2BL12iYU="},
      // Test case 13's all-zero key and nonce with an empty plaintext: only a tag.
      {"case13_empty", "0000000000000000000000000000000000000000000000000000000000000000",
       "000000000000000000000000", "", "", "", "9a98a3fba5f80082f86ab6d9915ecfd2",
       "AQAAAAAAAAAAAAAAAJqYo/ul+ACC+Gq22ZFez9I="},
  };
  return v;
}

TEST(SecretBoxKnownAnswer, SealingWithAFixedNonceGivesTheExactBox) {
  for (const BoxVector& v : vectors()) {
    SCOPED_TRACE(v.name);
    auto sealed = detail::seal_secret_with_nonce(unhex(v.plaintext_hex), unhex_array<32>(v.key_hex),
                                                 unhex_array<12>(v.nonce_hex), v.associated_data);
    ASSERT_TRUE(sealed.is_ok()) << sealed.status().to_string();
    EXPECT_EQ(*sealed, v.box);
  }
}

TEST(SecretBoxKnownAnswer, BoxIsVersionNonceSpecCiphertextAndTag) {
  for (const BoxVector& v : vectors()) {
    SCOPED_TRACE(v.name);
    auto raw = base64_decode(v.box);
    ASSERT_TRUE(raw.is_ok());
    const std::string expected =
        std::string("\x01", 1) + unhex(v.nonce_hex) + unhex(v.ciphertext_hex) + unhex(v.tag_hex);
    EXPECT_EQ(*raw, expected);
  }
}

TEST(SecretBoxKnownAnswer, OpeningTheKnownBoxGivesThePlaintext) {
  for (const BoxVector& v : vectors()) {
    SCOPED_TRACE(v.name);
    auto opened = open_secret(v.box, unhex_array<32>(v.key_hex), v.associated_data);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    EXPECT_EQ(*opened, unhex(v.plaintext_hex));
  }
}

TEST(SecretBoxKnownAnswer, KnownBoxRefusesOtherAssociatedDataOrKey) {
  const BoxVector& v = vectors()[1];
  EXPECT_EQ(open_secret(v.box, unhex_array<32>(v.key_hex), "").status().code(), Code::kInternal);
  EXPECT_EQ(open_secret(v.box, unhex_array<32>(v.key_hex), "BKIAEXAMPLEKEYID0002").status().code(),
            Code::kInternal);
  std::array<uint8_t, 32> other = unhex_array<32>(v.key_hex);
  other[31] ^= 1;
  EXPECT_EQ(open_secret(v.box, other, v.associated_data).status().code(), Code::kInternal);
  // The box of case 15 without associated data does not open as if it had some.
  EXPECT_FALSE(
      open_secret(vectors()[0].box, unhex_array<32>(v.key_hex), v.associated_data).is_ok());
}

TEST(SecretBoxKnownAnswer, RandomNonceBoxesStillOpenWithTheKnownKey) {
  // seal_secret and the fixed-nonce form share one format: a randomly sealed
  // box of case 15's plaintext opens and has case 15's length.
  const BoxVector& v = vectors()[0];
  auto sealed = seal_secret(unhex(v.plaintext_hex), unhex_array<32>(v.key_hex));
  ASSERT_TRUE(sealed.is_ok());
  EXPECT_EQ(sealed->size(), v.box.size());
  EXPECT_EQ(open_secret(*sealed, unhex_array<32>(v.key_hex)).value(), unhex(v.plaintext_hex));
}

}  // namespace
}  // namespace berth::auth
