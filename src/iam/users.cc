// Users, their access keys, and STS's GetCallerIdentity.
#include <fmt/format.h>

#include <vector>

#include "iam/fields.h"
#include "iam/iam_api.h"

namespace berth::iam {

namespace {

std::string_view status_name(bool active) {
  return active ? "Active" : "Inactive";
}

}  // namespace

IamResult IamApi::create_user(IamCall& c) {
  IAM_REQUIRE(name, c.form, "UserName");
  IAM_ASSIGN_OR_RETURN(user, iam_.create_user(c.principal.account_id, name));
  XmlWriter w;
  write_user(w, user);
  return w.take();
}

IamResult IamApi::get_user(IamCall& c) {
  IAM_ASSIGN_OR_RETURN(user, iam_.get_user(c.principal.account_id, c.user));
  XmlWriter w;
  write_user(w, user);
  return w.take();
}

IamResult IamApi::list_users(IamCall& c) {
  IAM_ASSIGN_OR_RETURN(users, iam_.list_users(c.principal.account_id));
  std::vector<std::string> names;
  for (const auto& u : users) names.push_back(u.name);
  auto page = page_of(c.form, names);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  w.open("Users");
  for (size_t i = p.begin; i < p.end; ++i) write_user(w, users[i], "member");
  w.close();
  write_page_end(w, p);
  return w.take();
}

IamResult IamApi::create_access_key(IamCall& c) {
  IAM_ASSIGN_OR_RETURN(made, iam_.create_access_key(c.principal.account_id, c.user));
  const auto& [record, key] = made;
  XmlWriter w;
  w.open("AccessKey");
  w.element("UserName", record.user_name);
  w.element("AccessKeyId", key.access_key_id);
  w.element("Status", status_name(record.active));
  w.element("SecretAccessKey", key.secret_access_key);
  w.element("CreateDate", iso8601(record.created_at));
  w.close();
  return w.take();
}

IamResult IamApi::list_access_keys(IamCall& c) {
  IAM_ASSIGN_OR_RETURN(keys, iam_.list_access_keys(c.principal.account_id, c.user));
  // Paged by key id: the marker names the first id not yet returned.
  std::sort(keys.begin(), keys.end(),
            [](const AccessKeyRecord& a, const AccessKeyRecord& b) { return a.id < b.id; });
  std::vector<std::string> ids;
  for (const auto& k : keys) ids.push_back(k.id);
  auto page = page_of(c.form, ids);
  if (auto* e = std::get_if<IamError>(&page)) return *e;
  const Page& p = std::get<Page>(page);
  XmlWriter w;
  w.open("AccessKeyMetadata");
  for (size_t i = p.begin; i < p.end; ++i) {
    w.open("member");
    w.element("UserName", keys[i].user_name);
    w.element("AccessKeyId", keys[i].id);
    w.element("Status", status_name(keys[i].active));
    w.element("CreateDate", iso8601(keys[i].created_at));
    w.close();
  }
  w.close();
  write_page_end(w, p);
  return w.take();
}

IamResult IamApi::update_access_key(IamCall& c) {
  IAM_REQUIRE(key_id, c.form, "AccessKeyId");
  IAM_REQUIRE(status, c.form, "Status");
  if (status != "Active" && status != "Inactive") {
    return validation_error(fmt::format(
        "1 validation error detected: Value '{}' at 'status' failed to satisfy constraint: Member "
        "must satisfy enum value set: [Active, Inactive]",
        status.substr(0, 32)));
  }
  Status s = iam_.set_access_key_active(c.principal.account_id, c.user, key_id, status == "Active");
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::delete_access_key(IamCall& c) {
  IAM_REQUIRE(key_id, c.form, "AccessKeyId");
  Status s = iam_.delete_access_key(c.principal.account_id, c.user, key_id);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::delete_user(IamCall& c) {
  IAM_REQUIRE(name, c.form, "UserName");
  Status s = iam_.delete_user(c.principal.account_id, name);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::tag_user(IamCall& c) {
  IAM_REQUIRE(name, c.form, "UserName");
  std::vector<std::pair<std::string, std::string>> tags;
  for (auto& t : c.form.structures("Tags", {"Key", "Value"})) {
    tags.emplace_back(std::move(t[0]), std::move(t[1]));
  }
  if (tags.empty()) return validation_error("Tags must name at least one tag.");
  Status s = iam_.tag_user(c.principal.account_id, name, tags);
  if (!s.is_ok()) return from_status(s);
  return std::string();
}

IamResult IamApi::get_caller_identity(IamCall& c) {
  XmlWriter w;
  w.element("Arn", user_arn(c.principal.account_id, c.principal.user_name));
  w.element("UserId", user_id(c.principal.account_id, c.principal.user_name));
  w.element("Account", c.principal.account_id);
  return w.take();
}

}  // namespace berth::iam
