// Who is asking: turns SigV4-signed ECR requests and registry Basic
// credentials into a Principal, mints registry tokens, and manages accounts,
// users and access keys for the admin commands.
//
// Hot path: a registry token is verified by its MAC alone, then its access key
// is looked up in an in-memory cache. A verified Authorization header is
// remembered with its claims until the token expires, so a client's next
// request skips the base64 and the MAC; its key is still looked up each time. The cache is dropped
// whenever the store's identity generation changes, which is checked at most once per
// `recheck_interval`, so a disabled or deleted key stops working on every node
// within that interval (and at once on the node that changed it).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/download_url.h"
#include "auth/principal.h"
#include "auth/registry_token.h"
#include "auth/secret_box.h"
#include "auth/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "meta/identity_store.h"

namespace berth::identity {

struct IdentityOptions {
  std::string region = "us-east-1";
  std::string default_account = "000000000000";
  int64_t token_ttl_seconds = auth::kRegistryTokenLifetimeSeconds;
  int64_t recheck_interval_ms = 1000;
};

struct NewAccessKey {
  std::string access_key_id;
  std::string secret_access_key;  // shown once, never stored in the clear
};

struct IssuedToken {
  std::string password;  // the registry password (docker login -u AWS)
  int64_t expires_at = 0;
};

struct BootstrapResult {
  bool created = false;                   // false: the registry already had accounts
  std::optional<NewAccessKey> admin_key;  // set when created
};

class IdentityService {
 public:
  // Loads (or creates and stores, sealed) the registry token key.
  static Result<std::unique_ptr<IdentityService>> open(IdentityStore& store,
                                                       const auth::SecretBoxKey& master_key,
                                                       const Clock& clock, IdentityOptions options);

  // On a registry without accounts: creates the default account, user
  // "admin" with admin rights, and an access key (the given one, or a new
  // random one). Does nothing when any account exists.
  Result<BootstrapResult> bootstrap(const std::optional<NewAccessKey>& admin_key);

  // --- authentication -------------------------------------------------------
  // Verifies a SigV4-signed request. Errors as auth::verify_request, plus
  // kUnknownAccessKey for a disabled key.
  Result<auth::Principal> authenticate_sigv4(const auth::SigV4Request& request);
  // What authenticate_sigv4 can check before the body is read (the request's
  // payload_sha256 is ignored): the credentials well formed, scope and time,
  // and the access key known and enabled. Errors as authenticate_sigv4; ok
  // means only that the request is worth reading, not that it is authentic.
  Status precheck_sigv4(const auth::SigV4Request& request);
  // Verifies "Authorization: Basic base64(AWS:<token>)". kTokenInvalid for a
  // bad token, kTokenExpired for an expired or revoked one (its access key
  // disabled or deleted); kMissingAuthentication when absent. The messages
  // say why and never contain the token.
  Result<auth::Principal> authenticate_registry(std::string_view authorization_header);
  Result<IssuedToken> issue_token(const auth::Principal& principal);

  // The query string of a URL that fetches blob `digest` of `repository`
  // without credentials for `ttl_seconds`, carrying `principal`'s right to
  // read it (ECR GetDownloadUrlForLayer).
  std::string presign_download(const auth::Principal& principal, std::string_view repository,
                               std::string_view digest, int64_t ttl_seconds);
  // Verifies such a query for the blob a request names and returns the
  // principal it carries (whose access must still be checked as for any
  // read). kPermissionDenied when altered, for another blob, expired, or its
  // access key is disabled or deleted.
  Result<auth::Principal> authenticate_download(std::string_view raw_query,
                                                std::string_view repository,
                                                std::string_view digest);
  // A key for another MAC (e.g. pagination tokens), derived from the registry
  // secret so that every node derives the same one.
  std::array<uint8_t, 32> derive_key(std::string_view purpose) const;

  // --- administration ---------------------------------------------------------
  Status create_account(const std::string& id, const std::string& name);
  Status create_user(const std::string& account_id, const std::string& name, bool admin);
  Result<NewAccessKey> create_access_key(const std::string& account_id,
                                         const std::string& user_name,
                                         const std::optional<NewAccessKey>& given = std::nullopt);
  // Disabling a key revokes every registry token it issued so far, for good:
  // they stay refused after the key is enabled again (tokens issued in the
  // same second as the disable included); new tokens work once it is enabled.
  Status set_access_key_active(const std::string& id, bool active);
  Status delete_access_key(const std::string& id);

  // --- IAM users, groups and tags (identity_groups.cc) -------------------------
  // Thin wrappers over the IdentityStore methods of the same names (failures
  // as documented there), which first check names as IAM does: user names
  // 1-64 and group names 1-128 characters of [A-Za-z0-9+=,.@_-], else
  // kInvalidArgument. Each change drops this node's caches at once (other
  // nodes follow the identity generation).
  Status delete_user(const std::string& account_id, const std::string& name, bool cascade);
  Status create_group(const std::string& account_id, const std::string& name);
  Result<GroupRecord> get_group(const std::string& account_id, const std::string& name);
  Result<std::vector<GroupRecord>> list_groups(const std::string& account_id);
  Status delete_group(const std::string& account_id, const std::string& name);
  Status add_user_to_group(const std::string& account_id, const std::string& group,
                           const std::string& user);
  Status remove_user_from_group(const std::string& account_id, const std::string& group,
                                const std::string& user);
  Result<std::vector<std::string>> list_group_members(const std::string& account_id,
                                                      const std::string& group);
  Result<std::vector<std::string>> list_groups_for_user(const std::string& account_id,
                                                        const std::string& user);
  // Tag keys are 1-128 characters and values at most 256 (IAM's limits), at
  // most 50 in one call; else kInvalidArgument.
  Status tag_user(const std::string& account_id, const std::string& user,
                  const std::vector<std::pair<std::string, std::string>>& tags);
  Status untag_user(const std::string& account_id, const std::string& user,
                    const std::vector<std::string>& keys);
  Result<std::vector<std::pair<std::string, std::string>>> list_user_tags(
      const std::string& account_id, const std::string& user);

  IdentityStore& store() { return store_; }

 private:
  struct CachedKey {
    AccessKeyRecord record;
    std::string secret;
    bool admin = false;
  };
  IdentityService(IdentityStore& store, const auth::SecretBoxKey& master, const Clock& clock,
                  IdentityOptions options)
      : store_(store), master_(master), clock_(clock), options_(std::move(options)) {}

  // The key, if it exists and is active.
  Result<std::optional<CachedKey>> lookup_key(std::string_view access_key_id);
  // The claims of a valid, unexpired "Basic base64(AWS:<token>)" header.
  Result<auth::TokenClaims> verify_registry_header(std::string_view authorization_header);
  void recheck_generation();
  void invalidate();
  static auth::Principal principal_of(const CachedKey& key);

  IdentityStore& store_;
  auth::SecretBoxKey master_;
  const Clock& clock_;
  IdentityOptions options_;
  auth::TokenKey token_key_{};
  auth::DownloadUrlKey download_key_{};  // derived from token_key_ once open() has it

  std::mutex mu_;
  std::unordered_map<std::string, CachedKey> cache_;  // guarded by mu_
  int64_t generation_ = -1;                           // guarded by mu_
  int64_t last_check_ms_ = 0;                         // guarded by mu_

  // Authorization headers already verified, compared in constant time. Only
  // verified headers go in, so unauthenticated callers cannot fill it.
  struct ConstantTimeEqual {
    bool operator()(const std::string& a, const std::string& b) const;
  };
  static constexpr size_t kMaxVerifiedHeaders = 4096;
  std::unordered_map<std::string, auth::TokenClaims, std::hash<std::string>, ConstantTimeEqual>
      verified_headers_;  // guarded by mu_
};

}  // namespace berth::identity
