// Registry tokens: the password `docker login -u AWS` uses against berth's
// registry API, handed out by ECR GetAuthorizationToken (ECR-API.md §1.8).
//
// A token is self-contained, so any node verifies it without shared state:
//
//   "b1." + base64url(claims JSON) + "." + base64url(HMAC-SHA256(key, "b1." + base64url(claims)))
//
// base64url is unpadded (RFC 4648 §5). The MAC covers the version prefix, so a
// future format cannot be confused with this one. Tokens contain no ':' (the
// AWS CLI splits the decoded authorizationToken at ':').
//
// Tokens cannot be revoked individually: rotating the key revokes all of them,
// and a caller that must honour a deleted access key checks the returned
// claims against its store. All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace berth::auth {

// The server secret that MACs tokens: 32 random bytes shared by all nodes.
using TokenKey = std::array<uint8_t, 32>;

// ECR tokens are valid for 12 hours.
inline constexpr int64_t kRegistryTokenLifetimeSeconds = 12 * 3600;

// Who the token speaks for, and when.
struct TokenClaims {
  std::string account_id;     // the registry / account the principal belongs to
  std::string access_key_id;  // the key that called GetAuthorizationToken
  std::string user_name;      // the principal's user name
  int64_t issued_at = 0;      // seconds since the Unix epoch
  int64_t expires_at = 0;     // seconds since the Unix epoch; valid while now < expires_at

  bool operator==(const TokenClaims&) const = default;
};

// Mints a token for `claims`. The caller sets the times (typically issued_at =
// now, expires_at = now + kRegistryTokenLifetimeSeconds); verification refuses
// tokens with expires_at <= issued_at, and tokens longer than 4096 bytes
// (keep the claim strings to names and ids).
std::string issue_registry_token(const TokenClaims& claims, const TokenKey& key);

// Checks the format, the MAC (constant-time) and the lifetime, in that order;
// the claims JSON is only parsed once the MAC has proved it is ours.
// kTokenInvalid when malformed, forged, made with another key or issued more
// than 5 minutes in the future; kTokenExpired when now >= expires_at.
Result<TokenClaims> verify_registry_token(std::string_view token, const TokenKey& key,
                                          const Clock& clock);

// ECR's authorizationToken: base64("AWS:" + password), standard alphabet,
// padded — the value of an HTTP Basic credential.
std::string ecr_authorization_token(std::string_view password);

// The credentials of an `Authorization: Basic <base64(user:password)>` header.
struct BasicCredentials {
  std::string user;
  std::string password;  // may contain ':'; everything after the first one
};

// Parses the value of an Authorization header (RFC 7617): the scheme "Basic"
// in any case, then one base64 token (standard alphabet, correctly padded),
// whose decoded form contains a ':' and no control characters.
// kUnauthenticated for any other value.
Result<BasicCredentials> parse_basic_authorization(std::string_view header_value);

}  // namespace berth::auth
