// Groups, their members and their policies.
#include <fmt/format.h>

#include <vector>

#include "core/sigv4_signing.h"
#include "iam/fields.h"
#include "iam/iam_api.h"

namespace berth::iam {

IamResult IamApi::create_group(IamCall& c) {
  IAM_REQUIRE(name, c.form, "GroupName");
  IAM_ASSIGN_OR_RETURN(group, iam_.create_group(c.principal.account_id, name));
  XmlWriter w;
  write_group(w, group);
  return w.take();
}

IamResult IamApi::get_group(IamCall& c) {
  IAM_REQUIRE(name, c.form, "GroupName");
  IAM_ASSIGN_OR_RETURN(group, iam_.get_group(c.principal.account_id, name));
  IAM_ASSIGN_OR_RETURN(members, iam_.group_members(c.principal.account_id, name));
  std::vector<std::string> names;
  for (const auto& u : members) names.push_back(u.name);
  auto page = page_of(c.form, names);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  write_group(w, group);
  w.open("Users");
  for (size_t i = p.begin; i < p.end; ++i) write_user(w, members[i], "member");
  w.close();
  write_page_end(w, p);
  return w.take();
}

IamResult IamApi::list_groups(IamCall& c) {
  IAM_ASSIGN_OR_RETURN(groups, iam_.list_groups(c.principal.account_id));
  std::vector<std::string> names;
  for (const auto& g : groups) names.push_back(g.name);
  auto page = page_of(c.form, names);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  w.open("Groups");
  for (size_t i = p.begin; i < p.end; ++i) write_group(w, groups[i], "member");
  w.close();
  write_page_end(w, p);
  return w.take();
}

IamResult IamApi::delete_group(IamCall& c) {
  IAM_REQUIRE(name, c.form, "GroupName");
  Status s = iam_.delete_group(c.principal.account_id, name);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::add_user_to_group(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(user, c.form, "UserName");
  Status s = iam_.add_user_to_group(c.principal.account_id, group, user);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::remove_user_from_group(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(user, c.form, "UserName");
  Status s = iam_.remove_user_from_group(c.principal.account_id, group, user);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::put_group_policy(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(name, c.form, "PolicyName");
  IAM_REQUIRE(text, c.form, "PolicyDocument");
  auto document = identity::PolicyDocument::parse(text);
  if (!document) return IamError{"MalformedPolicyDocument", document.status().message(), 400, true};
  Status s = iam_.put_group_policy(c.principal.account_id, group, name, *document);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::get_group_policy(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(name, c.form, "PolicyName");
  IAM_ASSIGN_OR_RETURN(text, iam_.get_group_policy(c.principal.account_id, group, name));
  XmlWriter w;
  w.element("GroupName", group);
  w.element("PolicyName", name);
  w.element("PolicyDocument", sigv4::percent_encode_unreserved(text));
  return w.take();
}

IamResult IamApi::delete_group_policy(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(name, c.form, "PolicyName");
  Status s = iam_.delete_group_policy(c.principal.account_id, group, name);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::list_group_policies(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_ASSIGN_OR_RETURN(names, iam_.list_group_policies(c.principal.account_id, group));
  auto page = page_of(c.form, names);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  w.open("PolicyNames");
  for (size_t i = p.begin; i < p.end; ++i) w.element("member", names[i]);
  w.close();
  write_page_end(w, p);
  return w.take();
}

IamResult IamApi::attach_group_policy(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(arn, c.form, "PolicyArn");
  Status s = iam_.attach_group_policy(c.principal.account_id, group, arn);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::detach_group_policy(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_REQUIRE(arn, c.form, "PolicyArn");
  Status s = iam_.detach_group_policy(c.principal.account_id, group, arn);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::list_attached_group_policies(IamCall& c) {
  IAM_REQUIRE(group, c.form, "GroupName");
  IAM_ASSIGN_OR_RETURN(arns, iam_.list_attached_group_policies(c.principal.account_id, group));
  auto page = page_of(c.form, arns);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  w.open("AttachedPolicies");
  for (size_t i = p.begin; i < p.end; ++i) {
    w.open("member");
    w.element("PolicyName", identity::managed_policy_name(arns[i]));
    w.element("PolicyArn", arns[i]);
    w.close();
  }
  w.close();
  write_page_end(w, p);
  return w.take();
}

}  // namespace berth::iam
