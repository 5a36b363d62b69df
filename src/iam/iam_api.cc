// Dispatch, authentication and authorization of the Query protocol APIs.
#include "iam/iam_api.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/digest.h"
#include "iam/fields.h"
#include "iam/xml_writer.h"
#include "log/log.h"

namespace berth::iam {
namespace http = server::http;
using server::Exchange;
using server::net::awaitable;

namespace {

constexpr std::string_view kFormContentType = "application/x-www-form-urlencoded";

std::string_view namespace_of(bool sts) {
  return sts ? kStsNamespace : kIamNamespace;
}

server::Response xml_response(const Exchange& ex, http::status status, std::string body,
                              const std::string& request_id) {
  server::Response res{status, ex.request().version()};
  res.set(http::field::content_type, "text/xml");
  res.set("x-amzn-RequestId", request_id);
  res.body() = std::move(body);
  return res;
}

// Also names the error in the request's access-log line.
server::Response error_response(Exchange& ex, bool sts, const IamError& e,
                                const std::string& request_id) {
  ex.add_log_field("error_code", e.code);
  XmlWriter w;
  w.open("ErrorResponse", namespace_of(sts));
  w.open("Error");
  w.element("Type", e.sender ? "Sender" : "Receiver");
  w.element("Code", e.code);
  w.element("Message", e.message);
  w.close();
  w.element("RequestId", request_id);
  auto res = xml_response(ex, static_cast<http::status>(e.http_status), w.take(), request_id);
  if (e.http_status == 503) res.set(http::field::retry_after, "1");
  return res;
}

// The request exactly as received, for SigV4; the caller adds the payload hash.
auth::SigV4Request sigv4_request(const Exchange& ex) {
  auth::SigV4Request sreq;
  sreq.method = std::string(ex.request().method_string());
  std::string_view raw_target = ex.request().target();
  auto q = raw_target.find('?');
  sreq.raw_path = std::string(raw_target.substr(0, q));
  if (q != std::string_view::npos) sreq.raw_query = std::string(raw_target.substr(q + 1));
  for (const auto& f : ex.request()) {
    sreq.headers.push_back(auth::HttpHeader{std::string(f.name_string()), std::string(f.value())});
  }
  return sreq;
}

std::string_view service_name(bool sts) {
  return sts ? "sts" : "iam";
}

// A version 4 UUID, as AWS request ids are.
std::string request_uuid() {
  unsigned char b[16] = {};
  if (RAND_bytes(b, sizeof b) != 1) return "00000000-0000-4000-8000-000000000000";
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  const std::string hex = to_hex(b, sizeof b);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

IamApi::IamApi(identity::QueryAuthenticator& authenticator, identity::IamService& iam,
               const auth::AccessControl& access, server::Offloader& offload, IamOptions options)
    : authenticator_(authenticator),
      iam_(iam),
      access_(access),
      offload_(offload),
      options_(options) {
  operations_ = {
      {"CreateUser", {Service::kIam, Subject::kUser, &IamApi::create_user}},
      {"GetUser", {Service::kIam, Subject::kUserOrCaller, &IamApi::get_user}},
      {"ListUsers", {Service::kIam, Subject::kUsers, &IamApi::list_users}},
      {"CreateAccessKey", {Service::kIam, Subject::kUserOrCaller, &IamApi::create_access_key}},
      {"ListAccessKeys", {Service::kIam, Subject::kUserOrCaller, &IamApi::list_access_keys}},
      {"UpdateAccessKey", {Service::kIam, Subject::kUserOrCaller, &IamApi::update_access_key}},
      {"DeleteAccessKey", {Service::kIam, Subject::kUserOrCaller, &IamApi::delete_access_key}},
      {"PutUserPolicy", {Service::kIam, Subject::kUser, &IamApi::put_user_policy}},
      {"GetUserPolicy", {Service::kIam, Subject::kUser, &IamApi::get_user_policy}},
      {"DeleteUserPolicy", {Service::kIam, Subject::kUser, &IamApi::delete_user_policy}},
      {"ListUserPolicies", {Service::kIam, Subject::kUser, &IamApi::list_user_policies}},
      {"AttachUserPolicy", {Service::kIam, Subject::kUser, &IamApi::attach_user_policy}},
      {"DetachUserPolicy", {Service::kIam, Subject::kUser, &IamApi::detach_user_policy}},
      {"ListAttachedUserPolicies",
       {Service::kIam, Subject::kUser, &IamApi::list_attached_user_policies}},
      {"DeleteUser", {Service::kIam, Subject::kUser, &IamApi::delete_user}},
      {"TagUser", {Service::kIam, Subject::kUser, &IamApi::tag_user}},
      {"CreateGroup", {Service::kIam, Subject::kGroup, &IamApi::create_group}},
      {"GetGroup", {Service::kIam, Subject::kGroup, &IamApi::get_group}},
      {"ListGroups", {Service::kIam, Subject::kGroups, &IamApi::list_groups}},
      {"DeleteGroup", {Service::kIam, Subject::kGroup, &IamApi::delete_group}},
      {"AddUserToGroup", {Service::kIam, Subject::kGroup, &IamApi::add_user_to_group}},
      {"RemoveUserFromGroup", {Service::kIam, Subject::kGroup, &IamApi::remove_user_from_group}},
      {"PutGroupPolicy", {Service::kIam, Subject::kGroup, &IamApi::put_group_policy}},
      {"GetGroupPolicy", {Service::kIam, Subject::kGroup, &IamApi::get_group_policy}},
      {"DeleteGroupPolicy", {Service::kIam, Subject::kGroup, &IamApi::delete_group_policy}},
      {"ListGroupPolicies", {Service::kIam, Subject::kGroup, &IamApi::list_group_policies}},
      {"AttachGroupPolicy", {Service::kIam, Subject::kGroup, &IamApi::attach_group_policy}},
      {"DetachGroupPolicy", {Service::kIam, Subject::kGroup, &IamApi::detach_group_policy}},
      {"ListAttachedGroupPolicies",
       {Service::kIam, Subject::kGroup, &IamApi::list_attached_group_policies}},
      {"GetCallerIdentity", {Service::kSts, Subject::kNone, &IamApi::get_caller_identity}},
  };
}

bool IamApi::is_query_request(const Exchange& ex) {
  if (ex.method() != http::verb::post || ex.path() != "/" || !ex.header("X-Amz-Target").empty())
    return false;
  std::string_view type = ex.header(http::field::content_type);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return type.size() == kFormContentType.size() &&
         std::equal(type.begin(), type.end(), kFormContentType.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

IamApi::Service IamApi::service_of(const Exchange& ex) {
  auto scope = identity::claimed_scope(sigv4_request(ex));
  return scope && scope->service == "sts" ? Service::kSts : Service::kIam;
}

awaitable<void> IamApi::handle(Exchange& ex) {
  // As in the ECR API: the coroutine only does I/O.
  const std::string request_id = request_uuid();
  const Service service = service_of(ex);
  ex.add_log_field("service", service == Service::kSts ? "sts" : "iam");
  if (auto refused = refuse_early(ex, service, request_id))
    co_return co_await ex.send(std::move(*refused));
  auto body = co_await ex.read_body(options_.max_body_bytes);
  if (!body && body.status().code() == Code::kUnavailable) co_return;  // the client went away
  auto res = co_await offload_.run(
      [&]() -> Result<server::Response> { return dispatch(ex, service, body, request_id); });
  if (!res) {
    co_return co_await ex.send(
        error_response(ex, service == Service::kSts, from_status(res.status()), request_id));
  }
  co_await ex.send(std::move(res).value());
}

std::optional<server::Response> IamApi::refuse_early(Exchange& ex, Service service,
                                                     const std::string& request_id) {
  const bool sts = service == Service::kSts;
  const auth::SigV4Request sreq = sigv4_request(ex);
  if (Status s = authenticator_.precheck(sreq, service_name(sts)); !s.is_ok()) {
    std::string claimed = auth::claimed_access_key_id(sreq);
    if (!claimed.empty()) ex.add_log_field("claimed_access_key_id", claimed);
    ex.add_log_field("auth_error", s.message().substr(0, 200));
    return error_response(ex, sts, from_status(s), request_id);
  }
  if (auto v = ex.header(http::field::content_length); !v.empty()) {
    uint64_t length = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
    if (ec == std::errc() && p == v.data() + v.size() && length > options_.max_body_bytes) {
      return error_response(ex, sts,
                            validation_error(fmt::format("request body is larger than {} bytes",
                                                         options_.max_body_bytes)),
                            request_id);
    }
  }
  return std::nullopt;
}

server::Response IamApi::dispatch(Exchange& ex, Service service, const Result<std::string>& body,
                                  const std::string& request_id) {
  const bool sts = service == Service::kSts;
  if (!body) return error_response(ex, sts, from_status(body.status()), request_id);

  auth::SigV4Request sreq = sigv4_request(ex);
  {
    Hasher h;
    h.update(*body);
    sreq.payload_sha256 = h.peek().hex();
  }
  auto principal = authenticator_.authenticate(sreq, service_name(sts));
  if (!principal) {
    std::string claimed = auth::claimed_access_key_id(sreq);
    if (!claimed.empty()) ex.add_log_field("claimed_access_key_id", claimed);
    ex.add_log_field("auth_error", principal.status().message().substr(0, 200));
    return error_response(ex, sts, from_status(principal.status()), request_id);
  }
  ex.set_principal(*principal);

  auto form = QueryForm::parse(*body);
  if (!form) return error_response(ex, sts, from_status(form.status()), request_id);
  const std::string action = form->get("Action").value_or("");
  ex.add_log_field("operation", action.substr(0, 64));
  auto op = operations_.find(action);
  if (op == operations_.end() || op->second.service != service) {
    const std::string version = form->get("Version").value_or("");
    return error_response(
        ex, sts,
        IamError{"InvalidAction",
                 printable(action) && printable(version)
                     ? fmt::format("Could not find operation {} for version {}", action, version)
                     : std::string("Could not find operation"),
                 400, true},
        request_id);
  }
  const Operation& operation = op->second;

  IamCall call{*principal, *form, {}};
  call.user = form->get("UserName").value_or("");
  if (call.user.empty() && operation.subject == Subject::kUserOrCaller)
    call.user = principal->user_name;
  if (!call.user.empty()) ex.add_log_field("iam_user", call.user.substr(0, 128));

  if (operation.subject != Subject::kNone) {
    // For an action outside ECR, AccessControl reads `repository` as the
    // resource's path within the account: arn:aws:iam::<account>:user/<name>
    // or group/<name> (ListUsers: user/, ListGroups: group/).
    const std::string iam_action = "iam:" + action;
    std::string resource;
    switch (operation.subject) {
      case Subject::kUsers:
        resource = "user/";
        break;
      case Subject::kGroup:
        resource = "group/" + form->get("GroupName").value_or("");
        break;
      case Subject::kGroups:
        resource = "group/";
        break;
      default:
        resource = "user/" + call.user;
    }
    const std::string source_ip = auth::source_ip_of(ex.remote_address());
    auth::AccessRequest access{iam_action, principal->account_id, resource, source_ip};
    if (Status s = access_.check(*principal, access); !s.is_ok()) {
      return error_response(ex, sts, from_status(s), request_id);
    }
  }

  (void)take_internal_cause();
  IamResult result = (this->*(operation.handler))(call);
  if (auto* e = std::get_if<IamError>(&result)) {
    if (e->http_status >= 500) {
      std::string cause = take_internal_cause();
      log::error("request failed", {{"request_id", ex.request_id()},
                                    {"amzn_request_id", request_id},
                                    {"operation", action},
                                    {"error", e->code},
                                    {"cause", cause.empty() ? e->message : cause}});
    }
    return error_response(ex, sts, *e, request_id);
  }
  XmlWriter w;
  w.open(action + "Response", namespace_of(sts));
  if (const std::string& inner = std::get<std::string>(result); !inner.empty()) {
    w.open(action + "Result").raw(inner).close();
  }
  w.open("ResponseMetadata").element("RequestId", request_id).close();
  std::string out = w.take();
  return xml_response(ex, http::status::ok, std::move(out), request_id);
}

}  // namespace berth::iam
