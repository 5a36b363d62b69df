#include "auth/access_control.h"

#include <fmt/format.h>

namespace berth::auth {

namespace {
// What an admin user may do: everything, in every API (as AWS's
// AdministratorAccess). Parsed once; the text is a constant that parses.
const policy::Document& admin_policy() {
  static const policy::Document doc = [] {
    auto d = policy::parse(
        R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})",
        policy::Kind::kIdentity);
    return d ? std::move(d).value() : policy::Document{};
  }();
  return doc;
}

// An action outside ECR (IAM's) names its resource's path within the account
// in `repository` ("user/<name>"); its ARN is IAM's, which has no region, and
// it has no resource policy.
bool outside_ecr(const AccessRequest& request) {
  return !request.action.starts_with("ecr:");
}
}  // namespace

std::string source_ip_of(std::string_view remote) {
  auto colon = remote.rfind(':');
  std::string_view host = colon == std::string_view::npos ? remote : remote.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::string(host);
}

std::string AccessControl::resource_arn(const AccessRequest& request) const {
  if (outside_ecr(request)) {
    return fmt::format("arn:aws:iam::{}:{}", request.account_id, request.repository);
  }
  if (request.repository.empty()) return "*";
  return fmt::format("arn:aws:ecr:{}:{}:repository/{}", options_.region, request.account_id,
                     request.repository);
}

Status AccessControl::check(const Principal& principal, const AccessRequest& request) const {
  if (!options_.require_authentication) return Status::ok();
  if (!principal.authenticated) return error(Code::kUnauthenticated, "authentication required");
  const std::string user = policy::user_arn(principal.account_id, principal.user_name);
  const std::string resource = resource_arn(request);
  auto denied = [&](std::string_view because) {
    return error(Code::kPermissionDenied,
                 fmt::format("User: {} is not authorized to perform: {} on resource: {} {}", user,
                             request.action, resource, because));
  };
  if (source_ == nullptr) {
    if (principal.admin && principal.account_id == request.account_id) return Status::ok();
    return denied("because no identity-based policy allows the action");
  }
  BERTH_ASSIGN_OR_RETURN(RequestPolicies found, source_->policies_for(principal, request));
  return decide(principal, request, std::move(found));
}

std::optional<Status> AccessControl::check_without_blocking(const Principal& principal,
                                                            const AccessRequest& request) const {
  if (!options_.require_authentication || !principal.authenticated || source_ == nullptr) {
    return check(principal, request);  // decided without the source
  }
  std::optional<RequestPolicies> found = source_->cached_policies_for(principal, request);
  if (!found) return std::nullopt;
  return decide(principal, request, std::move(*found));
}

Status AccessControl::decide(const Principal& principal, const AccessRequest& request,
                             RequestPolicies found) const {
  const std::string user = policy::user_arn(principal.account_id, principal.user_name);
  const std::string resource = resource_arn(request);
  auto denied = [&](std::string_view because) {
    return error(Code::kPermissionDenied,
                 fmt::format("User: {} is not authorized to perform: {} on resource: {} {}", user,
                             request.action, resource, because));
  };
  policy::PolicySet set;
  if (principal.admin) set.identity.push_back(&admin_policy());
  for (const auto& d : found.identity) set.identity.push_back(d.get());
  set.resource = found.resource.get();

  policy::RequestContext ctx;
  ctx.action = std::string(request.action);
  ctx.resource = resource;
  ctx.resource_account = std::string(request.account_id);
  ctx.principal_arn = user;
  ctx.principal_account = principal.account_id;
  ctx.user_name = principal.user_name;
  ctx.source_ip = std::string(request.source_ip);
  ctx.secure_transport = options_.secure_transport;
  ctx.now_epoch_seconds = clock_->now_seconds();
  ctx.resource_tags = std::move(found.resource_tags);
  if (request.request_tags != nullptr) ctx.request_tags = *request.request_tags;
  if (request.tag_keys != nullptr) ctx.tag_keys = *request.tag_keys;

  switch (policy::evaluate(set, ctx)) {
    case policy::Decision::kAllow:
      return Status::ok();
    case policy::Decision::kExplicitDeny:
      return denied("with an explicit deny in a policy");
    case policy::Decision::kImplicitDeny:
      break;
  }
  if (principal.account_id != request.account_id) {
    return denied(
        "because no resource-based policy of the resource's account and identity-based policy "
        "together allow the action");
  }
  return denied(
      fmt::format("because no identity-based policy allows the {} action", request.action));
}

}  // namespace berth::auth
