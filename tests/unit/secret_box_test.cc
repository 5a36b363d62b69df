#include "auth/secret_box.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

SecretBoxKey test_key(uint8_t seed) {
  SecretBoxKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return key;
}

// Independent codec for inspecting and re-encoding boxes (OpenSSL's block
// functions; inputs here are always well-formed).
std::string decode(const std::string& b64) {
  std::string out(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  EXPECT_GE(n, 0);
  size_t padding = b64.ends_with("==") ? 2 : b64.ends_with("=") ? 1 : 0;
  out.resize(out.size() - padding);
  return out;
}

std::string encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// --- Sealing -------------------------------------------------------------------------

TEST(SecretBox, RoundTrip) {
  const SecretBoxKey key = test_key(1);
  for (const std::string& plaintext :
       {std::string(), std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        std::string("\0binary\xff\x00", 9), std::string(kMaxSecretBoxPlaintext, 'x')}) {
    auto sealed = seal_secret(plaintext, key);
    ASSERT_TRUE(sealed.is_ok()) << sealed.status().to_string();
    auto opened = open_secret(*sealed, key);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(SecretBox, LayoutIsVersionNonceCiphertextTag) {
  const std::string plaintext = "secret-access-key";
  auto sealed = seal_secret(plaintext, test_key(1));
  ASSERT_TRUE(sealed.is_ok());
  std::string box = decode(*sealed);
  ASSERT_EQ(box.size(), 1 + 12 + plaintext.size() + 16);
  EXPECT_EQ(box[0], '\x01');
  EXPECT_EQ(box.find(plaintext), std::string::npos) << "plaintext must not appear in the box";
  EXPECT_EQ(encode(box), *sealed);
}

TEST(SecretBox, SealingTwiceUsesFreshNonces) {
  const SecretBoxKey key = test_key(1);
  auto a = seal_secret("same", key);
  auto b = seal_secret("same", key);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(decode(*a).substr(1, 12), decode(*b).substr(1, 12));
  EXPECT_EQ(open_secret(*a, key).value(), "same");
  EXPECT_EQ(open_secret(*b, key).value(), "same");
}

TEST(SecretBox, EveryFlippedBitIsDetected) {
  const SecretBoxKey key = test_key(1);
  auto sealed = seal_secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", key);
  ASSERT_TRUE(sealed.is_ok());
  const std::string box = decode(*sealed);
  for (size_t i = 0; i < box.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string tampered = box;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      auto opened = open_secret(encode(tampered), key);
      EXPECT_FALSE(opened.is_ok()) << "byte " << i << " bit " << bit;
      // The version byte is checked before decryption; the rest fail the tag.
      EXPECT_EQ(opened.status().code(), i == 0 ? Code::kInvalidArgument : Code::kInternal)
          << "byte " << i;
    }
  }
}

TEST(SecretBox, TruncatedOrExtendedBoxIsRejected) {
  const SecretBoxKey key = test_key(1);
  const std::string box = decode(seal_secret("secret", key).value());
  EXPECT_EQ(open_secret(encode(box.substr(0, box.size() - 1)), key).status().code(),
            Code::kInternal);
  EXPECT_EQ(open_secret(encode(box + "x"), key).status().code(), Code::kInternal);
  EXPECT_EQ(open_secret(encode(box.substr(0, 28)), key).status().code(), Code::kInvalidArgument);
}

TEST(SecretBox, WrongKeyIsRejected) {
  auto sealed = seal_secret("secret", test_key(1));
  ASSERT_TRUE(sealed.is_ok());
  EXPECT_EQ(open_secret(*sealed, test_key(2)).status().code(), Code::kInternal);
}

TEST(SecretBox, AssociatedDataBindsTheBox) {
  const SecretBoxKey key = test_key(1);
  auto sealed = seal_secret("secret", key, "BKIAAAAAAAAAAAAAAAAA");
  ASSERT_TRUE(sealed.is_ok());
  EXPECT_EQ(open_secret(*sealed, key, "BKIAAAAAAAAAAAAAAAAA").value(), "secret");
  EXPECT_EQ(open_secret(*sealed, key, "BKIABBBBBBBBBBBBBBBB").status().code(), Code::kInternal);
  EXPECT_EQ(open_secret(*sealed, key).status().code(), Code::kInternal);
}

TEST(SecretBox, MalformedInputIsInvalidArgument) {
  const SecretBoxKey key = test_key(1);
  const std::string sealed = seal_secret("secret", key).value();
  for (const std::string& bad : {std::string(), std::string("not base64!"), sealed + "=",
                                 sealed.substr(1), " " + sealed, std::string("AAAA")}) {
    EXPECT_EQ(open_secret(bad, key).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(SecretBox, OversizedPlaintextIsRefused) {
  EXPECT_EQ(seal_secret(std::string(kMaxSecretBoxPlaintext + 1, 'x'), test_key(1)).status().code(),
            Code::kInvalidArgument);
}

// --- Key file ---------------------------------------------------------------------------

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "berth-keyfile-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void write_file(const fs::path& path, const std::string& content, mode_t mode) {
    std::ofstream(path, std::ios::binary) << content;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  static std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

TEST_F(KeyFileTest, CreatesPrivateKeyFileAndReloadsIt) {
  const fs::path path = dir_ / "secret.key";
  auto created = load_or_create_key_file(path);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(read_all(path), std::string(created->begin(), created->end()));

  auto reloaded = load_or_create_key_file(path);
  ASSERT_TRUE(reloaded.is_ok()) << reloaded.status().to_string();
  EXPECT_EQ(*reloaded, *created);

  // Nothing but the key file is left behind.
  std::vector<fs::path> entries(fs::directory_iterator(dir_), fs::directory_iterator{});
  EXPECT_EQ(entries, std::vector<fs::path>{path});
}

TEST_F(KeyFileTest, DifferentFilesGetDifferentKeys) {
  auto a = load_or_create_key_file(dir_ / "a.key");
  auto b = load_or_create_key_file(dir_ / "b.key");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(*a, *b);
}

TEST_F(KeyFileTest, LoadsExistingPrivateFile) {
  const fs::path path = dir_ / "existing.key";
  const SecretBoxKey key = test_key(9);
  write_file(path, std::string(key.begin(), key.end()), 0400);
  auto loaded = load_or_create_key_file(path);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(*loaded, key);
}

TEST_F(KeyFileTest, RefusesGroupOrOtherPermissions) {
  const fs::path path = dir_ / "open.key";
  const SecretBoxKey key = test_key(9);
  for (mode_t mode : {0640, 0620, 0604, 0602, 0660, 0644, 0610}) {
    write_file(path, std::string(key.begin(), key.end()), mode);
    EXPECT_EQ(load_or_create_key_file(path).status().code(), Code::kFailedPrecondition)
        << std::oct << mode;
  }
  EXPECT_EQ(read_all(path), std::string(key.begin(), key.end())) << "must not be rewritten";
}

TEST_F(KeyFileTest, RefusesWrongSize) {
  const fs::path path = dir_ / "size.key";
  for (size_t size : {0u, 31u, 33u, 64u}) {
    write_file(path, std::string(size, 'k'), 0600);
    EXPECT_EQ(load_or_create_key_file(path).status().code(), Code::kFailedPrecondition) << size;
  }
}

TEST_F(KeyFileTest, RefusesDirectory) {
  fs::create_directory(dir_ / "dir.key");
  ASSERT_EQ(::chmod((dir_ / "dir.key").c_str(), 0700), 0);
  EXPECT_EQ(load_or_create_key_file(dir_ / "dir.key").status().code(), Code::kFailedPrecondition);
}

TEST_F(KeyFileTest, RefusesFifoWithoutBlocking) {
  const fs::path path = dir_ / "fifo.key";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_EQ(load_or_create_key_file(path).status().code(), Code::kFailedPrecondition);
}

TEST_F(KeyFileTest, DanglingSymlinkIsNotReplaced) {
  fs::create_symlink(dir_ / "nowhere.key", dir_ / "dangling.key");
  EXPECT_EQ(load_or_create_key_file(dir_ / "dangling.key").status().code(), Code::kInternal);
  EXPECT_TRUE(fs::is_symlink(dir_ / "dangling.key"));
  EXPECT_FALSE(fs::exists(dir_ / "nowhere.key"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1)
      << "temporary files must be removed";
}

TEST_F(KeyFileTest, FollowsSymlinkToPrivateFile) {
  const SecretBoxKey key = test_key(3);
  write_file(dir_ / "target.key", std::string(key.begin(), key.end()), 0600);
  fs::create_symlink(dir_ / "target.key", dir_ / "link.key");
  auto loaded = load_or_create_key_file(dir_ / "link.key");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(*loaded, key);
}

TEST_F(KeyFileTest, MissingDirectoryIsInternal) {
  EXPECT_EQ(load_or_create_key_file(dir_ / "absent" / "secret.key").status().code(),
            Code::kInternal);
}

TEST_F(KeyFileTest, ConcurrentCreatorsAgreeOnOneKey) {
  for (int round = 0; round < 20; ++round) {
    const fs::path path = dir_ / ("race-" + std::to_string(round) + ".key");
    constexpr int kThreads = 4;
    std::vector<Result<SecretBoxKey>> results(kThreads, Status(Code::kInternal, "not run"));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] { results[t] = load_or_create_key_file(path); });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& result : results) {
      ASSERT_TRUE(result.is_ok()) << result.status().to_string();
      EXPECT_EQ(*result, *results[0]) << "round " << round;
    }
    EXPECT_EQ(read_all(path), std::string(results[0]->begin(), results[0]->end()));
  }
}

// --- Access keys ---------------------------------------------------------------------------

bool only_chars(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

TEST(AccessKeys, AccessKeyIdShape) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto id = generate_access_key_id();
    ASSERT_TRUE(id.is_ok());
    EXPECT_EQ(id->size(), 20u) << *id;
    EXPECT_TRUE(id->starts_with("BKIA")) << *id;
    EXPECT_TRUE(only_chars(id->substr(4), "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) << *id;
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(AccessKeys, AccessKeyIdUsesTheWholeAlphabet) {
  std::set<char> chars;
  for (int i = 0; i < 200; ++i) {
    std::string id = generate_access_key_id().value();
    chars.insert(id.begin() + 4, id.end());
  }
  EXPECT_EQ(chars.size(), 32u);  // 3200 draws from 32 symbols
}

TEST(AccessKeys, SecretAccessKeyShape) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto secret = generate_secret_access_key();
    ASSERT_TRUE(secret.is_ok());
    EXPECT_EQ(secret->size(), 40u) << *secret;
    EXPECT_TRUE(
        only_chars(*secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
        << *secret;
    seen.insert(*secret);
  }
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
}  // namespace berth::auth
