// IdentityService: IAM user deletion, groups, memberships and user tags
// (identity_service.h). Names are checked here, as IAM checks them, before
// the store sees them.
#include <fmt/format.h>

#include "identity/identity_service.h"

namespace berth::identity {
namespace {

constexpr size_t kMaxUserName = 64;
constexpr size_t kMaxGroupName = 128;
constexpr size_t kMaxTagKey = 128;
constexpr size_t kMaxTagValue = 256;
constexpr size_t kMaxTagsPerCall = 50;

// IAM's [\w+=,.@-]{1,max}.
Status check_name(std::string_view what, const std::string& name, size_t max) {
  if (name.empty() || name.size() > max ||
      name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-") !=
          std::string::npos) {
    return error(Code::kInvalidArgument,
                 fmt::format("a {} name is 1-{} characters of [A-Za-z0-9+=,.@_-]", what, max));
  }
  return Status::ok();
}

Status check_user(const std::string& name) {
  return check_name("user", name, kMaxUserName);
}
Status check_group(const std::string& name) {
  return check_name("group", name, kMaxGroupName);
}

}  // namespace

Status IdentityService::delete_user(const std::string& account_id, const std::string& name,
                                    bool cascade) {
  BERTH_RETURN_IF_ERROR(check_user(name));
  Status s = store_.delete_user(account_id, name, cascade);
  if (s.is_ok()) invalidate();
  return s;
}

Status IdentityService::create_group(const std::string& account_id, const std::string& name) {
  BERTH_RETURN_IF_ERROR(check_group(name));
  Status s = store_.create_group(GroupRecord{account_id, name, clock_.now_seconds()});
  if (s.is_ok()) invalidate();
  return s;
}

Result<GroupRecord> IdentityService::get_group(const std::string& account_id,
                                               const std::string& name) {
  BERTH_RETURN_IF_ERROR(check_group(name));
  return store_.get_group(account_id, name);
}

Result<std::vector<GroupRecord>> IdentityService::list_groups(const std::string& account_id) {
  return store_.list_groups(account_id);
}

Status IdentityService::delete_group(const std::string& account_id, const std::string& name) {
  BERTH_RETURN_IF_ERROR(check_group(name));
  Status s = store_.delete_group(account_id, name);
  if (s.is_ok()) invalidate();
  return s;
}

Status IdentityService::add_user_to_group(const std::string& account_id, const std::string& group,
                                          const std::string& user) {
  BERTH_RETURN_IF_ERROR(check_group(group));
  BERTH_RETURN_IF_ERROR(check_user(user));
  Status s = store_.add_user_to_group(account_id, group, user);
  if (s.is_ok()) invalidate();
  return s;
}

Status IdentityService::remove_user_from_group(const std::string& account_id,
                                               const std::string& group, const std::string& user) {
  BERTH_RETURN_IF_ERROR(check_group(group));
  BERTH_RETURN_IF_ERROR(check_user(user));
  Status s = store_.remove_user_from_group(account_id, group, user);
  if (s.is_ok()) invalidate();
  return s;
}

Result<std::vector<std::string>> IdentityService::list_group_members(const std::string& account_id,
                                                                     const std::string& group) {
  BERTH_RETURN_IF_ERROR(check_group(group));
  return store_.list_group_members(account_id, group);
}

Result<std::vector<std::string>> IdentityService::list_groups_for_user(
    const std::string& account_id, const std::string& user) {
  BERTH_RETURN_IF_ERROR(check_user(user));
  return store_.list_groups_for_user(account_id, user);
}

Status IdentityService::tag_user(const std::string& account_id, const std::string& user,
                                 const std::vector<std::pair<std::string, std::string>>& tags) {
  BERTH_RETURN_IF_ERROR(check_user(user));
  if (tags.size() > kMaxTagsPerCall)
    return error(Code::kInvalidArgument, fmt::format("at most {} tags at once", kMaxTagsPerCall));
  for (const auto& [key, value] : tags) {
    if (key.empty() || key.size() > kMaxTagKey || value.size() > kMaxTagValue) {
      return error(Code::kInvalidArgument,
                   fmt::format("a tag key is 1-{} characters and its value at most {}", kMaxTagKey,
                               kMaxTagValue));
    }
  }
  Status s = store_.tag_user(account_id, user, tags);
  if (s.is_ok()) invalidate();
  return s;
}

Status IdentityService::untag_user(const std::string& account_id, const std::string& user,
                                   const std::vector<std::string>& keys) {
  BERTH_RETURN_IF_ERROR(check_user(user));
  if (keys.size() > kMaxTagsPerCall)
    return error(Code::kInvalidArgument, fmt::format("at most {} tags at once", kMaxTagsPerCall));
  for (const auto& key : keys) {
    if (key.empty() || key.size() > kMaxTagKey)
      return error(Code::kInvalidArgument, fmt::format("a tag key is 1-{} characters", kMaxTagKey));
  }
  Status s = store_.untag_user(account_id, user, keys);
  if (s.is_ok()) invalidate();
  return s;
}

Result<std::vector<std::pair<std::string, std::string>>> IdentityService::list_user_tags(
    const std::string& account_id, const std::string& user) {
  BERTH_RETURN_IF_ERROR(check_user(user));
  return store_.list_user_tags(account_id, user);
}

}  // namespace berth::identity
