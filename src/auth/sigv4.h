// AWS Signature Version 4 (AWS4-HMAC-SHA256): server-side verification of the
// ECR JSON 1.1 API's requests, the individual signing stages (exposed so they
// can be checked one by one against the AWS test suite), and a client-side
// signer for tests and admin tools. The algorithm and the error table follow
// shared/reference/ECR-API.md §8.
//
// Everything here is pure: no I/O, no globals, no caches. Every function is
// thread-safe; verify_request is as thread-safe as the SecretLookup it calls.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/sigv4_signing.h"
#include "core/status.h"

namespace berth::auth {

// The shared pure stages live in core (core/sigv4_signing.h); they are named
// here too so that the verifier's callers and tests keep one vocabulary.
using sigv4::canonical_query_string;
using sigv4::canonical_request;
using sigv4::canonical_uri;
using sigv4::CredentialScope;
using sigv4::format_amz_date;
using sigv4::HttpHeader;
using sigv4::presign_query;
using sigv4::sha256_hex;
using sigv4::sign_request;
using sigv4::signature;
using sigv4::signing_key;
using sigv4::SigningCredentials;
using sigv4::SigV4Request;
using sigv4::string_to_sign;

// What a successful verification proves about the request.
struct VerifiedRequest {
  std::string access_key_id;
  CredentialScope scope;
  int64_t request_time = 0;                 // seconds since the Unix epoch
  std::vector<std::string> signed_headers;  // lowercase, sorted: only these are authenticated
  // The X-Amz-Security-Token sent, if any (only when allow_security_token).
  // The caller must validate it; the signature only proves it was not altered
  // when it was signed, and a client may add it unsigned (see signed_headers).
  std::optional<std::string> security_token;
  bool presigned = false;  // authenticated by X-Amz-* query parameters
};

struct VerifierOptions {
  // The only region accepted in the credential scope. Empty accepts any
  // region made of [a-z0-9-] (ECR-API.md §8.5 row 7 leaves this to policy).
  std::string region;
  std::string service = "ecr";
  // Allowed difference between the request time and the server clock.
  int64_t max_clock_skew_seconds = 300;
  // berth issues no session tokens, so by default a request carrying
  // X-Amz-Security-Token is rejected as an unrecognised credential.
  bool allow_security_token = false;
  // Upper bound for X-Amz-Expires in presigned requests (AWS: one week).
  int64_t max_presign_expires_seconds = 7 * 24 * 3600;
  // Headers that must be among the signed ones besides `host` (always
  // required), as written in the error message, e.g. "X-Amz-Target": a
  // header that selects what the request does must be covered by the
  // signature, or a captured request could be replayed as another operation.
  std::vector<std::string> required_signed_headers;
};

// Returns the secret access key for an access key id, or nullopt when the key
// is unknown or disabled. Must not be empty; called at most once per
// verification, and only for requests that passed every other check.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Verifies a request signed with an `Authorization: AWS4-HMAC-SHA256 ...`
// header or, when it has no Authorization header, with presigned query
// parameters (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature). A presigned request signs the body
// hash like a header-signed one (UNSIGNED-PAYLOAD is not accepted).
//
// Errors (message text follows AWS where ECR-API.md quotes it):
//   kMissingAuthentication  no Authorization header and no presigned parameters
//   kIncompleteSignature    malformed Authorization / credential / date, unsupported
//                           algorithm, `host` or one of required_signed_headers not
//                           signed, `authorization` listed as signed, both auth forms
//                           at once. Messages never repeat the Authorization header.
//   kSignatureExpired       request time outside ±max_clock_skew_seconds of the clock,
//                           or a presigned request past X-Amz-Expires
//   kUnknownAccessKey       lookup returned nullopt, or a security token was sent
//                           and allow_security_token is false
//   kSignatureInvalid       wrong scope (terminator, service, region, date), a
//                           signed header missing from the request,
//                           x-amz-content-sha256 differing from payload_sha256, or
//                           the signature does not match (compared in constant time;
//                           the message then shows the expected canonical request
//                           and string to sign, which contain no secret)
//   kInvalidArgument        the query string is not valid percent-encoding
Result<VerifiedRequest> verify_request(const SigV4Request& request, const VerifierOptions& options,
                                       const SecretLookup& lookup_secret, const Clock& clock);

// The part of verify_request that needs neither the body nor the secret:
// the Authorization header (or presigned parameters) well formed, the scope
// and the request time. Returns the access key id it names, for the caller to
// check that the key exists and is enabled. Meant to refuse a request before
// its body is read; verify_request must still follow. Errors as
// verify_request, except that it never answers kSignatureInvalid for the
// payload hash or the signature.
Result<std::string> precheck_request(const SigV4Request& request, const VerifierOptions& options,
                                     const Clock& clock);

// The access key id a request claims in its Credential (Authorization header
// or X-Amz-Credential query parameter), whether or not it verifies; for logs.
// Empty when there is none or it is not 1-128 letters and digits.
std::string claimed_access_key_id(const SigV4Request& request);

// --- Dates ------------------------------------------------------------------

// Parses exactly "yyyymmddThhmmssZ"; nullopt if malformed or not a real date.
std::optional<int64_t> parse_amz_date(std::string_view amz_date);
// Parses an RFC 7231 IMF-fixdate ("Sun, 30 Aug 2015 12:36:00 GMT"), the form
// of the HTTP Date header; nullopt otherwise.
std::optional<int64_t> parse_http_date(std::string_view http_date);

}  // namespace berth::auth
