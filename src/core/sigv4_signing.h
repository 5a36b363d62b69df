// AWS Signature Version 4 (AWS4-HMAC-SHA256): the pure stages shared by the
// verifier of berth's own ECR API (auth/sigv4.h) and by clients berth runs
// itself (the S3 blob store signs its requests with them): canonicalisation,
// key derivation, signing and presigning.
//
// Everything here is pure: no I/O, no globals, no caches; every function is
// thread-safe. Secrets passed in are never copied into results or errors.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace berth::sigv4 {

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

// A query string's components percent-decoded, in order; empty components
// dropped; a component without '=' has an empty value. kInvalidArgument when
// a component is not valid percent-encoding.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
Result<QueryParams> decode_query(std::string_view raw_query);

// `s` with every byte except A-Z a-z 0-9 - _ . ~ percent-encoded (upper-case hex).
std::string percent_encode_unreserved(std::string_view s);

// --- The stages -------------------------------------------------------------

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

}  // namespace berth::sigv4
