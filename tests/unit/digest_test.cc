#include "core/digest.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace berth {
namespace {

// Expected values were computed outside berth with coreutils, e.g.
//   printf abc | sha256sum
//   printf abc | sha512sum
//   printf '' | sha256sum
// and agree with the FIPS 180-2 examples ("abc", the 448-bit message and the
// million 'a's).
constexpr const char* kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha256Empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// printf 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq' | sha256sum
constexpr const char* kSha256Fips448 =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
// head -c 1000000 /dev/zero | tr '\0' a | sha256sum
constexpr const char* kSha256MillionA =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
// printf 'The quick brown fox jumps over the lazy dog' | sha256sum
constexpr const char* kSha256Fox =
    "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592";
constexpr const char* kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr const char* kSha512Empty =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

std::string sha256(const std::string& hex) {
  return "sha256:" + hex;
}
std::string sha512(const std::string& hex) {
  return "sha512:" + hex;
}

void expect_invalid(const std::string& text) {
  Result<Digest> d = Digest::parse(text);
  ASSERT_FALSE(d.is_ok()) << "accepted '" << text << "'";
  EXPECT_EQ(d.status().code(), Code::kDigestInvalid) << text;
}

// --- parse -------------------------------------------------------------------

TEST(DigestParseTest, AcceptsSha256AndKeepsItsParts) {
  Result<Digest> d = Digest::parse(sha256(kSha256Abc));
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(d->algorithm_name(), "sha256");
  EXPECT_EQ(d->hex(), kSha256Abc);
  EXPECT_EQ(d->str(), sha256(kSha256Abc));
  EXPECT_FALSE(d->empty());
}

TEST(DigestParseTest, AcceptsSha512AndKeepsItsParts) {
  Result<Digest> d = Digest::parse(sha512(kSha512Abc));
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(d->algorithm_name(), "sha512");
  EXPECT_EQ(d->hex(), kSha512Abc);
  EXPECT_EQ(d->str(), sha512(kSha512Abc));
}

TEST(DigestParseTest, DefaultConstructedIsEmpty) {
  Digest d;
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.str(), "");
}

TEST(DigestParseTest, RejectsWrongLengths) {
  const std::string h256 = kSha256Abc;
  const std::string h512 = kSha512Abc;
  expect_invalid(sha256(h256.substr(1)));  // 63
  expect_invalid(sha256(h256 + "0"));      // 65
  expect_invalid(sha256(""));              // 0
  expect_invalid(sha512(h512.substr(1)));  // 127
  expect_invalid(sha512(h512 + "a"));      // 129
  expect_invalid(sha256(h512));            // sha512 length under sha256
  expect_invalid(sha512(h256));            // sha256 length under sha512
}

TEST(DigestParseTest, RejectsUpperCaseAndNonHex) {
  std::string upper = kSha256Abc;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  expect_invalid(sha256(upper));
  std::string one_upper = kSha256Abc;
  one_upper[0] = 'B';  // 'b' -> 'B'
  expect_invalid(sha256(one_upper));
  std::string non_hex = kSha256Abc;
  non_hex[10] = 'g';
  expect_invalid(sha256(non_hex));
  std::string with_space = kSha256Abc;
  with_space[63] = ' ';
  expect_invalid(sha256(with_space));
  std::string upper512 = kSha512Abc;
  upper512[127] = 'F';
  expect_invalid(sha512(upper512));
}

TEST(DigestParseTest, RejectsUnknownOrMisspelledAlgorithms) {
  expect_invalid(std::string("md5:") + "900150983cd24fb0d6963f7d28e17f72");
  expect_invalid(std::string("sha1:") + "a9993e364706816aba3e25717850c26c9cd0d89d");
  expect_invalid(std::string("sha384:") + kSha512Abc);
  expect_invalid(std::string("SHA256:") + kSha256Abc);
  expect_invalid(std::string("sha-256:") + kSha256Abc);
  // The OCI grammar allows algorithm components joined by '+'; berth cannot
  // verify such a digest, so it refuses it.
  expect_invalid(std::string("sha256+b64u:") + kSha256Abc);
  expect_invalid(std::string(" sha256:") + kSha256Abc);
}

TEST(DigestParseTest, RejectsMissingColonAndEmpty) {
  expect_invalid("");
  expect_invalid(":");
  expect_invalid(kSha256Abc);                          // no algorithm at all
  expect_invalid(std::string("sha256") + kSha256Abc);  // colon missing
  expect_invalid(std::string(":") + kSha256Abc);       // empty algorithm
  expect_invalid("sha256:");
  expect_invalid(std::string("sha256::") + kSha256Abc);
  expect_invalid(sha256(kSha256Abc) + "\n");
  expect_invalid(sha256(kSha256Abc) + ":");
}

TEST(DigestParseTest, EqualityAndOrderFollowTheText) {
  Digest a = Digest::parse(sha256(kSha256Abc)).value();
  Digest a2 = Digest::parse(sha256(kSha256Abc)).value();
  Digest b = Digest::parse(sha256(kSha256Empty)).value();
  EXPECT_TRUE(a == a2);
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a < b);  // "ba78..." < "e3b0..."
  EXPECT_FALSE(b < a);
  EXPECT_FALSE(a < a2);
}

// --- one-shot hashing ------------------------------------------------------------

TEST(DigestOfTest, Sha256KnownVectors) {
  EXPECT_EQ(Digest::of("abc").str(), sha256(kSha256Abc));
  EXPECT_EQ(Digest::of("").str(), sha256(kSha256Empty));
  EXPECT_EQ(Digest::of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").str(),
            sha256(kSha256Fips448));
  EXPECT_EQ(Digest::of("The quick brown fox jumps over the lazy dog").str(), sha256(kSha256Fox));
  EXPECT_EQ(Digest::of(std::string(1'000'000, 'a')).str(), sha256(kSha256MillionA));
  EXPECT_EQ(Digest::of("abc", DigestAlgorithm::kSha256).algorithm(), DigestAlgorithm::kSha256);
}

TEST(DigestOfTest, Sha512KnownVectors) {
  Digest d = Digest::of("abc", DigestAlgorithm::kSha512);
  EXPECT_EQ(d.algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(d.str(), sha512(kSha512Abc));
  EXPECT_EQ(Digest::of("", DigestAlgorithm::kSha512).str(), sha512(kSha512Empty));
}

TEST(DigestOfTest, BinaryInputWithNulBytesIsHashedWhole) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(Digest::of(with_nul), Digest::of("a"));
  Hasher h;
  h.update("a", 1);
  h.update(std::string_view("\0", 1));
  h.update("b", 1);
  EXPECT_EQ(h.peek(), Digest::of(with_nul));
}

// --- incremental hashing -----------------------------------------------------------

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
  return s;
}

TEST(HasherTest, IncrementalEqualsOneShotForEverySplit) {
  const std::string data = pattern(300);  // crosses several 64- and 128-byte blocks
  for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    const Digest want = Digest::of(data, alg);
    for (size_t cut = 0; cut <= data.size(); cut += 7) {
      Hasher h(alg);
      h.update(std::string_view(data).substr(0, cut));
      h.update(std::string_view(data).substr(cut));
      EXPECT_EQ(h.peek(), want) << "cut at " << cut;
      EXPECT_EQ(h.bytes(), data.size());
    }
  }
}

TEST(HasherTest, ByteAtATimeEqualsOneShot) {
  const std::string data = pattern(1000);
  Hasher h(DigestAlgorithm::kSha512);
  for (char c : data) h.update(&c, 1);
  EXPECT_EQ(h.peek(), Digest::of(data, DigestAlgorithm::kSha512));
  EXPECT_EQ(h.algorithm(), DigestAlgorithm::kSha512);
}

TEST(HasherTest, FreshHasherDigestsTheEmptyInput) {
  Hasher h256;
  EXPECT_EQ(h256.peek().str(), sha256(kSha256Empty));
  EXPECT_EQ(h256.bytes(), 0u);
  Hasher h512(DigestAlgorithm::kSha512);
  EXPECT_EQ(h512.peek().str(), sha512(kSha512Empty));
}

TEST(HasherTest, EmptyUpdatesChangeNothing) {
  Hasher h;
  h.update("ab");
  h.update("");
  h.update(nullptr, 0);
  h.update("c");
  EXPECT_EQ(h.peek().str(), sha256(kSha256Abc));
  EXPECT_EQ(h.bytes(), 3u);
}

TEST(HasherTest, PeekDoesNotDisturbFurtherUpdates) {
  for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    Hasher h(alg);
    h.update("a");
    EXPECT_EQ(h.peek(), Digest::of("a", alg));
    EXPECT_EQ(h.peek(), Digest::of("a", alg));  // peeking twice is stable
    h.update("b");
    EXPECT_EQ(h.peek(), Digest::of("ab", alg));
    h.update("c");
    Digest d = h.peek();
    EXPECT_EQ(d, Digest::of("abc", alg));
    EXPECT_EQ(d.str(), alg == DigestAlgorithm::kSha256 ? sha256(kSha256Abc) : sha512(kSha512Abc));
    EXPECT_EQ(h.bytes(), 3u);
  }
}

TEST(HasherTest, MovedHasherKeepsItsState) {
  Hasher a;
  a.update("ab");
  Hasher b(std::move(a));
  b.update("c");
  EXPECT_EQ(b.peek().str(), sha256(kSha256Abc));
  EXPECT_EQ(b.bytes(), 3u);

  Hasher c(DigestAlgorithm::kSha512);
  c = std::move(b);
  EXPECT_EQ(c.algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(c.peek().str(), sha256(kSha256Abc));
}

TEST(HasherTest, PeekedDigestRoundTripsThroughParse) {
  Hasher h(DigestAlgorithm::kSha512);
  h.update(pattern(77));
  Digest d = h.peek();
  Result<Digest> parsed = Digest::parse(d.str());
  ASSERT_TRUE(parsed.is_ok());
  EXPECT_EQ(*parsed, d);
  EXPECT_EQ(parsed->hex().size(), 128u);
}

TEST(ToHexTest, LowerCaseTwoCharsPerByte) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff, 0x5c};
  EXPECT_EQ(to_hex(bytes, sizeof bytes), "000fa0ff5c");
  EXPECT_EQ(to_hex(bytes, 0), "");
}

}  // namespace
}  // namespace berth
