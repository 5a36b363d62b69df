#include "core/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace berth {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

const EVP_MD* evp_for(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha512 ? EVP_sha512() : EVP_sha256();
}

}  // namespace

std::string to_hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

Result<Digest> Digest::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return error(Code::kDigestInvalid, "digest must have the form <algorithm>:<hex>");
  }
  std::string_view alg = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  Digest d;
  size_t want;
  if (alg == "sha256") {
    d.algorithm_ = DigestAlgorithm::kSha256;
    want = 64;
  } else if (alg == "sha512") {
    d.algorithm_ = DigestAlgorithm::kSha512;
    want = 128;
  } else {
    return error(Code::kDigestInvalid, "unsupported digest algorithm");
  }
  if (hex.size() != want || !is_lower_hex(hex)) {
    return error(Code::kDigestInvalid, "digest hex part has the wrong length or characters");
  }
  d.hex_ = std::string(hex);
  d.text_ = std::string(text);
  return d;
}

std::string_view Digest::algorithm_name() const {
  return algorithm_ == DigestAlgorithm::kSha512 ? "sha512" : "sha256";
}

Digest Digest::of(std::string_view data, DigestAlgorithm algorithm) {
  Hasher h(algorithm);
  h.update(data);
  return h.peek();
}

struct Hasher::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, evp_for(algorithm), nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex failed");
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t size) {
  if (size == 0) return;
  EVP_DigestUpdate(ctx_->md, data, size);
  bytes_ += size;
}

Digest Hasher::peek() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, ctx_->md);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy, out, &len);
  EVP_MD_CTX_free(copy);
  std::string text = algorithm_ == DigestAlgorithm::kSha512 ? "sha512:" : "sha256:";
  text += to_hex(out, len);
  return Digest::parse(text).value();
}

}  // namespace berth
