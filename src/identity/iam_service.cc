#include "identity/iam_service.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/policy.h"

namespace berth::identity {

namespace {

// IAM's name pattern for users and policies: [\w+=,.@-]+.
bool iam_name_ok(std::string_view name, size_t max) {
  return !name.empty() && name.size() <= max &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-") ==
             std::string_view::npos;
}

Status no_such_user(std::string_view user) {
  return error(Code::kNotFound, fmt::format("The user with name {} cannot be found.", user));
}

// A store's kNotFound about the user becomes IAM's message; other errors pass.
Status user_status(Status s, std::string_view user) {
  if (s.code() == Code::kNotFound) return no_such_user(user);
  return s;
}

Status no_such_group(std::string_view group) {
  return error(Code::kNotFound, fmt::format("The group with name {} cannot be found.", group));
}

Status group_status(Status s, std::string_view group) {
  if (s.code() == Code::kNotFound) return no_such_group(group);
  return s;
}

Status bad_policy_name() {
  return error(Code::kInvalidArgument,
               "The specified value for policyName is invalid. It must contain only "
               "alphanumeric characters and/or the following: +=,.@_-");
}

}  // namespace

std::string_view managed_policy_name(std::string_view arn) {
  auto slash = arn.rfind('/');
  return slash == std::string_view::npos ? arn : arn.substr(slash + 1);
}

Result<PolicyDocument> PolicyDocument::parse(std::string text) {
  if (text.empty()) {
    return error(Code::kInvalidArgument, "The policy document must not be empty.");
  }
  if (text.size() > kMaxBytes) {
    return error(Code::kInvalidArgument,
                 fmt::format("The policy document is larger than {} bytes.", kMaxBytes));
  }
  auto parsed = policy::parse(text, policy::Kind::kIdentity);
  if (!parsed) return error(Code::kInvalidArgument, parsed.status().message());
  return PolicyDocument(std::move(text));
}

Status IamService::require_user(std::string_view account, std::string_view user) {
  auto u = identity_.store().get_user(account, user);
  if (!u) return user_status(u.take_status(), user);
  return Status::ok();
}

Result<UserRecord> IamService::create_user(std::string_view account, std::string_view name) {
  Status s = identity_.create_user(std::string(account), std::string(name), false);
  if (s.code() == Code::kAlreadyExists) {
    return error(Code::kAlreadyExists, fmt::format("User with name {} already exists.", name));
  }
  if (!s.is_ok()) return s;
  return get_user(account, name);
}

Result<UserRecord> IamService::get_user(std::string_view account, std::string_view name) {
  auto u = identity_.store().get_user(account, name);
  if (!u) return user_status(u.take_status(), name);
  return u;
}

Result<std::vector<UserRecord>> IamService::list_users(std::string_view account) {
  BERTH_ASSIGN_OR_RETURN(auto users, identity_.store().list_users(account));
  std::sort(users.begin(), users.end(),
            [](const UserRecord& a, const UserRecord& b) { return a.name < b.name; });
  return users;
}

Result<std::pair<AccessKeyRecord, NewAccessKey>> IamService::create_access_key(
    std::string_view account, std::string_view user) {
  BERTH_ASSIGN_OR_RETURN(auto keys, list_access_keys(account, user));
  if (keys.size() >= kMaxAccessKeysPerUser) {
    return error(Code::kLimitExceeded, fmt::format("Cannot exceed quota for AccessKeysPerUser: {}",
                                                   kMaxAccessKeysPerUser));
  }
  auto made = identity_.create_access_key(std::string(account), std::string(user));
  if (!made) return user_status(made.take_status(), user);
  BERTH_ASSIGN_OR_RETURN(auto record, identity_.store().get_access_key(made->access_key_id));
  return std::make_pair(std::move(record), std::move(made).value());
}

Result<std::vector<AccessKeyRecord>> IamService::list_access_keys(std::string_view account,
                                                                  std::string_view user) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  BERTH_ASSIGN_OR_RETURN(auto keys, identity_.store().list_access_keys(account));
  std::vector<AccessKeyRecord> out;
  for (auto& k : keys) {
    if (k.account_id == account && k.user_name == user) out.push_back(std::move(k));
  }
  std::stable_sort(out.begin(), out.end(), [](const AccessKeyRecord& a, const AccessKeyRecord& b) {
    return a.created_at < b.created_at;
  });
  return out;
}

Result<AccessKeyRecord> IamService::key_of_user(std::string_view account, std::string_view user,
                                                std::string_view key_id) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  auto key = identity_.store().get_access_key(key_id);
  if (!key && key.status().code() != Code::kNotFound) return key.take_status();
  if (!key || key->account_id != account || key->user_name != user) {
    return error(Code::kNotFound,
                 fmt::format("The Access Key with id {} cannot be found.", key_id));
  }
  return key;
}

Status IamService::set_access_key_active(std::string_view account, std::string_view user,
                                         std::string_view key_id, bool active) {
  BERTH_ASSIGN_OR_RETURN(auto key, key_of_user(account, user, key_id));
  return identity_.set_access_key_active(key.id, active);
}

Status IamService::delete_access_key(std::string_view account, std::string_view user,
                                     std::string_view key_id) {
  BERTH_ASSIGN_OR_RETURN(auto key, key_of_user(account, user, key_id));
  return identity_.delete_access_key(key.id);
}

Status IamService::put_user_policy(std::string_view account, std::string_view user,
                                   std::string_view name, const PolicyDocument& document) {
  if (!iam_name_ok(name, 128)) {
    return error(Code::kInvalidArgument,
                 "The specified value for policyName is invalid. It must contain only "
                 "alphanumeric characters and/or the following: +=,.@_-");
  }
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  return policies_.put_user_policy(account, user, name, document.text());
}

Result<std::string> IamService::get_user_policy(std::string_view account, std::string_view user,
                                                std::string_view name) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  BERTH_ASSIGN_OR_RETURN(auto all, policies_.list_user_policies(account, user));
  for (auto& [n, text] : all) {
    if (n == name) return std::move(text);
  }
  return error(Code::kNotFound, fmt::format("The user policy with name {} cannot be found.", name));
}

Status IamService::delete_user_policy(std::string_view account, std::string_view user,
                                      std::string_view name) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  Status s = policies_.delete_user_policy(account, user, name);
  if (s.code() == Code::kNotFound) {
    return error(Code::kNotFound,
                 fmt::format("The user policy with name {} cannot be found.", name));
  }
  return s;
}

Result<std::vector<std::string>> IamService::list_user_policies(std::string_view account,
                                                                std::string_view user) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  BERTH_ASSIGN_OR_RETURN(auto all, policies_.list_user_policies(account, user));
  std::vector<std::string> names;
  for (auto& [name, text] : all) names.push_back(std::move(name));
  return names;
}

Status IamService::attach_user_policy(std::string_view account, std::string_view user,
                                      std::string_view arn) {
  if (policy::managed_policy(arn) == nullptr) {
    return error(Code::kNotFound,
                 fmt::format("Policy {} does not exist or is not attachable.", arn));
  }
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  return policies_.attach_user_policy(account, user, arn);
}

Status IamService::detach_user_policy(std::string_view account, std::string_view user,
                                      std::string_view arn) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  Status s = policies_.detach_user_policy(account, user, arn);
  if (s.code() == Code::kNotFound) {
    return error(Code::kNotFound, fmt::format("Policy {} was not found.", arn));
  }
  return s;
}

Result<std::vector<std::string>> IamService::list_attached_user_policies(std::string_view account,
                                                                         std::string_view user) {
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  return policies_.list_attached_user_policies(account, user);
}

Status IamService::require_group(std::string_view account, std::string_view group) {
  auto g = identity_.get_group(std::string(account), std::string(group));
  if (!g) return group_status(g.take_status(), group);
  return Status::ok();
}

Status IamService::delete_user(std::string_view account, std::string_view name) {
  Status s = identity_.delete_user(std::string(account), std::string(name), false);
  if (s.code() == Code::kFailedPrecondition) {
    return error(Code::kFailedPrecondition,
                 fmt::format("Cannot delete entity, must remove access keys, policies and group "
                             "memberships of user {} first.",
                             name));
  }
  return user_status(s, name);
}

Status IamService::tag_user(std::string_view account, std::string_view user,
                            const std::vector<std::pair<std::string, std::string>>& tags) {
  return user_status(identity_.tag_user(std::string(account), std::string(user), tags), user);
}

Result<GroupRecord> IamService::create_group(std::string_view account, std::string_view name) {
  Status s = identity_.create_group(std::string(account), std::string(name));
  if (s.code() == Code::kAlreadyExists) {
    return error(Code::kAlreadyExists, fmt::format("Group with name {} already exists.", name));
  }
  if (!s.is_ok()) return s;
  return get_group(account, name);
}

Result<GroupRecord> IamService::get_group(std::string_view account, std::string_view name) {
  auto g = identity_.get_group(std::string(account), std::string(name));
  if (!g) return group_status(g.take_status(), name);
  return g;
}

Result<std::vector<GroupRecord>> IamService::list_groups(std::string_view account) {
  return identity_.list_groups(std::string(account));
}

Result<std::vector<UserRecord>> IamService::group_members(std::string_view account,
                                                          std::string_view group) {
  auto names = identity_.list_group_members(std::string(account), std::string(group));
  if (!names) return group_status(names.take_status(), group);
  std::sort(names->begin(), names->end());
  std::vector<UserRecord> out;
  for (const auto& n : *names) {
    auto u = identity_.store().get_user(account, n);
    if (!u && u.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    if (!u) return u.take_status();
    out.push_back(std::move(u).value());
  }
  return out;
}

Status IamService::delete_group(std::string_view account, std::string_view name) {
  Status s = identity_.delete_group(std::string(account), std::string(name));
  if (s.code() == Code::kFailedPrecondition) {
    return error(Code::kFailedPrecondition,
                 fmt::format("Cannot delete entity, must remove users and policies from group {} "
                             "first.",
                             name));
  }
  return group_status(s, name);
}

Status IamService::add_user_to_group(std::string_view account, std::string_view group,
                                     std::string_view user) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  return identity_.add_user_to_group(std::string(account), std::string(group), std::string(user));
}

Status IamService::remove_user_from_group(std::string_view account, std::string_view group,
                                          std::string_view user) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  BERTH_RETURN_IF_ERROR(require_user(account, user));
  Status s =
      identity_.remove_user_from_group(std::string(account), std::string(group), std::string(user));
  if (s.code() == Code::kNotFound) {
    return error(Code::kNotFound, fmt::format("User {} is not in group {}.", user, group));
  }
  return s;
}

Status IamService::put_group_policy(std::string_view account, std::string_view group,
                                    std::string_view name, const PolicyDocument& document) {
  if (!iam_name_ok(name, 128)) return bad_policy_name();
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  return policies_.put_group_policy(account, group, name, document.text());
}

Result<std::string> IamService::get_group_policy(std::string_view account, std::string_view group,
                                                 std::string_view name) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  BERTH_ASSIGN_OR_RETURN(auto all, policies_.list_group_policies(account, group));
  for (auto& [n, text] : all) {
    if (n == name) return std::move(text);
  }
  return error(Code::kNotFound,
               fmt::format("The group policy with name {} cannot be found.", name));
}

Status IamService::delete_group_policy(std::string_view account, std::string_view group,
                                       std::string_view name) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  Status s = policies_.delete_group_policy(account, group, name);
  if (s.code() == Code::kNotFound) {
    return error(Code::kNotFound,
                 fmt::format("The group policy with name {} cannot be found.", name));
  }
  return s;
}

Result<std::vector<std::string>> IamService::list_group_policies(std::string_view account,
                                                                 std::string_view group) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  BERTH_ASSIGN_OR_RETURN(auto all, policies_.list_group_policies(account, group));
  std::vector<std::string> names;
  for (auto& [name, text] : all) names.push_back(std::move(name));
  return names;
}

Status IamService::attach_group_policy(std::string_view account, std::string_view group,
                                       std::string_view arn) {
  if (policy::managed_policy(arn) == nullptr) {
    return error(Code::kNotFound,
                 fmt::format("Policy {} does not exist or is not attachable.", arn));
  }
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  return policies_.attach_group_policy(account, group, arn);
}

Status IamService::detach_group_policy(std::string_view account, std::string_view group,
                                       std::string_view arn) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  Status s = policies_.detach_group_policy(account, group, arn);
  if (s.code() == Code::kNotFound) {
    return error(Code::kNotFound, fmt::format("Policy {} was not found.", arn));
  }
  return s;
}

Result<std::vector<std::string>> IamService::list_attached_group_policies(std::string_view account,
                                                                          std::string_view group) {
  BERTH_RETURN_IF_ERROR(require_group(account, group));
  return policies_.list_attached_group_policies(account, group);
}

}  // namespace berth::identity
