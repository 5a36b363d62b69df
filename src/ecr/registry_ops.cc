// Registry-level operations: authorization tokens and the registry description.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "auth/registry_token.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

EcrResult EcrApi::get_authorization_token(Call& c) {
  ECR_ASSIGN(auto ids, opt_array(c.input, "registryIds", 1, 10));
  std::vector<std::string> registries;
  if (ids) {
    for (const auto& v : **ids) {
      if (!v.is_string()) return serialization_error("registryIds", "a list of strings");
      json::object one{{"registryId", v}};
      ECR_ASSIGN(auto id, registry_id(one, ""));
      if (id != c.principal.account_id) {
        return invalid_parameter(
            fmt::format("Invalid parameter: registry {} is not accessible to the caller", id));
      }
      registries.push_back(id);
    }
  } else {
    registries.push_back(c.principal.account_id);
  }
  auto token = identity_.issue_token(c.principal);
  if (!token) return from_status(token.status());
  json::array data;
  for (size_t i = 0; i < registries.size(); ++i) {
    data.push_back(
        json::object{{"authorizationToken", auth::ecr_authorization_token(token->password)},
                     {"expiresAt", timestamp(token->expires_at)},
                     {"proxyEndpoint", options_.public_url}});
  }
  return json::object{{"authorizationData", std::move(data)}};
}

EcrResult EcrApi::describe_registry(Call& c) {
  return json::object{{"registryId", c.account},
                      {"replicationConfiguration", json::object{{"rules", json::array{}}}}};
}

}  // namespace berth::ecr
