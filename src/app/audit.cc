#include "app/audit.h"

#include <fmt/format.h>
#include <boost/json/array.hpp>

#include <array>
#include <chrono>
#include <ctime>

#include "oci/routes.h"

namespace berth::app {
namespace json = boost::json;
namespace http = server::http;

namespace {

std::string field(const server::Exchange& ex, std::string_view key) {
  for (const auto& [k, v] : ex.log_fields()) {
    if (k == key) return v;
  }
  return {};
}

json::array split_list(const std::string& text) {
  json::array out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// ECR's answers to a caller it did not authenticate or did not authorize.
bool ecr_denial(std::string_view code) {
  static constexpr std::array<std::string_view, 6> kDenied = {"MissingAuthenticationTokenException",
                                                              "IncompleteSignatureException",
                                                              "InvalidSignatureException",
                                                              "UnrecognizedClientException",
                                                              "ExpiredTokenException",
                                                              "AccessDeniedException"};
  for (auto d : kDenied) {
    if (code == d) return true;
  }
  return false;
}

// IAM's and STS's answers to a caller they did not authenticate or authorize.
bool iam_denial(std::string_view code) {
  static constexpr std::array<std::string_view, 6> kDenied = {
      "MissingAuthenticationToken", "IncompleteSignature",
      "SignatureDoesNotMatch",      "RequestExpired",
      "InvalidClientTokenId",       "AccessDenied"};
  for (auto d : kDenied) {
    if (code == d) return true;
  }
  return false;
}

// ECR operations that only read (and the login, audited on its own); the
// same prefixes mark IAM's and STS's reads.
bool ecr_read_only(std::string_view op) {
  for (std::string_view prefix : {"Describe", "List", "BatchGet", "BatchCheck", "Get"}) {
    if (op.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::string_view oci_operation(oci::Route route, http::verb m) {
  using oci::Route;
  switch (route) {
    case Route::kManifest:
      if (m == http::verb::put) return "PutManifest";
      if (m == http::verb::delete_) return "DeleteManifest";
      return "GetManifest";
    case Route::kBlob:
      return m == http::verb::delete_ ? "DeleteBlob" : "GetBlob";
    case Route::kUploadStart:
      return "StartUpload";
    case Route::kUpload:
      if (m == http::verb::patch) return "PatchUpload";
      if (m == http::verb::put) return "FinishUpload";
      if (m == http::verb::delete_) return "CancelUpload";
      return "GetUpload";
    case Route::kTags:
      return "ListTags";
    case Route::kCatalog:
      return "Catalog";
    case Route::kReferrers:
      return "ListReferrers";
    case Route::kBase:
      return "Base";
    case Route::kUnknown:
      break;
  }
  return "Unknown";
}

// "10.0.0.7:51234" -> "10.0.0.7", "[::1]:51234" -> "::1".
std::string address_only(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') {
    auto close = remote.find(']');
    return close == std::string::npos ? remote : remote.substr(1, close - 1);
  }
  auto colon = remote.rfind(':');
  return colon == std::string::npos || remote.find(':') != colon ? remote : remote.substr(0, colon);
}

bool is_digest(std::string_view reference) {
  return reference.find(':') != std::string_view::npos;
}

}  // namespace

std::optional<json::object> audit_record(const server::Exchange& ex, AuditApi api,
                                         std::string_view time) {
  const unsigned status = ex.status();
  const std::string error_code = field(ex, "error_code");
  const auth::Principal& p = ex.principal();
  json::object r;
  r["time"] = time;
  std::string access_key = p.access_key_id;
  if (access_key.empty()) access_key = field(ex, "claimed_access_key_id");

  bool denied = false;
  bool audited = false;
  if (api == AuditApi::kOci) {
    const auto m = ex.method();
    const bool mutating = m == http::verb::put || m == http::verb::post || m == http::verb::patch ||
                          m == http::verb::delete_;
    const bool presented =
        !ex.header(http::field::authorization).empty() || !ex.auth_failure().is_ok();
    denied = status == 403 || (status == 401 && (presented || mutating));
    audited = mutating || denied;
    if (!audited) return std::nullopt;
    oci::Target t = oci::parse_v2_path(ex.path());
    r["api"] = "oci";
    r["operation"] = oci_operation(t.route, m);
    r["route"] = fmt::format("{} {}", std::string(ex.request().method_string()), ex.path());
    if (!t.name.empty()) r["repository"] = t.name;
    json::array digests;
    json::array tags;
    if (std::string d = field(ex, "image_digest"); !d.empty()) digests.emplace_back(d);
    if (t.route == oci::Route::kManifest && !t.reference.empty()) {
      if (is_digest(t.reference)) {
        if (digests.empty()) digests.emplace_back(t.reference);
      } else {
        tags.emplace_back(t.reference);
      }
    }
    if (!digests.empty()) r["image_digests"] = std::move(digests);
    if (!tags.empty()) r["image_tags"] = std::move(tags);
  } else if (api == AuditApi::kIam) {
    const std::string op = field(ex, "operation");
    denied = iam_denial(error_code) || status == 401 || status == 403;
    audited = denied || !ecr_read_only(op);
    if (!audited) return std::nullopt;
    const std::string service = field(ex, "service");
    r["api"] = service.empty() ? "iam" : service;
    if (!op.empty()) r["operation"] = op;
    // The IAM user the call names (CreateUser, PutUserPolicy, ...), not the caller.
    if (std::string user = field(ex, "iam_user"); !user.empty()) r["iam_user"] = user;
  } else {
    const std::string op = field(ex, "operation");
    denied = ecr_denial(error_code) || status == 401 || status == 403;
    const bool login = op == "GetAuthorizationToken";
    audited = denied || login || !ecr_read_only(op);
    if (!audited || op.empty()) return std::nullopt;
    r["api"] = "ecr";
    r["operation"] = op;
    if (std::string repo = field(ex, "repository"); !repo.empty()) r["repository"] = repo;
    if (std::string d = field(ex, "image_digests"); !d.empty()) r["image_digests"] = split_list(d);
    if (std::string t = field(ex, "image_tags"); !t.empty()) r["image_tags"] = split_list(t);
  }
  if (p.authenticated) {
    r["account"] = p.account_id;
    r["principal_arn"] = fmt::format("arn:aws:iam::{}:user/{}", p.account_id, p.user_name);
    r["user"] = p.user_name;
  }
  if (!access_key.empty()) r["access_key_id"] = access_key;
  r["source"] = address_only(ex.remote_address());
  const bool failed = status >= 400 || !error_code.empty();
  r["result"] = denied ? "denied" : failed ? "failure" : "success";
  if (!error_code.empty()) r["error_code"] = error_code;
  r["status"] = status;
  r["request_id"] = ex.request_id();
  return r;
}

std::string audit_time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

}  // namespace berth::app
