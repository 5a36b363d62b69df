// The one decision function for both APIs: may `principal` perform the ECR
// `action` (e.g. "ecr:BatchGetImage") on a repository of `account`?
// Identity and repository policies plug in here.
#pragma once

#include <string>
#include <string_view>

#include "auth/principal.h"
#include "core/status.h"

namespace berth::auth {

struct AccessRequest {
  std::string_view action;      // "ecr:<Operation>"
  std::string_view account_id;  // the account owning the resource
  std::string_view repository;  // empty for registry-wide actions
};

class AccessControl {
 public:
  // With `require_authentication` false every request is allowed (an operator
  // opened the registry explicitly).
  explicit AccessControl(bool require_authentication) : require_authentication_(require_authentication) {}

  // ok, kUnauthenticated (no principal) or kPermissionDenied. Thread-safe.
  Status check(const Principal& principal, const AccessRequest& request) const;

  bool require_authentication() const { return require_authentication_; }

 private:
  bool require_authentication_;
};

}  // namespace berth::auth
