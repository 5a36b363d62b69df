// IAM and STS over the AWS Query protocol (form-encoded POST, XML answers),
// so that `aws iam`, `aws sts` and the SDKs manage berth's users, access keys
// and policies. One operation table maps each action to one member function
// with one signature; users.cc and policies.cc implement them. A request goes
// to IAM or STS by the service its SigV4 credential scope names ("sts":
// STS; anything else: IAM), is verified for that service, then authorized
// through the shared AccessControl as "iam:<Action>" on the user it is about
// (arn:aws:iam::<account>:user/<name>) or group (group/<name>); STS's GetCallerIdentity needs no
// permission, as in AWS. The calls go to identity::IamService only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/access_control.h"
#include "iam/iam_error.h"
#include "iam/query_form.h"
#include "identity/iam_service.h"
#include "identity/query_auth.h"
#include "server/exchange.h"
#include "server/offload.h"

namespace berth::iam {

inline constexpr std::string_view kIamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/";
inline constexpr std::string_view kStsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

struct IamOptions {
  // Checked against Content-Length before the body is read: a policy
  // document (at most 128 KiB) percent-encoded, and the rest of the form.
  size_t max_body_bytes = 512 * 1024;
};

// One call as an action sees it.
struct IamCall {
  const auth::Principal& principal;
  const QueryForm& form;
  // The user the call is about: UserName, or the caller when the action
  // lets it be omitted (GetUser, the access key actions). Empty otherwise.
  std::string user;
};

class IamApi {
 public:
  // Every action runs on `offload`'s workers. All borrowed; they outlive the API.
  IamApi(identity::QueryAuthenticator& authenticator, identity::IamService& iam,
         const auth::AccessControl& access, server::Offloader& offload, IamOptions options = {});

  // True for a POST to / without X-Amz-Target whose body is a form
  // (application/x-www-form-urlencoded): a Query protocol call.
  static bool is_query_request(const server::Exchange& ex);
  server::net::awaitable<void> handle(server::Exchange& ex);
  // True when `action` is in the operation table: a bounded name, safe as a
  // metrics label.
  bool has_operation(std::string_view action) const { return operations_.count(action) != 0; }

 private:
  enum class Service { kIam, kSts };
  // What the authorization check names as the resource.
  enum class Subject {
    kNone,          // no check (sts:GetCallerIdentity)
    kUser,          // user/<UserName>
    kUserOrCaller,  // user/<UserName>, the caller's own name when absent
    kUsers,         // user/ (ListUsers)
    kGroup,         // group/<GroupName>
    kGroups,        // group/ (ListGroups)
  };
  using Handler = IamResult (IamApi::*)(IamCall&);
  struct Operation {
    Service service;
    Subject subject;
    Handler handler;
  };

  // The service a request is signed for (by its claimed credential scope).
  static Service service_of(const server::Exchange& ex);
  // What the request head alone shows is refused (credentials malformed, of
  // an unknown or disabled key, a body over the limit).
  std::optional<server::Response> refuse_early(server::Exchange& ex, Service service,
                                               const std::string& request_id);
  // Authenticates, authorizes and runs one call; blocking, run on offload_.
  server::Response dispatch(server::Exchange& ex, Service service, const Result<std::string>& body,
                            const std::string& request_id);

  // users.cc
  IamResult create_user(IamCall& c);
  IamResult get_user(IamCall& c);
  IamResult list_users(IamCall& c);
  IamResult create_access_key(IamCall& c);
  IamResult list_access_keys(IamCall& c);
  IamResult update_access_key(IamCall& c);
  IamResult delete_access_key(IamCall& c);
  IamResult get_caller_identity(IamCall& c);
  IamResult delete_user(IamCall& c);
  IamResult tag_user(IamCall& c);
  // groups.cc
  IamResult create_group(IamCall& c);
  IamResult get_group(IamCall& c);
  IamResult list_groups(IamCall& c);
  IamResult delete_group(IamCall& c);
  IamResult add_user_to_group(IamCall& c);
  IamResult remove_user_from_group(IamCall& c);
  IamResult put_group_policy(IamCall& c);
  IamResult get_group_policy(IamCall& c);
  IamResult delete_group_policy(IamCall& c);
  IamResult list_group_policies(IamCall& c);
  IamResult attach_group_policy(IamCall& c);
  IamResult detach_group_policy(IamCall& c);
  IamResult list_attached_group_policies(IamCall& c);
  // policies.cc
  IamResult put_user_policy(IamCall& c);
  IamResult get_user_policy(IamCall& c);
  IamResult delete_user_policy(IamCall& c);
  IamResult list_user_policies(IamCall& c);
  IamResult attach_user_policy(IamCall& c);
  IamResult detach_user_policy(IamCall& c);
  IamResult list_attached_user_policies(IamCall& c);

  identity::QueryAuthenticator& authenticator_;
  identity::IamService& iam_;
  const auth::AccessControl& access_;
  server::Offloader& offload_;
  IamOptions options_;
  std::unordered_map<std::string_view, Operation> operations_;
};

}  // namespace berth::iam
