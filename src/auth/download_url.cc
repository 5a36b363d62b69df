#include "auth/download_url.h"

#include <openssl/crypto.h>

#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "core/digest.h"

namespace berth::auth {
namespace {

constexpr std::string_view kAccountParam = "X-Berth-Account";
constexpr std::string_view kCredentialParam = "X-Berth-Credential";
constexpr std::string_view kExpiresParam = "X-Berth-Expires";

std::string mac_hex(const DownloadGrant& g, const DownloadUrlKey& key) {
  // Every field is on its own line and none may contain a newline (account,
  // key id and expiry are checked below; names and digests cannot), so no
  // two grants share a signed text.
  std::string text = fmt::format("berth-download-v1\n{}\n{}\n{}\n{}\n{}", g.account_id,
                                 g.repository, g.digest, g.access_key_id, g.expires_at);
  auto mac = hmac_sha256(key.data(), key.size(), text);
  return to_hex(mac.data(), mac.size());
}

// The value of `name` in a raw query string; nullopt when absent or repeated.
std::optional<std::string_view> param(std::string_view query, std::string_view name) {
  std::optional<std::string_view> found;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    if (found) return std::nullopt;
    found = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return found;
}

bool alnum(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Status denied(std::string_view why) {
  return error(Code::kPermissionDenied, fmt::format("the download URL {}", why));
}

}  // namespace

std::string sign_download_query(const DownloadGrant& grant, const DownloadUrlKey& key) {
  return fmt::format("{}={}&{}={}&{}={}&{}={}", kAccountParam, grant.account_id, kCredentialParam,
                     grant.access_key_id, kExpiresParam, grant.expires_at, kDownloadSignatureParam,
                     mac_hex(grant, key));
}

Result<DownloadGrant> verify_download_query(std::string_view raw_query, std::string_view repository,
                                            std::string_view digest, const DownloadUrlKey& key,
                                            const Clock& clock) {
  auto account = param(raw_query, kAccountParam);
  auto credential = param(raw_query, kCredentialParam);
  auto expires = param(raw_query, kExpiresParam);
  auto signature = param(raw_query, kDownloadSignatureParam);
  if (!account || !credential || !expires || !signature) return denied("is incomplete");
  if (!alnum(*account, 12) || !alnum(*credential, 128)) return denied("is malformed");
  DownloadGrant g;
  g.account_id = std::string(*account);
  g.access_key_id = std::string(*credential);
  g.repository = std::string(repository);
  g.digest = std::string(digest);
  auto [end, ec] =
      std::from_chars(expires->data(), expires->data() + expires->size(), g.expires_at);
  if (ec != std::errc() || end != expires->data() + expires->size()) return denied("is malformed");
  const std::string want = mac_hex(g, key);
  if (signature->size() != want.size() ||
      CRYPTO_memcmp(signature->data(), want.data(), want.size()) != 0) {
    return denied("does not match its signature (altered, or for another layer)");
  }
  if (clock.now_seconds() >= g.expires_at)
    return denied("has expired; ask GetDownloadUrlForLayer for a new one");
  return g;
}

}  // namespace berth::auth
