// Dispatch, authentication and the helpers every ECR operation shares.
#include "ecr/ecr_api.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <vector>

#include "core/base64.h"
#include "core/digest.h"
#include "ecr/fields.h"
#include "log/log.h"
#include "registry/registry.h"

namespace berth::ecr {
namespace json = boost::json;
namespace http = server::http;
using server::Exchange;
using server::net::awaitable;

namespace {

constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerRegistry_V20150921.";
constexpr std::string_view kJsonContentType = "application/x-amz-json-1.1";

std::string request_uuid() {
  return new_upload_id();
}

server::Response json_response(const Exchange& ex, http::status status, std::string body,
                               const std::string& request_id) {
  server::Response res{status, ex.request().version()};
  res.set(http::field::content_type, kJsonContentType);
  res.set("x-amzn-RequestId", request_id);
  res.body() = std::move(body);
  return res;
}

// Also names the error in the request's access-log line.
server::Response error_response(Exchange& ex, const EcrError& e, const std::string& request_id) {
  ex.add_log_field("error_code", e.type);
  json::object body = e.extra;
  body["__type"] = e.type;
  body["message"] = e.message;
  auto res = json_response(ex, static_cast<http::status>(e.http_status), json::serialize(body),
                           request_id);
  res.set("x-amzn-ErrorType", e.type);
  // 503: a store is away for now (berth reconnects on the next call); say when to retry.
  if (e.http_status == 503) res.set(http::field::retry_after, "1");
  return res;
}

// The request exactly as received, for SigV4; the caller adds the payload hash.
auth::SigV4Request sigv4_request(const Exchange& ex) {
  auth::SigV4Request sreq;
  sreq.method = "POST";
  std::string_view raw_target = ex.request().target();
  auto q = raw_target.find('?');
  sreq.raw_path = std::string(raw_target.substr(0, q));
  if (q != std::string_view::npos) sreq.raw_query = std::string(raw_target.substr(q + 1));
  for (const auto& f : ex.request()) {
    sreq.headers.push_back(auth::HttpHeader{std::string(f.name_string()), std::string(f.value())});
  }
  return sreq;
}

EcrError too_large(size_t limit) {
  return EcrError{"SerializationException",
                  fmt::format("request body is larger than {} bytes", limit),
                  413,
                  {}};
}

// The repository a call is about, for the authorization check.
// The repository a call is about: its repositoryName, or the repository its
// resourceArn names (TagResource, UntagResource, ListTagsForResource), so
// that policies see that repository rather than "*". The handler validates
// the ARN (region, account) before using it.
std::string_view repository_member(const json::object& in) {
  auto it = in.find("repositoryName");
  if (it != in.end() && it->value().is_string()) return it->value().as_string();
  it = in.find("resourceArn");
  if (it != in.end() && it->value().is_string()) {
    std::string_view arn = it->value().as_string();
    constexpr std::string_view kMarker = ":repository/";
    if (arn.starts_with("arn:aws:ecr:")) {
      if (auto at = arn.find(kMarker); at != std::string_view::npos)
        return arn.substr(at + kMarker.size());
    }
  }
  return {};
}

// The repositories a call is judged on. DescribeRepositories names them in a
// list (each is checked, as AWS does), or none to list them all
// (auth::kAllRepositories); every other call names at most one
// (repository_member). A list longer than ECR's 100 names is refused by the
// handler: it is judged as a listing.
std::vector<std::string_view> repositories_of_call(std::string_view operation,
                                                   const json::object& in) {
  if (operation != "DescribeRepositories") return {repository_member(in)};
  auto it = in.find("repositoryNames");
  if (it == in.end() || !it->value().is_array() || it->value().as_array().empty() ||
      it->value().as_array().size() > 100)
    return {auth::kAllRepositories};
  std::vector<std::string_view> names;
  for (const auto& n : it->value().as_array())
    if (n.is_string()) names.push_back(n.as_string());
  if (names.empty()) names.push_back(auth::kAllRepositories);
  return names;
}

// The tags a call sets ("tags": [{"Key", "Value"}]) and the tag keys it names
// (those, and "tagKeys"), for the aws:RequestTag/<k> and aws:TagKeys
// condition keys. Malformed entries are skipped: the handler refuses them.
struct RequestTags {
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<std::string> keys;
};

RequestTags request_tags_of(const json::object& in) {
  RequestTags out;
  if (const json::value* tags = in.if_contains("tags"); tags != nullptr && tags->is_array()) {
    for (const auto& t : tags->as_array()) {
      if (!t.is_object()) continue;
      const json::value* k = t.as_object().if_contains("Key");
      const json::value* v = t.as_object().if_contains("Value");
      if (k == nullptr || !k->is_string()) continue;
      out.keys.emplace_back(k->as_string());
      out.tags.emplace_back(std::string(k->as_string()),
                            v != nullptr && v->is_string() ? std::string(v->as_string()) : "");
    }
  }
  if (const json::value* keys = in.if_contains("tagKeys"); keys != nullptr && keys->is_array()) {
    for (const auto& k : keys->as_array()) {
      if (k.is_string()) out.keys.emplace_back(k.as_string());
    }
  }
  return out;
}

// Names the repository, image digests and tags a call is about in its
// access-log line (and so in its audit record): from the request, and from
// the answer (PutImage's digest, BatchDeleteImage's deleted images).
void note_images(Exchange& ex, const json::object& in, const json::object* out) {
  std::vector<std::string> digests;
  std::vector<std::string> tags;
  auto add = [](std::vector<std::string>& list, const json::value* v) {
    if (v == nullptr || !v->is_string()) return;
    std::string s(v->as_string());
    if (s.empty() || s.find(',') != std::string::npos) return;
    if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(std::move(s));
  };
  auto add_id = [&](const json::value* id) {
    if (id == nullptr || !id->is_object()) return;
    add(digests, id->as_object().if_contains("imageDigest"));
    add(tags, id->as_object().if_contains("imageTag"));
  };
  add(digests, in.if_contains("imageDigest"));
  add(tags, in.if_contains("imageTag"));
  auto each_id = [&](const json::value* ids) {
    if (ids == nullptr || !ids->is_array()) return;
    for (const auto& id : ids->as_array()) add_id(&id);
  };
  each_id(in.if_contains("imageIds"));
  if (out != nullptr) {
    if (const auto* image = out->if_contains("image"); image != nullptr && image->is_object()) {
      add_id(image->as_object().if_contains("imageId"));
    }
    each_id(out->if_contains("imageIds"));
  }
  auto joined = [](const std::vector<std::string>& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  if (!digests.empty()) ex.add_log_field("image_digests", joined(digests));
  if (!tags.empty()) ex.add_log_field("image_tags", joined(tags));
}

}  // namespace

EcrApi::EcrApi(Registry& registry, identity::IdentityService& identity,
               const auth::AccessControl& access, server::Offloader& offload, EcrOptions options)
    : registry_(registry),
      identity_(identity),
      offload_(offload),
      access_(access),
      options_(std::move(options)) {
  page_key_ = identity_.derive_key("ecr-next-token");
  operations_ = {
      {"CreateRepository", &EcrApi::create_repository},
      {"DescribeRepositories", &EcrApi::describe_repositories},
      {"DeleteRepository", &EcrApi::delete_repository},
      {"PutImageTagMutability", &EcrApi::put_image_tag_mutability},
      {"PutImageScanningConfiguration", &EcrApi::put_image_scanning_configuration},
      {"TagResource", &EcrApi::tag_resource},
      {"UntagResource", &EcrApi::untag_resource},
      {"ListTagsForResource", &EcrApi::list_tags_for_resource},
      {"ListImages", &EcrApi::list_images},
      {"DescribeImages", &EcrApi::describe_images},
      {"BatchGetImage", &EcrApi::batch_get_image},
      {"BatchDeleteImage", &EcrApi::batch_delete_image},
      {"PutImage", &EcrApi::put_image},
      {"BatchCheckLayerAvailability", &EcrApi::batch_check_layer_availability},
      {"InitiateLayerUpload", &EcrApi::initiate_layer_upload},
      {"UploadLayerPart", &EcrApi::upload_layer_part},
      {"CompleteLayerUpload", &EcrApi::complete_layer_upload},
      {"GetDownloadUrlForLayer", &EcrApi::get_download_url_for_layer},
      {"PutLifecyclePolicy", &EcrApi::put_lifecycle_policy},
      {"GetLifecyclePolicy", &EcrApi::get_lifecycle_policy},
      {"DeleteLifecyclePolicy", &EcrApi::delete_lifecycle_policy},
      {"StartLifecyclePolicyPreview", &EcrApi::start_lifecycle_policy_preview},
      {"GetLifecyclePolicyPreview", &EcrApi::get_lifecycle_policy_preview},
      {"GetAuthorizationToken", &EcrApi::get_authorization_token},
      {"DescribeRegistry", &EcrApi::describe_registry},
      {"SetRepositoryPolicy", &EcrApi::set_repository_policy},
      {"GetRepositoryPolicy", &EcrApi::get_repository_policy},
      {"DeleteRepositoryPolicy", &EcrApi::delete_repository_policy},
      {"PutRegistryPolicy", &EcrApi::put_registry_policy},
      {"GetRegistryPolicy", &EcrApi::get_registry_policy},
      {"DeleteRegistryPolicy", &EcrApi::delete_registry_policy},
      {"StartImageScan", &EcrApi::start_image_scan},
      {"DescribeImageScanFindings", &EcrApi::describe_image_scan_findings},
      {"PutRegistryScanningConfiguration", &EcrApi::put_registry_scanning_configuration},
      {"GetRegistryScanningConfiguration", &EcrApi::get_registry_scanning_configuration},
      {"BatchGetRepositoryScanningConfiguration",
       &EcrApi::batch_get_repository_scanning_configuration},
  };
}

bool EcrApi::is_ecr_request(const Exchange& ex) {
  return ex.method() == http::verb::post && !ex.header("X-Amz-Target").empty();
}

awaitable<void> EcrApi::handle(Exchange& ex) {
  // The coroutine only does I/O; everything else happens in refuse_early()
  // and dispatch(), plain functions, so no temporaries live across a
  // suspension point.
  const std::string request_id = request_uuid();
  if (auto refused = refuse_early(ex, request_id)) co_return co_await ex.send(std::move(*refused));
  std::string_view target = ex.header("X-Amz-Target");
  auto body = co_await ex.read_body(body_limit(target.substr(kTargetPrefix.size())));
  if (!body && body.status().code() == Code::kUnavailable) co_return;  // the client went away
  // The exchange is not touched by the session while this coroutine waits,
  // so dispatch() may use it from the worker.
  auto res = co_await offload_.run(
      [&]() -> Result<server::Response> { return dispatch(ex, body, request_id); });
  if (!res) co_return co_await ex.send(error_response(ex, from_status(res.status()), request_id));
  co_await ex.send(std::move(res).value());
}

size_t EcrApi::body_limit(std::string_view operation) const {
  if (operation == "UploadLayerPart") return options_.max_layer_part_body_bytes;
  if (operation == "PutImage") return options_.max_put_image_body_bytes;
  return options_.max_body_bytes;
}

std::optional<server::Response> EcrApi::refuse_early(Exchange& ex, const std::string& request_id) {
  std::string_view target = ex.header("X-Amz-Target");
  if (ex.method() != http::verb::post || target.substr(0, kTargetPrefix.size()) != kTargetPrefix) {
    return error_response(
        ex,
        ecr_error("UnknownOperationException", "the X-Amz-Target header names no ECR operation"),
        request_id);
  }
  ex.add_log_field("operation", std::string(target.substr(kTargetPrefix.size(), 64)));
  // Unauthenticated callers must not make berth read (and hold) their bodies.
  const auth::SigV4Request sreq = sigv4_request(ex);
  if (Status s = identity_.precheck_sigv4(sreq); !s.is_ok()) {
    // As for a signature refused after the body: the key claimed, never the signature.
    std::string claimed = auth::claimed_access_key_id(sreq);
    if (!claimed.empty()) ex.add_log_field("claimed_access_key_id", claimed);
    ex.add_log_field("auth_error", s.message().substr(0, 200));
    return error_response(ex, from_status(s), request_id);
  }
  const size_t limit = body_limit(target.substr(kTargetPrefix.size()));
  if (auto v = ex.header(http::field::content_length); !v.empty()) {
    uint64_t length = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
    if (ec == std::errc() && p == v.data() + v.size() && length > limit) {
      return error_response(ex, too_large(limit), request_id);
    }
  }
  return std::nullopt;
}

server::Response EcrApi::dispatch(Exchange& ex, const Result<std::string>& body,
                                  const std::string& request_id) {
  std::string_view target = ex.header("X-Amz-Target");
  std::string operation(target.substr(kTargetPrefix.size()));
  if (!body) {
    if (body.status().code() == Code::kTooLarge) {
      return error_response(ex, too_large(body_limit(operation)), request_id);
    }
    // A malformed body (e.g. a bad chunk) is the caller's fault and 400,
    // never a retryable 5xx; a busy server or a slow body is retryable.
    if (body.status().code() == Code::kInvalidArgument) {
      return error_response(
          ex, EcrError{"SerializationException", body.status().message(), 400, {}}, request_id);
    }
    return error_response(ex, from_status(body.status()), request_id);
  }

  // Authenticate: the request exactly as received.
  auth::SigV4Request sreq = sigv4_request(ex);
  {
    Hasher h;
    h.update(*body);
    sreq.payload_sha256 = h.peek().hex();
  }
  auto principal = identity_.authenticate_sigv4(sreq);
  if (!principal) {
    // Which key the caller claimed (not secret) helps an operator tell a
    // typo from an attack; the signature itself is never logged.
    std::string claimed = auth::claimed_access_key_id(sreq);
    if (!claimed.empty()) ex.add_log_field("claimed_access_key_id", claimed);
    ex.add_log_field("auth_error", principal.status().message().substr(0, 200));
    return error_response(ex, from_status(principal.status()), request_id);
  }
  ex.set_principal(*principal);

  auto op = operations_.find(operation);
  if (op == operations_.end()) {
    // Named back only when printable ASCII: the answer is JSON, which must be UTF-8.
    const bool printable = std::all_of(operation.begin(), operation.end(),
                                       [](char c) { return c >= 0x20 && c < 0x7f; });
    return error_response(ex,
                          ecr_error("UnknownOperationException",
                                    printable ? fmt::format("unknown operation {}", operation)
                                              : std::string("unknown operation")),
                          request_id);
  }

  boost::system::error_code ec;
  json::value input = json::parse(*body, ec);
  if (ec || !input.is_object()) {
    return error_response(
        ex, ecr_error("SerializationException", "the request body must be a JSON object"),
        request_id);
  }
  const json::object& in = input.as_object();

  Call call{op->first, *principal, in, principal->account_id};
  auto account = registry_id(in, principal->account_id);
  if (auto* e = std::get_if<EcrError>(&account)) return error_response(ex, *e, request_id);
  call.account = std::get<std::string>(account);

  std::string action = "ecr:" + operation;
  std::string_view repo_name = repository_member(in);
  if (!repo_name.empty()) ex.add_log_field("repository", std::string(repo_name.substr(0, 256)));
  const std::string source_ip = auth::source_ip_of(ex.remote_address());
  const RequestTags tags = request_tags_of(in);
  for (std::string_view judged : repositories_of_call(operation, in)) {
    auth::AccessRequest access{action, call.account, judged, source_ip};
    if (!tags.tags.empty()) access.request_tags = &tags.tags;
    if (!tags.keys.empty()) access.tag_keys = &tags.keys;
    if (Status s = access_.check(*principal, access); !s.is_ok()) {
      note_images(ex, in, nullptr);
      if (s.code() != Code::kPermissionDenied)
        return error_response(ex, from_status(s), request_id);
      return error_response(ex, ecr_error("AccessDeniedException", s.message()), request_id);
    }
  }

  (void)take_internal_cause();
  EcrResult result = (this->*(op->second))(call);
  note_images(ex, in, std::get_if<json::object>(&result));
  if (auto* e = std::get_if<EcrError>(&result)) {
    if (e->http_status >= 500) {
      // The client hears only the exception; the cause is logged here, once.
      std::string cause = take_internal_cause();
      log::error("request failed", {{"request_id", ex.request_id()},
                                    {"amzn_request_id", request_id},
                                    {"operation", operation},
                                    {"error", e->type},
                                    {"cause", cause.empty() ? e->message : cause}});
    }
    return error_response(ex, *e, request_id);
  }
  return json_response(ex, http::status::ok, json::serialize(std::get<json::object>(result)),
                       request_id);
}

// --- shared helpers ------------------------------------------------------------

Result<RepositoryRecord> EcrApi::repository(const Call& c, std::string_view name) {
  return registry_.repository(c.account, name);
}

EcrError EcrApi::repository_not_found(const Call& c, std::string_view name) const {
  return ecr_error(
      "RepositoryNotFoundException",
      fmt::format("The repository with name '{}' does not exist in the registry with id '{}'", name,
                  c.account));
}

EcrError EcrApi::repository_error(const Call& c, std::string_view name, const Status& why) const {
  if (why.code() == Code::kNameUnknown) return repository_not_found(c, name);
  return from_status(why);
}

std::string EcrApi::repository_arn(const std::string& account, std::string_view name) const {
  return fmt::format("arn:aws:ecr:{}:{}:repository/{}", options_.region, account, name);
}

json::object EcrApi::repository_json(const RepositoryRecord& r) const {
  json::object o;
  o["repositoryArn"] = repository_arn(r.account_id, r.name);
  o["registryId"] = r.account_id;
  o["repositoryName"] = r.name;
  o["repositoryUri"] = options_.registry_host + "/" + r.name;
  o["createdAt"] = timestamp(r.created_at);
  o["imageTagMutability"] = r.tag_mutability;
  if (r.tag_mutability.find("WITH_EXCLUSION") != std::string::npos) {
    json::array filters;
    for (const auto& f : r.tag_mutability_exclusions) {
      filters.push_back(json::object{{"filterType", "WILDCARD"}, {"filter", f}});
    }
    o["imageTagMutabilityExclusionFilters"] = std::move(filters);
  }
  o["imageScanningConfiguration"] = json::object{{"scanOnPush", r.scan_on_push}};
  json::object enc{{"encryptionType", r.encryption_type}};
  if (!r.kms_key.empty()) enc["kmsKey"] = r.kms_key;
  o["encryptionConfiguration"] = std::move(enc);
  return o;
}

std::string EcrApi::make_next_token(std::string_view operation, std::string_view scope,
                                    std::string_view after) const {
  std::string payload = base64_encode(after);
  std::string signed_part = fmt::format("{}\n{}\n{}", operation, scope, payload);
  auto mac = hmac_sha256(page_key_.data(), page_key_.size(), signed_part);
  return payload + "." + to_hex(mac.data(), mac.size());
}

Result<std::string> EcrApi::read_next_token(std::string_view operation, std::string_view scope,
                                            std::string_view token) const {
  auto dot = token.rfind('.');
  if (dot == std::string_view::npos)
    return error(Code::kInvalidArgument, "Invalid parameter at 'nextToken'");
  std::string payload(token.substr(0, dot));
  std::string signed_part = fmt::format("{}\n{}\n{}", operation, scope, payload);
  auto mac = hmac_sha256(page_key_.data(), page_key_.size(), signed_part);
  std::string want = to_hex(mac.data(), mac.size());
  std::string_view got = token.substr(dot + 1);
  if (got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0) {
    return error(Code::kInvalidArgument,
                 "Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
  }
  return base64_decode(payload);
}

}  // namespace berth::ecr
