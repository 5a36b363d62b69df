#include "auth/registry_token.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <optional>

namespace berth::auth {
namespace {

namespace json = boost::json;

constexpr std::string_view kVersionPrefix = "b1.";
constexpr size_t kMaxTokenSize = 4096;
constexpr int64_t kMaxIssuedAtSkewSeconds = 300;
constexpr size_t kMaxBasicHeaderSize = 8192;

// --- base64 (RFC 4648), strict: OpenSSL's block codec plus the checks it lacks -----

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Decodes padded standard base64. nullopt unless the input is exactly what
// base64_encode produces for some byte string (no whitespace, correct padding,
// zero trailing bits), so every decoded value has one encoding.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding),
                   is_base64_char)) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - padding);
  if (base64_encode(out) != text) return std::nullopt;
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out = base64_encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.find_first_of("+/=") != std::string_view::npos || text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string standard(text);
  std::replace(standard.begin(), standard.end(), '-', '+');
  std::replace(standard.begin(), standard.end(), '_', '/');
  standard.append((4 - standard.size() % 4) % 4, '=');
  return base64_decode(standard);
}

std::array<uint8_t, 32> mac(const TokenKey& key, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &size) == nullptr ||
      size != out.size()) {
    std::abort();  // OpenSSL cannot compute SHA-256: nothing sensible to return
  }
  return out;
}

Status invalid(std::string message) { return error(Code::kTokenInvalid, std::move(message)); }

// The claims of an authenticated payload; kTokenInvalid unless it is exactly
// the object issue_registry_token writes.
Result<TokenClaims> parse_claims(std::string_view payload) {
  // The payload is authenticated, so whatever bytes issue_registry_token was
  // given (even invalid UTF-8) must come back unchanged.
  json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  json::value value =
      json::parse(json::string_view(payload.data(), payload.size()), ec, {}, options);
  const json::object* object = ec ? nullptr : value.if_object();
  if (object == nullptr || object->size() != 5) return invalid("registry token claims malformed");
  TokenClaims claims;
  auto get_string = [&](std::string_view name, std::string& out) {
    const json::value* v = object->if_contains(json::string_view(name.data(), name.size()));
    if (v == nullptr || !v->is_string()) return false;
    out = std::string(v->get_string());
    return true;
  };
  auto get_int = [&](std::string_view name, int64_t& out) {
    const json::value* v = object->if_contains(json::string_view(name.data(), name.size()));
    if (v == nullptr || !v->is_int64()) return false;
    out = v->get_int64();
    return true;
  };
  if (!get_string("acct", claims.account_id) || !get_string("akid", claims.access_key_id) ||
      !get_string("user", claims.user_name) || !get_int("iat", claims.issued_at) ||
      !get_int("exp", claims.expires_at)) {
    return invalid("registry token claims malformed");
  }
  return claims;
}

}  // namespace

std::string issue_registry_token(const TokenClaims& claims, const TokenKey& key) {
  json::object object;
  object["acct"] = claims.account_id;
  object["akid"] = claims.access_key_id;
  object["user"] = claims.user_name;
  object["iat"] = claims.issued_at;
  object["exp"] = claims.expires_at;
  std::string signed_part =
      fmt::format("{}{}", kVersionPrefix, base64url_encode(json::serialize(object)));
  std::array<uint8_t, 32> tag = mac(key, signed_part);
  return fmt::format(
      "{}.{}", signed_part,
      base64url_encode(std::string_view(reinterpret_cast<const char*>(tag.data()), tag.size())));
}

Result<TokenClaims> verify_registry_token(std::string_view token, const TokenKey& key,
                                          const Clock& clock) {
  if (token.size() > kMaxTokenSize || !token.starts_with(kVersionPrefix)) {
    return invalid("not a berth registry token");
  }
  size_t dot = token.find('.', kVersionPrefix.size());
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return invalid("registry token malformed");
  }
  std::string_view signed_part = token.substr(0, dot);
  std::optional<std::string> given_tag = base64url_decode(token.substr(dot + 1));
  if (!given_tag || given_tag->size() != 32) return invalid("registry token malformed");
  std::array<uint8_t, 32> expected_tag = mac(key, signed_part);
  if (CRYPTO_memcmp(expected_tag.data(), given_tag->data(), expected_tag.size()) != 0) {
    return invalid("registry token signature does not match");
  }

  std::optional<std::string> payload = base64url_decode(signed_part.substr(kVersionPrefix.size()));
  if (!payload) return invalid("registry token malformed");
  BERTH_ASSIGN_OR_RETURN(TokenClaims claims, parse_claims(*payload));
  if (claims.expires_at <= claims.issued_at) return invalid("registry token lifetime is empty");
  const int64_t now = clock.now_seconds();
  if (now >= claims.expires_at) return invalid("registry token expired");
  if (claims.issued_at > now + kMaxIssuedAtSkewSeconds) {
    return invalid("registry token issued in the future");
  }
  return claims;
}

std::string ecr_authorization_token(std::string_view password) {
  return base64_encode(fmt::format("AWS:{}", password));
}

Result<BasicCredentials> parse_basic_authorization(std::string_view header_value) {
  auto unauthenticated = [](std::string message) {
    return error(Code::kUnauthenticated, std::move(message));
  };
  if (header_value.size() > kMaxBasicHeaderSize) return unauthenticated("Authorization too long");
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!header_value.empty() && is_space(header_value.front())) header_value.remove_prefix(1);
  while (!header_value.empty() && is_space(header_value.back())) header_value.remove_suffix(1);

  constexpr std::string_view kScheme = "basic";
  std::string_view scheme = header_value.substr(0, header_value.find_first_of(" \t"));
  bool is_basic = scheme.size() == kScheme.size() &&
                  std::equal(scheme.begin(), scheme.end(), kScheme.begin(), [](char a, char b) {
                    return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
                  });
  if (!is_basic) return unauthenticated("Authorization scheme is not Basic");
  std::string_view encoded = header_value.substr(scheme.size());
  while (!encoded.empty() && is_space(encoded.front())) encoded.remove_prefix(1);
  if (encoded.empty()) return unauthenticated("Basic credentials missing");

  std::optional<std::string> decoded = base64_decode(encoded);
  if (!decoded) return unauthenticated("Basic credentials are not valid base64");
  if (std::any_of(decoded->begin(), decoded->end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return unauthenticated("Basic credentials contain control characters");
  }
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return unauthenticated("Basic credentials lack a ':'");
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

}  // namespace berth::auth
