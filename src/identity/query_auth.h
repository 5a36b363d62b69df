// Who calls the AWS Query protocol APIs (IAM, STS): verifies SigV4 requests
// scoped to service "iam" or "sts", in berth's region or us-east-1 (AWS
// signs calls to its global IAM and STS endpoints for us-east-1), and turns
// the signing key into a Principal. The body (the form) carries the action,
// so Content-Type must be signed.
//
// IAM calls are few (an operator, a pipeline's setup), so every call reads
// its key from the store: a key disabled or deleted is refused at once, on
// every node, with no cache to drop. Thread-safe; blocking (store calls).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "auth/principal.h"
#include "auth/secret_box.h"
#include "auth/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "meta/identity_store.h"

namespace berth::identity {

// The credential scope a request claims (Authorization header, or the
// X-Amz-Credential query parameter), whether or not it verifies: which
// service and region its client signed for, to route it to that API.
// nullopt without a five-part credential.
std::optional<auth::CredentialScope> claimed_scope(const auth::SigV4Request& request);

class QueryAuthenticator {
 public:
  // The region AWS signs global IAM and STS calls for.
  static constexpr std::string_view kGlobalRegion = "us-east-1";

  // `store` and `clock` are borrowed and must outlive this object; `master`
  // is the key that seals access-key secrets (auth/secret_box.h).
  QueryAuthenticator(IdentityStore& store, const auth::SecretBoxKey& master, const Clock& clock,
                     std::string region)
      : store_(store), master_(master), clock_(clock), region_(std::move(region)) {}

  // Verifies `request` (its payload_sha256 set) as signed for `service`.
  // Errors as auth::verify_request; kUnknownAccessKey for an unknown or
  // disabled key.
  Result<auth::Principal> authenticate(const auth::SigV4Request& request, std::string_view service);
  // What can be checked before the body is read (payload_sha256 ignored):
  // the credentials well formed, scope and time, the key known and enabled.
  Status precheck(const auth::SigV4Request& request, std::string_view service);

 private:
  auth::VerifierOptions options_for(const auth::SigV4Request& request,
                                    std::string_view service) const;
  // The active key and its user; nullopt when unknown or disabled.
  Result<std::optional<std::pair<AccessKeyRecord, UserRecord>>> active_key(std::string_view id);

  IdentityStore& store_;
  const auth::SecretBoxKey master_;
  const Clock& clock_;
  const std::string region_;
};

}  // namespace berth::identity
