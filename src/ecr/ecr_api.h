// The ECR management API (AWS JSON 1.1 over POST, selected by X-Amz-Target).
// One operation table maps each operation name to one member function with
// one signature; one file per area implements them (repositories, images,
// layers, registry). Every request is SigV4-verified, then authorized through
// the shared AccessControl as "ecr:<Operation>".
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/access_control.h"
#include "ecr/ecr_error.h"
#include "identity/identity_service.h"
#include "registry/registry.h"
#include "server/exchange.h"

namespace berth::ecr {

struct EcrOptions {
  std::string region = "us-east-1";
  std::string public_url;     // base URL of /v2 (for proxyEndpoint, download URLs)
  std::string registry_host;  // host[:port] used in repository URIs
  size_t max_body_bytes = 32 * 1024 * 1024;  // UploadLayerPart carries up to 20 MiB as base64
};

// How long a GetDownloadUrlForLayer URL works.
inline constexpr int64_t kDownloadUrlTtlSeconds = 15 * 60;

// One call as an operation sees it.
struct Call {
  std::string_view operation;
  const auth::Principal& principal;
  const boost::json::object& input;
  std::string account;  // the registry (account) the call addresses
};

class EcrApi {
 public:
  EcrApi(Registry& registry, identity::IdentityService& identity, const auth::AccessControl& access,
         EcrOptions options);

  // True when the request is an ECR call (POST with an ECR X-Amz-Target).
  static bool is_ecr_request(const server::Exchange& ex);
  server::net::awaitable<void> handle(server::Exchange& ex);

 private:
  using Operation = EcrResult (EcrApi::*)(Call&);

  // Authenticates, authorizes and runs one call; never suspends.
  server::Response dispatch(server::Exchange& ex, const Result<std::string>& body);

  // repositories.cc
  EcrResult create_repository(Call& c);
  EcrResult describe_repositories(Call& c);
  EcrResult delete_repository(Call& c);
  EcrResult put_image_tag_mutability(Call& c);
  EcrResult put_image_scanning_configuration(Call& c);
  EcrResult tag_resource(Call& c);
  EcrResult untag_resource(Call& c);
  EcrResult list_tags_for_resource(Call& c);
  // images.cc
  EcrResult list_images(Call& c);
  EcrResult describe_images(Call& c);
  EcrResult batch_get_image(Call& c);
  EcrResult batch_delete_image(Call& c);
  EcrResult put_image(Call& c);
  // layers.cc
  EcrResult batch_check_layer_availability(Call& c);
  EcrResult initiate_layer_upload(Call& c);
  EcrResult upload_layer_part(Call& c);
  EcrResult complete_layer_upload(Call& c);
  EcrResult get_download_url_for_layer(Call& c);
  // lifecycle_ops.cc
  EcrResult put_lifecycle_policy(Call& c);
  EcrResult get_lifecycle_policy(Call& c);
  EcrResult delete_lifecycle_policy(Call& c);
  EcrResult start_lifecycle_policy_preview(Call& c);
  EcrResult get_lifecycle_policy_preview(Call& c);
  // registry_ops.cc
  EcrResult get_authorization_token(Call& c);
  EcrResult describe_registry(Call& c);

  // Shared helpers (ecr_api.cc).
  Result<RepositoryRecord> repository(const Call& c, std::string_view name);
  EcrError repository_not_found(const Call& c, std::string_view name) const;
  boost::json::object repository_json(const RepositoryRecord& repo) const;
  std::string repository_arn(const std::string& account, std::string_view name) const;
  // Opaque, MAC'd pagination tokens bound to one operation and scope.
  std::string make_next_token(std::string_view operation, std::string_view scope, std::string_view after) const;
  Result<std::string> read_next_token(std::string_view operation, std::string_view scope,
                                      std::string_view token) const;

  Registry& registry_;
  identity::IdentityService& identity_;
  const auth::AccessControl& access_;
  EcrOptions options_;
  std::unordered_map<std::string_view, Operation> operations_;
  std::array<uint8_t, 32> page_key_{};
};

}  // namespace berth::ecr
