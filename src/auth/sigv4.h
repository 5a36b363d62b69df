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
#include "core/status.h"

namespace berth::auth {

// One header line as received: the name as sent (any case) and the raw value.
struct HttpHeader {
  std::string name;
  std::string value;
};

// A request as the HTTP layer received it. Nothing is decoded or normalised:
// the verifier canonicalises it exactly as AWS signers do.
struct SigV4Request {
  std::string method;               // e.g. "POST"
  std::string raw_path;             // the request-target path as on the wire, without '?'
  std::string raw_query;            // everything after the first '?', as on the wire; "" if none
  std::vector<HttpHeader> headers;  // in arrival order; repeated names allowed
  std::string payload_sha256;       // lowercase hex SHA-256 of the body, computed by the caller
};

// The `<yyyymmdd>/<region>/<service>` part of a credential.
struct CredentialScope {
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  // "<date>/<region>/<service>/aws4_request".
  std::string to_string() const;
};

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

// --- The stages, exposed for tests and tools --------------------------------

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// The canonical URI for non-S3 services: `.`/`..` segments resolved and runs of
// '/' collapsed (botocore's remove_dot_segments), "" → "/", then every byte
// except A-Z a-z 0-9 - _ . ~ / percent-encoded with upper-case hex. The path is
// encoded as it arrived, so a wire "%20" becomes "%2520" (AWS double encoding).
std::string canonical_uri(std::string_view raw_path);

// The canonical query string: components split on '&' (empty ones dropped),
// each split at the first '=' (no '=' → empty value), key and value
// percent-decoded ('+' stays '+') and re-encoded leaving only A-Z a-z 0-9 - _ . ~,
// sorted by key then value, joined with '&'. kInvalidArgument when a component
// is not valid percent-encoding.
Result<std::string> canonical_query_string(std::string_view raw_query);

// The canonical request (ECR-API.md §8.2) over the named headers. Names are
// matched case-insensitively, lowercased and sorted; a repeated header's values
// are joined with ',' in arrival order, each value trimmed and its internal
// whitespace runs collapsed to one space. The hashed payload is
// request.payload_sha256. kSignatureInvalid when a named header is absent from
// the request or a name is empty; kInvalidArgument for a bad query string.
Result<std::string> canonical_request(const SigV4Request& request,
                                      const std::vector<std::string>& signed_headers);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>/aws4_request\n<hex sha256(canonical)>".
std::string string_to_sign(std::string_view amz_date, const CredentialScope& scope,
                           std::string_view canonical_request);

// kSigning = HMAC chain over "AWS4"+secret, date, region, service, "aws4_request".
std::array<uint8_t, 32> signing_key(std::string_view secret_access_key,
                                    const CredentialScope& scope);

// Lowercase hex HMAC-SHA256(signing_key, string_to_sign).
std::string signature(const std::array<uint8_t, 32>& signing_key, std::string_view string_to_sign);

// "yyyymmddThhmmssZ" (UTC) for seconds since the Unix epoch.
std::string format_amz_date(int64_t unix_seconds);
// Parses exactly "yyyymmddThhmmssZ"; nullopt if malformed or not a real date.
std::optional<int64_t> parse_amz_date(std::string_view amz_date);
// Parses an RFC 7231 IMF-fixdate ("Sun, 30 Aug 2015 12:36:00 GMT"), the form
// of the HTTP Date header; nullopt otherwise.
std::optional<int64_t> parse_http_date(std::string_view http_date);

// --- Client side -------------------------------------------------------------

struct SigningCredentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Signs `request` the way botocore does: sets X-Amz-Date to `unix_seconds` (the
// first X-Amz-Date replaced in place, any other dropped, else one appended), signs every
// header present except Authorization, User-Agent, Expect, X-Amzn-Trace-Id and
// the hop-by-hop headers, then appends `Authorization` and returns its value.
// kInvalidArgument when the request has no Host header or a bad query string.
Result<std::string> sign_request(SigV4Request& request, const SigningCredentials& credentials,
                                 std::string_view region, std::string_view service,
                                 int64_t unix_seconds);

// Presigns `request` (typically a GET): returns request.raw_query with
// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders=host and X-Amz-Signature appended. The signature covers
// request.payload_sha256 (the empty-body hash for a GET). The caller puts the
// result after '?'. kInvalidArgument when there is no Host header, a bad query
// string, or expires_seconds < 1.
Result<std::string> presign_query(const SigV4Request& request,
                                  const SigningCredentials& credentials, std::string_view region,
                                  std::string_view service, int64_t unix_seconds,
                                  int64_t expires_seconds);

}  // namespace berth::auth
