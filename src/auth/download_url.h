// Presigned layer download URLs (ECR GetDownloadUrlForLayer): a query string
// that lets a plain HTTP client fetch one blob of one repository without
// credentials, until it expires. It is bound to the account, the repository,
// the digest and the access key of the caller who asked for it, and MAC'd
// with a registry secret, so it can be neither widened nor extended; whether
// that key may still read the repository is decided when it is used.
//
// Pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace berth::auth {

using DownloadUrlKey = std::array<uint8_t, 32>;

// The query parameter that marks a presigned download URL.
inline constexpr std::string_view kDownloadSignatureParam = "X-Berth-Signature";

struct DownloadGrant {
  std::string account_id;
  std::string repository;
  std::string digest;         // as in the URL path, e.g. "sha256:..."
  std::string access_key_id;  // whose right to read the URL carries
  int64_t expires_at = 0;     // seconds since the epoch; the URL works while now < expires_at
};

// The query string (without '?') for `grant`.
std::string sign_download_query(const DownloadGrant& grant, const DownloadUrlKey& key);

// Checks a query string against the blob the request path names
// (`repository`, `digest`): the MAC (compared in constant time), then the
// expiry. Returns the grant (account and access key to authorize as).
// kPermissionDenied when anything is missing, altered, bound to another blob
// or expired; the message says which, and never echoes the signature.
Result<DownloadGrant> verify_download_query(std::string_view raw_query, std::string_view repository,
                                            std::string_view digest, const DownloadUrlKey& key,
                                            const Clock& clock);

}  // namespace berth::auth
