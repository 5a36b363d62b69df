// Routing and the helpers every /v2 handler shares.
#include "oci/oci_api.h"

#include <fmt/format.h>

#include <algorithm>

#include "log/log.h"
#include "oci/errors.h"

namespace berth::oci {
namespace http = server::http;
using server::Exchange;
using server::net::awaitable;

namespace {
constexpr std::string_view kTokenExpiredMessage =
    "Your authorization token has expired. Reauthenticate and try again.";
}

std::string OciApi::account_of(const Exchange& ex) const {
  if (auto account = account_of_host(ex.header(http::field::host))) return std::move(*account);
  return ex.principal().authenticated ? ex.principal().account_id : options_.default_account;
}

std::string_view OciApi::action_of(const Exchange& ex, const Target& t) {
  return required_action(t.route, ex.request().method_string());
}

awaitable<Status> OciApi::authorize(const Exchange& ex, std::string_view action,
                                    std::string_view repository) {
  std::string account = account_of(ex);
  std::string source_ip = auth::source_ip_of(ex.remote_address());
  // Decided on the event loop when the policies are cached; else on a worker (store calls).
  if (std::optional<Status> decided = access_.check_without_blocking(
          ex.principal(), auth::AccessRequest{action, account, repository, source_ip})) {
    co_return *decided;
  }
  co_return co_await call([&]() -> Status {
    return access_.check(ex.principal(),
                         auth::AccessRequest{action, account, repository, source_ip});
  });
}

awaitable<Result<RepositoryRecord>> OciApi::repository_for(const Exchange& ex,
                                                           std::string_view name,
                                                           std::string_view action, bool for_push) {
  Status allowed = co_await authorize(ex, action, name);
  if (!allowed.is_ok()) co_return allowed;
  std::string account = account_of(ex);
  co_return co_await call([&]() -> Result<RepositoryRecord> {
    if (for_push) return registry_.repository_for_push(account, name);
    return registry_.repository(account, name);
  });
}

server::Response OciApi::response(const Exchange& ex, http::status status) const {
  server::Response res{status, ex.request().version()};
  res.set("Docker-Distribution-API-Version", kApiVersion);
  return res;
}

server::Response OciApi::blob_created(const Exchange& ex, std::string_view repository,
                                      const Digest& digest) const {
  auto res = response(ex, http::status::created);
  res.set(http::field::location,
          location("/v2/" + std::string(repository) + "/blobs/" + digest.str()));
  res.set("Docker-Content-Digest", digest.str());
  return res;
}

awaitable<void> OciApi::fail(Exchange& ex, Status status) {
  server::Response res = error_response(status, ex.request().version());
  ex.add_log_field("error_code", wire_error(status).code);
  if (res.result_int() >= 500) {
    // The client hears only a generic message; the cause is logged here, once.
    log::error("request failed", {{"request_id", ex.request_id()},
                                  {"method", std::string(ex.request().method_string())},
                                  {"path", ex.path()},
                                  {"status", res.result_int()},
                                  {"cause", status.to_string()}});
  }
  res.set("Docker-Distribution-API-Version", kApiVersion);
  if (res.result() == http::status::unauthorized) {
    res.set(http::field::www_authenticate, "Basic realm=\"berth\"");
  }
  co_await ex.send(std::move(res));
}

std::string OciApi::location(std::string_view path) const {
  return options_.public_url + std::string(path);
}

awaitable<void> OciApi::base(Exchange& ex) {
  if (ex.method() != http::verb::get && ex.method() != http::verb::head) {
    co_return co_await fail(ex, error(Code::kUnsupported, "method not allowed"));
  }
  auto res = response(ex, http::status::ok);
  res.set(http::field::content_type, "application/json");
  res.body() = "{}";
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::handle(Exchange& ex) {
  Target t = parse_v2_path(ex.path());
  // Unauthenticated callers learn nothing, not even whether a route exists.
  if (access_.require_authentication() && !ex.principal().authenticated) {
    // An expired or revoked token gets ECR's words, so that users know to log
    // in again; the reason itself is in the access log, never the token.
    if (ex.auth_failure().code() == Code::kTokenExpired) {
      co_return co_await fail(ex, error(Code::kTokenExpired, std::string(kTokenExpiredMessage)));
    }
    // A presigned download URL that is altered, expired or for another blob.
    if (ex.auth_failure().code() == Code::kPermissionDenied)
      co_return co_await fail(ex, ex.auth_failure());
    // The identity store is away (an outage): the credentials may be fine, so
    // a 503 with Retry-After, not a 401 that sends clients to log in again.
    if (ex.auth_failure().code() == Code::kUnavailable)
      co_return co_await fail(ex, ex.auth_failure());
    co_return co_await fail(ex, error(Code::kUnauthenticated, "authentication required"));
  }
  const auto m = ex.method();
  const bool get = m == http::verb::get || m == http::verb::head;
  switch (t.route) {
    case Route::kBase:
      co_return co_await base(ex);
    case Route::kCatalog:
      if (get) co_return co_await catalog(ex);
      break;
    case Route::kTags:
      if (get) co_return co_await tags(ex, t);
      break;
    case Route::kManifest:
      if (get) co_return co_await get_manifest(ex, t);
      if (m == http::verb::put) co_return co_await put_manifest(ex, t);
      if (m == http::verb::delete_) co_return co_await delete_manifest(ex, t);
      break;
    case Route::kBlob:
      if (get) co_return co_await get_blob(ex, t);
      if (m == http::verb::delete_) co_return co_await delete_blob(ex, t);
      break;
    case Route::kUploadStart:
      if (m == http::verb::post) co_return co_await start_upload(ex, t);
      break;
    case Route::kUpload:
      if (m == http::verb::get) co_return co_await upload_status(ex, t);
      if (m == http::verb::patch) co_return co_await patch_upload(ex, t);
      if (m == http::verb::put) co_return co_await finish_upload(ex, t);
      if (m == http::verb::delete_) co_return co_await cancel_upload(ex, t);
      break;
    case Route::kReferrers:
      if (get) co_return co_await referrers(ex, t);
      break;
    case Route::kUnknown: {
      auto res = response(ex, http::status::not_found);
      res.set(http::field::content_type, "application/json");
      res.body() =
          R"({"errors":[{"code":"NAME_UNKNOWN","message":"no such route","detail":null}]})";
      co_return co_await ex.send(std::move(res));
    }
  }
  co_await fail(ex, error(Code::kUnsupported, fmt::format("{} is not supported on this resource",
                                                          std::string(http::to_string(m)))));
}

}  // namespace berth::oci
