// Which /v2 resource a request path names. Pure; repository names may contain
// slashes, so the path is read from its end.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::oci {

enum class Route {
  kBase,         // /v2/
  kCatalog,      // /v2/_catalog
  kTags,         // /v2/<name>/tags/list
  kManifest,     // /v2/<name>/manifests/<reference>
  kBlob,         // /v2/<name>/blobs/<digest>
  kUploadStart,  // /v2/<name>/blobs/uploads/
  kUpload,       // /v2/<name>/blobs/uploads/<id>
  kReferrers,    // /v2/<name>/referrers/<digest>
  kUnknown,
};

struct Target {
  Route route = Route::kUnknown;
  std::string name;       // repository name (not yet validated)
  std::string reference;  // tag, digest or upload id, per route
};

// `path` is the decoded request path, starting with "/v2".
Target parse_v2_path(std::string_view path);

// The account a registry host name addresses, as ECR's
// <account>.dkr.ecr.<region>.<domain>: twelve digits and a dot first.
// nullopt for any other host (the caller's own account is meant).
std::optional<std::string> account_of_host(std::string_view host);

// The permission map: the ECR action a /v2 request needs (ECR-API.md §7.2),
// e.g. a blob GET needs "ecr:GetDownloadUrlForLayer". `method` is the HTTP
// method in upper case. Empty for requests that need only a valid token
// (GET /v2/) or that no route serves.
std::string_view required_action(Route route, std::string_view method);

}  // namespace berth::oci
