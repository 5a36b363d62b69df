#include "oci/routes.h"

#include <algorithm>

namespace berth::oci {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Splits "a/b/c" into ("a/b", "c").
std::pair<std::string_view, std::string_view> split_last(std::string_view s) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), s};
  return {s.substr(0, slash), s.substr(slash + 1)};
}

}  // namespace

Target parse_v2_path(std::string_view path) {
  Target t;
  if (path == "/v2" || path == "/v2/") {
    t.route = Route::kBase;
    return t;
  }
  if (path.substr(0, 4) != "/v2/") return t;
  std::string_view rest = path.substr(4);
  if (rest == "_catalog") {
    t.route = Route::kCatalog;
    return t;
  }
  if (ends_with(rest, "/tags/list")) {
    t.route = Route::kTags;
    t.name = std::string(rest.substr(0, rest.size() - 10));
  } else if (ends_with(rest, "/blobs/uploads/") || ends_with(rest, "/blobs/uploads")) {
    t.route = Route::kUploadStart;
    t.name = std::string(rest.substr(0, rest.size() - (rest.back() == '/' ? 15 : 14)));
  } else {
    auto [head, last] = split_last(rest);
    auto [name, kind] = split_last(head);
    if (last.empty() || name.empty()) return t;
    if (kind == "manifests") {
      t.route = Route::kManifest;
    } else if (kind == "referrers") {
      t.route = Route::kReferrers;
    } else if (kind == "uploads" && ends_with(name, "/blobs")) {
      t.route = Route::kUpload;
      name = name.substr(0, name.size() - 6);
    } else if (kind == "blobs") {
      t.route = Route::kBlob;
    } else {
      return t;
    }
    t.name = std::string(name);
    t.reference = std::string(last);
  }
  if (t.name.empty()) t.route = Route::kUnknown;
  return t;
}

std::string_view required_action(Route route, std::string_view method) {
  const bool read = method == "GET" || method == "HEAD";
  switch (route) {
    case Route::kBase:
    case Route::kUnknown:
      return {};
    case Route::kCatalog:
      return read ? "ecr:DescribeRepositories" : "";
    case Route::kTags:
      return read ? "ecr:ListImages" : "";
    case Route::kReferrers:
      return read ? "ecr:BatchGetImage" : "";
    case Route::kManifest:
      if (read) return "ecr:BatchGetImage";
      if (method == "PUT") return "ecr:PutImage";
      if (method == "DELETE") return "ecr:BatchDeleteImage";
      return {};
    case Route::kBlob:
      if (method == "GET") return "ecr:GetDownloadUrlForLayer";
      if (method == "HEAD") return "ecr:BatchCheckLayerAvailability";
      if (method == "DELETE") return "ecr:BatchDeleteImage";
      return {};
    case Route::kUploadStart:
      return method == "POST" ? "ecr:InitiateLayerUpload" : "";
    case Route::kUpload:
      if (method == "PUT") return "ecr:CompleteLayerUpload";
      if (method == "PATCH" || method == "GET" || method == "DELETE") return "ecr:UploadLayerPart";
      return {};
  }
  return {};
}

std::optional<std::string> account_of_host(std::string_view host) {
  if (host.size() > 13 && host[12] == '.' &&
      std::all_of(host.begin(), host.begin() + 12, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::string(host.substr(0, 12));
  }
  return std::nullopt;
}

}  // namespace berth::oci
