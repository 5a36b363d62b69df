// The low-level SHA-2 API is deprecated in OpenSSL 3 in favour of EVP, whose
// contexts cannot be serialised; this file is the one place that needs it.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "registry/upload_hasher.h"

#include <openssl/sha.h>

#include <cstring>

namespace berth {

struct UploadHasher::Ctx {
  SHA256_CTX sha256;
  SHA512_CTX sha512;
};

namespace {

// magic, algorithm byte, byte count (8, little-endian), context size (4),
// context bytes.
constexpr std::string_view kMagic = "berth-upload-hash/1";

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

UploadHasher::UploadHasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
  if (algorithm_ == DigestAlgorithm::kSha512) {
    SHA512_Init(&ctx_->sha512);
  } else {
    SHA256_Init(&ctx_->sha256);
  }
}

UploadHasher::~UploadHasher() = default;
UploadHasher::UploadHasher(UploadHasher&&) noexcept = default;
UploadHasher& UploadHasher::operator=(UploadHasher&&) noexcept = default;

UploadHasher::UploadHasher(const UploadHasher& other)
    : algorithm_(other.algorithm_),
      ctx_(std::make_unique<Ctx>(*other.ctx_)),
      bytes_(other.bytes_) {}

UploadHasher& UploadHasher::operator=(const UploadHasher& other) {
  if (this != &other) *this = UploadHasher(other);
  return *this;
}

void UploadHasher::update(const void* data, size_t size) {
  if (size == 0) return;
  if (algorithm_ == DigestAlgorithm::kSha512) {
    SHA512_Update(&ctx_->sha512, data, size);
  } else {
    SHA256_Update(&ctx_->sha256, data, size);
  }
  bytes_ += size;
}

Digest UploadHasher::peek() const {
  unsigned char out[SHA512_DIGEST_LENGTH];
  std::string text;
  if (algorithm_ == DigestAlgorithm::kSha512) {
    SHA512_CTX copy = ctx_->sha512;
    SHA512_Final(out, &copy);
    text = "sha512:" + to_hex(out, SHA512_DIGEST_LENGTH);
  } else {
    SHA256_CTX copy = ctx_->sha256;
    SHA256_Final(out, &copy);
    text = "sha256:" + to_hex(out, SHA256_DIGEST_LENGTH);
  }
  return Digest::parse(text).value();
}

std::string UploadHasher::serialize() const {
  std::string out(kMagic);
  const bool is512 = algorithm_ == DigestAlgorithm::kSha512;
  out.push_back(is512 ? '\x02' : '\x01');
  put_le(out, bytes_, 8);
  const size_t n = is512 ? sizeof(SHA512_CTX) : sizeof(SHA256_CTX);
  put_le(out, n, 4);
  const char* p = is512 ? reinterpret_cast<const char*>(&ctx_->sha512)
                        : reinterpret_cast<const char*>(&ctx_->sha256);
  out.append(p, n);
  return out;
}

Result<UploadHasher> UploadHasher::restore(std::string_view saved) {
  const size_t head = kMagic.size() + 1 + 8 + 4;
  if (saved.size() < head || saved.substr(0, kMagic.size()) != kMagic) {
    return error(Code::kInvalidArgument, "not a saved upload hash");
  }
  const char alg = saved[kMagic.size()];
  if (alg != '\x01' && alg != '\x02')
    return error(Code::kInvalidArgument, "unknown hash algorithm in saved state");
  const bool is512 = alg == '\x02';
  const uint64_t bytes = get_le(saved, kMagic.size() + 1, 8);
  const uint64_t n = get_le(saved, kMagic.size() + 9, 4);
  const size_t want = is512 ? sizeof(SHA512_CTX) : sizeof(SHA256_CTX);
  if (n != want || saved.size() != head + want) {
    return error(Code::kInvalidArgument, "saved hash state has another size than this build's");
  }
  UploadHasher h(is512 ? DigestAlgorithm::kSha512 : DigestAlgorithm::kSha256);
  if (is512) {
    std::memcpy(&h.ctx_->sha512, saved.data() + head, want);
  } else {
    std::memcpy(&h.ctx_->sha256, saved.data() + head, want);
  }
  h.bytes_ = bytes;
  // The context counts the bits it has hashed: it must agree with the byte
  // count beside it, else the state is not what it claims to be.
  const bool consistent =
      is512
          ? h.ctx_->sha512.Nl == bytes * 8 && h.ctx_->sha512.Nh == 0 &&
                h.ctx_->sha512.num < SHA512_CBLOCK && h.ctx_->sha512.md_len == SHA512_DIGEST_LENGTH
          : ((static_cast<uint64_t>(h.ctx_->sha256.Nh) << 32) | h.ctx_->sha256.Nl) == bytes * 8 &&
                h.ctx_->sha256.num < SHA256_CBLOCK && h.ctx_->sha256.md_len == SHA256_DIGEST_LENGTH;
  if (!consistent) return error(Code::kInvalidArgument, "saved hash state is inconsistent");
  return h;
}

}  // namespace berth
