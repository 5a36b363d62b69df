#include "auth/registry_token.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <optional>

#include "core/base64.h"
#include "core/digest.h"

namespace berth::auth {
namespace {

namespace json = boost::json;

constexpr std::string_view kVersionPrefix = "b1.";
constexpr size_t kMaxTokenSize = 4096;
constexpr int64_t kMaxIssuedAtSkewSeconds = 300;
constexpr size_t kMaxBasicHeaderSize = 8192;

std::array<uint8_t, 32> mac(const TokenKey& key, std::string_view data) {
  return hmac_sha256(key.data(), key.size(), data);
}

// The strict decoders' answer as an optional: every failure is "malformed" here.
std::optional<std::string> decoded(Result<std::string> r) {
  if (!r) return std::nullopt;
  return std::move(*r);
}

Status invalid(std::string message) {
  return error(Code::kTokenInvalid, std::move(message));
}

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
  std::optional<std::string> given_tag = decoded(base64url_decode(token.substr(dot + 1)));
  if (!given_tag || given_tag->size() != 32) return invalid("registry token malformed");
  std::array<uint8_t, 32> expected_tag = mac(key, signed_part);
  if (CRYPTO_memcmp(expected_tag.data(), given_tag->data(), expected_tag.size()) != 0) {
    return invalid("registry token signature does not match");
  }

  std::optional<std::string> payload =
      decoded(base64url_decode(signed_part.substr(kVersionPrefix.size())));
  if (!payload) return invalid("registry token malformed");
  BERTH_ASSIGN_OR_RETURN(TokenClaims claims, parse_claims(*payload));
  if (claims.expires_at <= claims.issued_at) return invalid("registry token lifetime is empty");
  const int64_t now = clock.now_seconds();
  if (now >= claims.expires_at) return error(Code::kTokenExpired, "registry token expired");
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

  std::optional<std::string> plain = decoded(base64_decode(encoded));
  if (!plain) return unauthenticated("Basic credentials are not valid base64");
  if (std::any_of(plain->begin(), plain->end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return unauthenticated("Basic credentials contain control characters");
  }
  size_t colon = plain->find(':');
  if (colon == std::string::npos) return unauthenticated("Basic credentials lack a ':'");
  return BasicCredentials{plain->substr(0, colon), plain->substr(colon + 1)};
}

}  // namespace berth::auth
