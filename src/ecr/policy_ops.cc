// Repository and registry policy operations: wire mapping over the
// Registry's policy functions (registry/policies.cc). The documents are
// IAM policies (core/policy.h), evaluated by auth::AccessControl.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/policy.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

constexpr size_t kMaxPolicyText = 10240;

EcrError repository_policy_not_found(std::string_view name, std::string_view account) {
  return ecr_error(
      "RepositoryPolicyNotFoundException",
      fmt::format(
          "Repository policy does not exist for the repository with name '{}' in the registry "
          "with id '{}'",
          name, account));
}

EcrError registry_policy_not_found(std::string_view account) {
  return ecr_error(
      "RegistryPolicyNotFoundException",
      fmt::format("Registry policy does not exist in the registry with id '{}'", account));
}

EcrError invalid_policy(std::string_view member, std::string_view what, const Status& s) {
  return invalid_parameter(
      fmt::format("Invalid parameter at '{}' failed to satisfy constraint: 'Invalid {} policy "
                  "provided': {}",
                  member, what, s.message()));
}

// True when `text` (already valid) would deny the caller `action` on
// `resource` outright, so that it could never change the policy again.
bool locks_out(const std::string& text, const Call& c, std::string_view action,
               const std::string& resource) {
  auto doc = policy::parse(text, policy::Kind::kResource);
  if (!doc) return false;
  policy::PolicySet set;
  set.resource = &*doc;
  policy::RequestContext r;
  r.action = std::string(action);
  r.resource = resource;
  r.resource_account = c.account;
  r.principal_account = c.principal.account_id;
  r.principal_arn = policy::user_arn(c.principal.account_id, c.principal.user_name);
  r.user_name = c.principal.user_name;
  return policy::evaluate(set, r) == policy::Decision::kExplicitDeny;
}

}  // namespace

EcrResult EcrApi::set_repository_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto text, req_string(c.input, "policyText", 0, kMaxPolicyText));
  ECR_ASSIGN(auto force, opt_bool(c.input, "force"));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  if (auto doc = policy::parse(text, policy::Kind::kResource); !doc) {
    return invalid_policy("PolicyText", "repository", doc.status());
  }
  if (!force.value_or(false) &&
      locks_out(text, c, "ecr:SetRepositoryPolicy", repository_arn(c.account, name))) {
    return invalid_parameter(
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The policy would prevent "
        "you from setting "
        "the repository policy again; pass force to set it anyway'");
  }
  if (Status s = registry_.set_repository_policy(*repo, text); !s.is_ok()) {
    if (s.code() == Code::kInvalidArgument) return invalid_policy("PolicyText", "repository", s);
    return from_status(s);
  }
  return json::object{{"registryId", c.account}, {"repositoryName", name}, {"policyText", text}};
}

EcrResult EcrApi::get_repository_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto text = registry_.repository_policy(*repo);
  if (!text) return from_status(text.status());
  if (!text->has_value()) return repository_policy_not_found(name, c.account);
  return json::object{{"registryId", c.account}, {"repositoryName", name}, {"policyText", **text}};
}

EcrResult EcrApi::delete_repository_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto removed = registry_.delete_repository_policy(*repo);
  if (!removed) return from_status(removed.status());
  if (!removed->has_value()) return repository_policy_not_found(name, c.account);
  return json::object{
      {"registryId", c.account}, {"repositoryName", name}, {"policyText", **removed}};
}

EcrResult EcrApi::put_registry_policy(Call& c) {
  ECR_ASSIGN(auto text, req_string(c.input, "policyText", 0, kMaxPolicyText));
  if (auto doc = policy::parse(text, policy::Kind::kResource); !doc) {
    return invalid_policy("PolicyText", "registry", doc.status());
  }
  if (Status s = registry_.set_registry_policy(c.account, text); !s.is_ok()) {
    if (s.code() == Code::kInvalidArgument) return invalid_policy("PolicyText", "registry", s);
    return from_status(s);
  }
  return json::object{{"registryId", c.account}, {"policyText", text}};
}

EcrResult EcrApi::get_registry_policy(Call& c) {
  auto text = registry_.registry_policy(c.account);
  if (!text) return from_status(text.status());
  if (!text->has_value()) return registry_policy_not_found(c.account);
  return json::object{{"registryId", c.account}, {"policyText", **text}};
}

EcrResult EcrApi::delete_registry_policy(Call& c) {
  auto removed = registry_.delete_registry_policy(c.account);
  if (!removed) return from_status(removed.status());
  if (!removed->has_value()) return registry_policy_not_found(c.account);
  return json::object{{"registryId", c.account}, {"policyText", **removed}};
}

}  // namespace berth::ecr
