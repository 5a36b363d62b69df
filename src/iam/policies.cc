// A user's inline policies and the managed ECR policies attached to it.
#include <fmt/format.h>

#include <vector>

#include "core/sigv4_signing.h"
#include "iam/fields.h"
#include "iam/iam_api.h"

namespace berth::iam {

namespace {

// The names of a list, with a page of them written as <member>s of `element`.
IamResult names_page(const QueryForm& form, std::string_view element,
                     const std::vector<std::string>& names,
                     void (*write)(XmlWriter&, const std::string&)) {
  auto page = page_of(form, names);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  w.open(element);
  for (size_t i = p.begin; i < p.end; ++i) write(w, names[i]);
  w.close();
  write_page_end(w, p);
  return w.take();
}

}  // namespace

IamResult IamApi::put_user_policy(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_REQUIRE(name, c.form, "PolicyName");
  IAM_REQUIRE(text, c.form, "PolicyDocument");
  auto document = identity::PolicyDocument::parse(text);
  if (!document) return IamError{"MalformedPolicyDocument", document.status().message(), 400, true};
  Status s = iam_.put_user_policy(c.principal.account_id, user, name, *document);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::get_user_policy(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_REQUIRE(name, c.form, "PolicyName");
  IAM_ASSIGN_OR_RETURN(text, iam_.get_user_policy(c.principal.account_id, user, name));
  XmlWriter w;
  w.element("UserName", user);
  w.element("PolicyName", name);
  // As IAM: the document URL-encoded (RFC 3986); the SDKs decode it.
  w.element("PolicyDocument", sigv4::percent_encode_unreserved(text));
  return w.take();
}

IamResult IamApi::delete_user_policy(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_REQUIRE(name, c.form, "PolicyName");
  Status s = iam_.delete_user_policy(c.principal.account_id, user, name);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::list_user_policies(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_ASSIGN_OR_RETURN(names, iam_.list_user_policies(c.principal.account_id, user));
  return names_page(c.form, "PolicyNames", names,
                    [](XmlWriter& w, const std::string& name) { w.element("member", name); });
}

IamResult IamApi::attach_user_policy(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_REQUIRE(arn, c.form, "PolicyArn");
  Status s = iam_.attach_user_policy(c.principal.account_id, user, arn);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::detach_user_policy(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_REQUIRE(arn, c.form, "PolicyArn");
  Status s = iam_.detach_user_policy(c.principal.account_id, user, arn);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::list_attached_user_policies(IamCall& c) {
  IAM_REQUIRE(user, c.form, "UserName");
  IAM_ASSIGN_OR_RETURN(arns, iam_.list_attached_user_policies(c.principal.account_id, user));
  return names_page(c.form, "AttachedPolicies", arns, [](XmlWriter& w, const std::string& arn) {
    w.open("member");
    w.element("PolicyName", identity::managed_policy_name(arn));
    w.element("PolicyArn", arn);
    w.close();
  });
}

}  // namespace berth::iam
