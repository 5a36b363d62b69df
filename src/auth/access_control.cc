#include "auth/access_control.h"

#include <fmt/format.h>

namespace berth::auth {

Status AccessControl::check(const Principal& principal, const AccessRequest& request) const {
  if (!require_authentication_) return Status::ok();
  if (!principal.authenticated) return error(Code::kUnauthenticated, "authentication required");
  if (principal.account_id != request.account_id) {
    return error(Code::kPermissionDenied,
                 fmt::format("not authorized to perform {} on a resource of another account",
                             request.action));
  }
  if (principal.admin) return Status::ok();
  return error(Code::kPermissionDenied,
               fmt::format("user {} is not authorized to perform {}", principal.user_name, request.action));
}

}  // namespace berth::auth
