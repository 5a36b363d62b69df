// The ECR management API (AWS JSON 1.1 over POST, selected by X-Amz-Target).
// One operation table maps each operation name to one member function with
// one signature; one file per area implements them (repositories, images,
// layers, registry). Every request is SigV4-verified, then authorized through
// the shared AccessControl as "ecr:<Operation>".
#pragma once

#include <boost/json/object.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/access_control.h"
#include "ecr/ecr_error.h"
#include "identity/identity_service.h"
#include "registry/registry.h"
#include "server/exchange.h"
#include "server/offload.h"

namespace berth {
class ImageScanning;
}  // namespace berth

namespace berth::ecr {

struct EcrOptions {
  std::string region = "us-east-1";
  std::string public_url;     // base URL of /v2 (for proxyEndpoint, download URLs)
  std::string registry_host;  // host[:port] used in repository URIs
  // Request body limits, checked against Content-Length before the body is
  // read. ECR's own limits are far smaller than a layer: a part is at most
  // 20 MiB (28 MiB as base64 in JSON), a manifest at most 4 MiB (escaped
  // inside PutImage's JSON), and every other call carries a few KiB.
  size_t max_body_bytes = 1024 * 1024;
  size_t max_put_image_body_bytes = 9 * 1024 * 1024;
  size_t max_layer_part_body_bytes = 28 * 1024 * 1024;
  // Image scanning (registry/scanning.h: ScanningService), not owned; outlives the API. Null:
  // the scanning operations answer that scanning is not available.
  ImageScanning* scanning = nullptr;
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
  // Every operation runs on `offload`'s workers (see handle()).
  EcrApi(Registry& registry, identity::IdentityService& identity, const auth::AccessControl& access,
         server::Offloader& offload, EcrOptions options);

  // True when the request is an ECR call (POST with an ECR X-Amz-Target).
  static bool is_ecr_request(const server::Exchange& ex);
  server::net::awaitable<void> handle(server::Exchange& ex);
  // True when `operation` (without the X-Amz-Target prefix) is in the
  // operation table: a bounded name, safe as a metrics label.
  bool has_operation(std::string_view operation) const { return operations_.count(operation) != 0; }

 private:
  using Operation = EcrResult (EcrApi::*)(Call&);

  // What the request head alone shows is refused (no ECR operation named,
  // credentials malformed, expired or of an unknown or disabled key, a body
  // over the operation's limit), answered before any body byte is read.
  std::optional<server::Response> refuse_early(server::Exchange& ex, const std::string& request_id);
  // The largest body `operation` accepts.
  size_t body_limit(std::string_view operation) const;
  // Authenticates, authorizes and runs one call; never suspends. Blocking
  // (identity and registry store calls), so handle() runs it through offload_.
  server::Response dispatch(server::Exchange& ex, const Result<std::string>& body,
                            const std::string& request_id);

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
  // policy_ops.cc
  EcrResult set_repository_policy(Call& c);
  EcrResult get_repository_policy(Call& c);
  EcrResult delete_repository_policy(Call& c);
  EcrResult put_registry_policy(Call& c);
  EcrResult get_registry_policy(Call& c);
  EcrResult delete_registry_policy(Call& c);
  // registry_ops.cc
  EcrResult get_authorization_token(Call& c);
  EcrResult describe_registry(Call& c);
  // scan_ops.cc
  EcrResult start_image_scan(Call& c);
  EcrResult describe_image_scan_findings(Call& c);
  EcrResult put_registry_scanning_configuration(Call& c);
  EcrResult get_registry_scanning_configuration(Call& c);
  EcrResult batch_get_repository_scanning_configuration(Call& c);
  // DescribeImages' scan status and findings summary of each of `digests` (a
  // page) in `repo`, by digest, from one store query; an image never scanned
  // has none, nor has any when scanning is off (or the store failed: the
  // listing still answers).
  std::map<Digest, boost::json::object> scan_summaries_json(const RepositoryRecord& repo,
                                                            const std::vector<Digest>& digests);

  // Shared helpers (ecr_api.cc).
  Result<RepositoryRecord> repository(const Call& c, std::string_view name);
  EcrError repository_not_found(const Call& c, std::string_view name) const;
  // Why a repository lookup failed, as ECR says it: RepositoryNotFoundException
  // when it does not exist (kNameUnknown), the status's own error otherwise
  // (a store outage is a 503, not a missing repository).
  EcrError repository_error(const Call& c, std::string_view name, const Status& why) const;
  boost::json::object repository_json(const RepositoryRecord& repo) const;
  std::string repository_arn(const std::string& account, std::string_view name) const;
  // Opaque, MAC'd pagination tokens bound to one operation and scope.
  std::string make_next_token(std::string_view operation, std::string_view scope,
                              std::string_view after) const;
  Result<std::string> read_next_token(std::string_view operation, std::string_view scope,
                                      std::string_view token) const;

  Registry& registry_;
  identity::IdentityService& identity_;
  server::Offloader& offload_;
  const auth::AccessControl& access_;
  EcrOptions options_;
  std::unordered_map<std::string_view, Operation> operations_;
  std::array<uint8_t, 32> page_key_{};
};

}  // namespace berth::ecr
