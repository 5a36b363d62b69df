// The one decision function for every API: may `principal` perform the ECR
// `action` (e.g. "ecr:BatchGetImage") on a repository of `account`, or an IAM
// action (e.g. "iam:CreateUser") on a user or group of it? The caller's
// identity policies and the resource's policy (a repository's, or the
// account's registry policy for registry-level actions; IAM resources have
// none) decide, with AWS's evaluation logic (core/policy.h). An admin user
// holds, besides its own, a policy allowing every action ("*" on "*").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/status.h"

namespace berth::auth {

// The address part of a "host:port" remote endpoint ("[::1]:5000" -> "::1").
std::string source_ip_of(std::string_view remote);

// The repository of a request about every repository of an account (a
// listing): its resource is arn:aws:ecr:<region>:<account>:repository/*, as
// AWS judges DescribeRepositories without names, so a Deny on repository/*
// covers listings too while a Deny on repository/prod/* does not.
inline constexpr std::string_view kAllRepositories = "*";

struct AccessRequest {
  std::string_view action;      // "ecr:<Operation>"
  std::string_view account_id;  // the account owning the resource
  // Empty for registry-wide actions; kAllRepositories for a listing. For an
  // action outside ECR (iam:...), the resource's path in the account:
  // "user/<name>" or "group/<name>".
  std::string_view repository;
  std::string_view source_ip;  // the client's address, empty when unknown
  // What the request sets and names (aws:RequestTag/<k>, aws:TagKeys); null
  // when it carries no tags.
  const std::vector<std::pair<std::string, std::string>>* request_tags = nullptr;
  const std::vector<std::string>* tag_keys = nullptr;
};

// The policies bearing on one request, parsed.
struct RequestPolicies {
  std::vector<std::shared_ptr<const policy::Document>> identity;   // the caller's own
  std::shared_ptr<const policy::Document> resource;                // null when none
  std::vector<std::pair<std::string, std::string>> resource_tags;  // only when a policy reads them
};

// Where AccessControl finds policies: implemented over the stores
// (identity/policy_source.h). Implementations are thread-safe and may block
// (store calls), so check() may block too.
class PolicySource {
 public:
  virtual ~PolicySource() = default;
  // The caller's identity policies and the resource's policy. A resource
  // that does not exist has no policy (not an error). kInternal/kUnavailable
  // on store trouble.
  virtual Result<RequestPolicies> policies_for(const Principal& principal,
                                               const AccessRequest& request) = 0;
  // What policies_for would answer, when the source can tell without blocking
  // (no store call): a cached answer that is still current. nullopt: ask
  // policies_for.
  virtual std::optional<RequestPolicies> cached_policies_for(const Principal& principal,
                                                             const AccessRequest& request) {
    (void)principal;
    (void)request;
    return std::nullopt;
  }
};

struct AccessControlOptions {
  bool require_authentication = true;
  std::string region = "us-east-1";  // for resource ARNs
  bool secure_transport = false;     // every request arrives over TLS (aws:SecureTransport)
};

class AccessControl {
 public:
  // With `require_authentication` false every request is allowed (an operator
  // opened the registry explicitly). Without a policy source only admins are
  // allowed, within their own account.
  explicit AccessControl(bool require_authentication) {
    options_.require_authentication = require_authentication;
  }
  // `source` and `clock` are borrowed and must outlive this object.
  AccessControl(AccessControlOptions options, PolicySource* source, const Clock& clock)
      : options_(std::move(options)), source_(source), clock_(&clock) {}

  // ok, kUnauthenticated (no principal) or kPermissionDenied with AWS's
  // message ("User: <arn> is not authorized to perform: <action> on
  // resource: <arn> because ..."); kInternal/kUnavailable when the policies
  // cannot be read. Thread-safe; blocking (store calls): call it off the
  // event loop.
  Status check(const Principal& principal, const AccessRequest& request) const;
  // check()'s decision when it can be made without blocking (the policy
  // source answers from its cache, or no source is needed); nullopt: call
  // check() where blocking is allowed. Never differs from check().
  std::optional<Status> check_without_blocking(const Principal& principal,
                                               const AccessRequest& request) const;

  // The ARN a request's resource has in policies: the repository's ARN, or
  // "*" for a registry-level action.
  std::string resource_arn(const AccessRequest& request) const;

  bool require_authentication() const { return options_.require_authentication; }

 private:
  // The decision once the policies are known.
  Status decide(const Principal& principal, const AccessRequest& request,
                RequestPolicies found) const;

  AccessControlOptions options_;
  PolicySource* source_ = nullptr;
  const Clock* clock_ = nullptr;
};

}  // namespace berth::auth
