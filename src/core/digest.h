// Content digests ("<algorithm>:<hex>") and streaming hashers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth {

enum class DigestAlgorithm { kSha256, kSha512 };

// A validated digest. Only sha256 (64 hex) and sha512 (128 hex) are accepted,
// lower-case hex only, as the OCI image spec requires for registered algorithms.
class Digest {
 public:
  Digest() = default;

  // Parses "sha256:<64 hex>" or "sha512:<128 hex>". Anything else is
  // kDigestInvalid (an unknown algorithm too, since a registry cannot verify it).
  static Result<Digest> parse(std::string_view text);

  // The digest of `data` with `algorithm`.
  static Digest of(std::string_view data, DigestAlgorithm algorithm = DigestAlgorithm::kSha256);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;
  const std::string& hex() const { return hex_; }
  const std::string& str() const { return text_; }
  bool empty() const { return text_.empty(); }

  friend bool operator==(const Digest& a, const Digest& b) { return a.text_ == b.text_; }
  friend bool operator<(const Digest& a, const Digest& b) { return a.text_ < b.text_; }

 private:
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
  std::string text_;
};

// Incremental hashing over OpenSSL EVP. Not thread-safe; movable, not copyable.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Returns the digest of everything fed so far; the hasher itself is unchanged
  // and may keep being updated.
  Digest peek() const;
  DigestAlgorithm algorithm() const { return algorithm_; }
  uint64_t bytes() const { return bytes_; }

 private:
  DigestAlgorithm algorithm_;
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

std::string to_hex(const unsigned char* data, size_t size);

// HMAC-SHA256 of `data` under `key`. The MAC implementation is fetched from
// OpenSSL once per process, not on every call.
std::array<uint8_t, 32> hmac_sha256(const void* key, size_t key_size, std::string_view data);

}  // namespace berth
