#include "identity/identity_service.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/digest.h"

namespace berth::identity {
namespace {

constexpr std::string_view kTokenKeySetting = "registry_token_key";

// The token key is stored as sealed hex.
Status hex_decode32(const std::string& hex, auth::TokenKey& out) {
  long len = 0;
  unsigned char* raw = OPENSSL_hexstr2buf(hex.c_str(), &len);
  if (raw == nullptr || len != static_cast<long>(out.size())) {
    OPENSSL_free(raw);
    return error(Code::kInternal, "stored token key is malformed");
  }
  std::copy(raw, raw + len, out.begin());
  OPENSSL_cleanse(raw, static_cast<size_t>(len));
  OPENSSL_free(raw);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<IdentityService>> IdentityService::open(IdentityStore& store,
                                                               const auth::SecretBoxKey& master_key,
                                                               const Clock& clock,
                                                               IdentityOptions options) {
  std::unique_ptr<IdentityService> svc(
      new IdentityService(store, master_key, clock, std::move(options)));
  BERTH_ASSIGN_OR_RETURN(auto existing, store.get_setting(kTokenKeySetting));
  std::string sealed;
  if (existing) {
    sealed = *existing;
  } else {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
      return error(Code::kInternal, "no randomness for the token key");
    BERTH_ASSIGN_OR_RETURN(std::string fresh, auth::seal_secret(to_hex(raw, sizeof raw), master_key,
                                                                kTokenKeySetting));
    BERTH_ASSIGN_OR_RETURN(sealed, store.put_setting_if_absent(kTokenKeySetting, fresh));
  }
  auto hex = auth::open_secret(sealed, master_key, kTokenKeySetting);
  if (!hex) {
    return error(Code::kFailedPrecondition,
                 "cannot decrypt the registry token key: the secret key file does not belong to "
                 "this database");
  }
  BERTH_RETURN_IF_ERROR(hex_decode32(*hex, svc->token_key_));
  svc->download_key_ = svc->derive_key("layer-download-url");
  return svc;
}

Result<BootstrapResult> IdentityService::bootstrap(const std::optional<NewAccessKey>& admin_key) {
  BERTH_ASSIGN_OR_RETURN(auto accounts, store_.list_accounts());
  BootstrapResult out;
  if (!accounts.empty()) return out;
  Status st = create_account(options_.default_account, "default");
  if (!st.is_ok() && st.code() != Code::kAlreadyExists) return st;
  st = create_user(options_.default_account, "admin", true);
  if (!st.is_ok() && st.code() != Code::kAlreadyExists) return st;
  BERTH_ASSIGN_OR_RETURN(auto key, create_access_key(options_.default_account, "admin", admin_key));
  out.created = true;
  out.admin_key = key;
  return out;
}

Status IdentityService::create_account(const std::string& id, const std::string& name) {
  if (id.size() != 12 || id.find_first_not_of("0123456789") != std::string::npos) {
    return error(Code::kInvalidArgument, "an account id is twelve digits");
  }
  return store_.create_account(AccountRecord{id, name, clock_.now_seconds()});
}

Status IdentityService::create_user(const std::string& account_id, const std::string& name,
                                    bool admin) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-") !=
          std::string::npos) {
    return error(Code::kInvalidArgument, "a user name is 1-64 characters of [A-Za-z0-9+=,.@_-]");
  }
  Status s = store_.create_user(UserRecord{account_id, name, admin, clock_.now_seconds()});
  if (s.is_ok()) invalidate();
  return s;
}

Result<NewAccessKey> IdentityService::create_access_key(const std::string& account_id,
                                                        const std::string& user_name,
                                                        const std::optional<NewAccessKey>& given) {
  NewAccessKey key;
  if (given) {
    if (given->access_key_id.size() < 16 || given->access_key_id.size() > 128 ||
        given->secret_access_key.size() < 16) {
      return error(Code::kInvalidArgument,
                   "an access key id needs 16-128 characters and a secret at least 16");
    }
    key = *given;
  } else {
    BERTH_ASSIGN_OR_RETURN(key.access_key_id, auth::generate_access_key_id());
    BERTH_ASSIGN_OR_RETURN(key.secret_access_key, auth::generate_secret_access_key());
  }
  BERTH_ASSIGN_OR_RETURN(std::string sealed,
                         auth::seal_secret(key.secret_access_key, master_, key.access_key_id));
  BERTH_RETURN_IF_ERROR(store_.create_access_key(AccessKeyRecord{
      key.access_key_id, account_id, user_name, sealed, true, clock_.now_seconds()}));
  invalidate();
  return key;
}

Status IdentityService::set_access_key_active(const std::string& id, bool active) {
  // Tokens carry their issue time in whole seconds; one issued in the second
  // the key is disabled may predate the disable, so that second's tokens die too.
  Status s = store_.set_access_key_active(id, active, clock_.now_seconds() + 1);
  invalidate();
  return s;
}

Status IdentityService::delete_access_key(const std::string& id) {
  Status s = store_.delete_access_key(id);
  invalidate();
  return s;
}

void IdentityService::invalidate() {
  std::lock_guard lock(mu_);
  cache_.clear();
  verified_headers_.clear();
  generation_ = -1;
}

void IdentityService::recheck_generation() {
  int64_t now = clock_.now_millis();
  {
    std::lock_guard lock(mu_);
    if (generation_ >= 0 && now - last_check_ms_ < options_.recheck_interval_ms) return;
    last_check_ms_ = now;
  }
  auto gen = store_.identity_generation();
  std::lock_guard lock(mu_);
  if (!gen) {
    cache_.clear();  // cannot tell: trust nothing cached
    verified_headers_.clear();
    generation_ = -1;
    return;
  }
  if (*gen != generation_) {
    cache_.clear();
    verified_headers_.clear();
    generation_ = *gen;
  }
}

Result<std::optional<IdentityService::CachedKey>> IdentityService::lookup_key(
    std::string_view access_key_id) {
  recheck_generation();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(std::string(access_key_id));
    if (it != cache_.end()) return std::optional<CachedKey>(it->second);
  }
  auto rec = store_.get_access_key(access_key_id);
  if (!rec) {
    if (rec.status().code() == Code::kNotFound) return std::optional<CachedKey>();
    return rec.take_status();
  }
  if (!rec->active) return std::optional<CachedKey>();
  BERTH_ASSIGN_OR_RETURN(auto user, store_.get_user(rec->account_id, rec->user_name));
  auto secret = auth::open_secret(rec->sealed_secret, master_, rec->id);
  if (!secret) return error(Code::kInternal, "cannot decrypt an access key secret");
  CachedKey k{*rec, std::move(secret).value(), user.admin};
  std::lock_guard lock(mu_);
  cache_[k.record.id] = k;
  return std::optional<CachedKey>(std::move(k));
}

auth::Principal IdentityService::principal_of(const CachedKey& key) {
  auth::Principal p;
  p.authenticated = true;
  p.account_id = key.record.account_id;
  p.user_name = key.record.user_name;
  p.access_key_id = key.record.id;
  p.admin = key.admin;
  return p;
}

Result<auth::Principal> IdentityService::authenticate_sigv4(const auth::SigV4Request& request) {
  auth::VerifierOptions vo;
  vo.region = options_.region;
  vo.service = "ecr";
  // The operation is chosen by X-Amz-Target and the body read by Content-Type:
  // both must be signed, as botocore and the AWS SDKs always do.
  vo.required_signed_headers = {"Content-Type", "X-Amz-Target"};
  std::optional<CachedKey> found;
  Status lookup_error;
  auto lookup = [&](std::string_view id) -> std::optional<std::string> {
    auto k = lookup_key(id);
    if (!k) {
      lookup_error = k.take_status();
      return std::nullopt;
    }
    found = *k;
    if (!found) return std::nullopt;
    return found->secret;
  };
  auto verified = auth::verify_request(request, vo, lookup, clock_);
  if (!lookup_error.is_ok()) return lookup_error;
  if (!verified) return verified.take_status();
  if (!found)
    return error(Code::kUnknownAccessKey, "The security token included in the request is invalid.");
  return principal_of(*found);
}

Status IdentityService::precheck_sigv4(const auth::SigV4Request& request) {
  auth::VerifierOptions vo;
  vo.region = options_.region;
  vo.service = "ecr";
  BERTH_ASSIGN_OR_RETURN(std::string key_id, auth::precheck_request(request, vo, clock_));
  BERTH_ASSIGN_OR_RETURN(auto key, lookup_key(key_id));
  if (!key)
    return error(Code::kUnknownAccessKey, "The security token included in the request is invalid.");
  return Status::ok();
}

bool IdentityService::ConstantTimeEqual::operator()(const std::string& a,
                                                    const std::string& b) const {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<auth::TokenClaims> IdentityService::verify_registry_header(
    std::string_view authorization_header) {
  recheck_generation();  // drops remembered headers too when identities change
  std::string header(authorization_header);
  {
    std::lock_guard lock(mu_);
    auto it = verified_headers_.find(header);
    if (it != verified_headers_.end()) {
      if (clock_.now_seconds() < it->second.expires_at) return it->second;
      verified_headers_.erase(it);
      return error(Code::kTokenExpired, "registry token expired");
    }
  }
  auto basic = auth::parse_basic_authorization(authorization_header);
  if (!basic) return error(Code::kTokenInvalid, "malformed basic credentials");
  if (basic->user != "AWS") return error(Code::kTokenInvalid, "the user name must be AWS");
  BERTH_ASSIGN_OR_RETURN(auto claims,
                         auth::verify_registry_token(basic->password, token_key_, clock_));
  std::lock_guard lock(mu_);
  if (verified_headers_.size() >= kMaxVerifiedHeaders) verified_headers_.clear();
  verified_headers_.emplace(std::move(header), claims);
  return claims;
}

Result<auth::Principal> IdentityService::authenticate_registry(
    std::string_view authorization_header) {
  if (authorization_header.empty())
    return error(Code::kMissingAuthentication, "authentication required");
  BERTH_ASSIGN_OR_RETURN(auto claims, verify_registry_header(authorization_header));
  BERTH_ASSIGN_OR_RETURN(auto key, lookup_key(claims.access_key_id));
  if (!key || key->record.account_id != claims.account_id) {
    return error(Code::kTokenExpired, "the token's access key is disabled or deleted");
  }
  if (claims.issued_at < key->record.tokens_not_before) {
    return error(Code::kTokenExpired, "the token was issued before its access key was disabled");
  }
  return principal_of(*key);
}

std::string IdentityService::presign_download(const auth::Principal& principal,
                                              std::string_view repository, std::string_view digest,
                                              int64_t ttl_seconds) {
  auth::DownloadGrant g;
  g.account_id = principal.account_id;
  g.repository = std::string(repository);
  g.digest = std::string(digest);
  g.access_key_id = principal.access_key_id;
  g.expires_at = clock_.now_seconds() + ttl_seconds;
  return auth::sign_download_query(g, download_key_);
}

Result<auth::Principal> IdentityService::authenticate_download(std::string_view raw_query,
                                                               std::string_view repository,
                                                               std::string_view digest) {
  recheck_generation();
  BERTH_ASSIGN_OR_RETURN(auto grant, auth::verify_download_query(raw_query, repository, digest,
                                                                 download_key_, clock_));
  BERTH_ASSIGN_OR_RETURN(auto key, lookup_key(grant.access_key_id));
  if (!key || key->record.account_id != grant.account_id) {
    return error(Code::kPermissionDenied, "the download URL's access key is disabled or deleted");
  }
  return principal_of(*key);
}

Result<IssuedToken> IdentityService::issue_token(const auth::Principal& principal) {
  auth::TokenClaims claims;
  claims.account_id = principal.account_id;
  claims.access_key_id = principal.access_key_id;
  claims.user_name = principal.user_name;
  claims.issued_at = clock_.now_seconds();
  // A key enabled again within the second it was disabled in: date the token
  // at its not-before time (under a second ahead, well inside the verifier's
  // skew), so that what is issued after the enable works.
  BERTH_ASSIGN_OR_RETURN(auto key, lookup_key(principal.access_key_id));
  if (key) claims.issued_at = std::max(claims.issued_at, key->record.tokens_not_before);
  claims.expires_at = claims.issued_at + options_.token_ttl_seconds;
  return IssuedToken{auth::issue_registry_token(claims, token_key_), claims.expires_at};
}

}  // namespace berth::identity

namespace berth::identity {

std::array<uint8_t, 32> IdentityService::derive_key(std::string_view purpose) const {
  return hmac_sha256(token_key_.data(), token_key_.size(), purpose);
}

}  // namespace berth::identity
