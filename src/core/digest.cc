#include "core/digest.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdlib>
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

std::array<uint8_t, 32> hmac_sha256(const void* key, size_t key_size, std::string_view data) {
  // HMAC() and EVP_Q_mac look the MAC and the digest up by name on every
  // call. Each thread keeps one context instead: set to SHA-256 once, it then
  // takes a new key per call with no lookups.
  struct Context {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    Context() {
      mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
      ctx = mac == nullptr ? nullptr : EVP_MAC_CTX_new(mac);
      char digest_name[] = "SHA256";
      OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
          OSSL_PARAM_construct_end()};
      if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = nullptr;
      }
    }
    ~Context() {
      EVP_MAC_CTX_free(ctx);
      EVP_MAC_free(mac);
    }
  };
  thread_local Context context;
  std::array<uint8_t, 32> out{};
  size_t size = 0;
  // An empty key would mean "reuse the previous key" to EVP_MAC_init; HMAC
  // pads a zero-length key to zeros, so one zero byte is the same key.
  static constexpr unsigned char kZero = 0;
  const auto* k = key_size == 0 ? &kZero : static_cast<const unsigned char*>(key);
  bool ok = context.ctx != nullptr &&
            EVP_MAC_init(context.ctx, k, key_size == 0 ? 1 : key_size, nullptr) == 1 &&
            EVP_MAC_update(context.ctx, reinterpret_cast<const unsigned char*>(data.data()),
                           data.size()) == 1 &&
            EVP_MAC_final(context.ctx, out.data(), &size, out.size()) == 1 && size == out.size();
  // OpenSSL unable to compute SHA-256 leaves nothing sensible to return.
  if (!ok) std::abort();
  return out;
}

}  // namespace berth
