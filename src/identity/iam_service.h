// IAM's user, access key and policy operations over berth's stores, validated
// as IAM validates them: what the IAM API (iam/) calls, the same data that
// `berth admin` manages. Users and keys go through IdentityService (which
// drops its caches of keys on every change); policies go to the PolicyStore.
// Errors are values with IAM's wording in the message: kInvalidArgument
// (ValidationError), kNotFound (NoSuchEntity), kAlreadyExists
// (EntityAlreadyExists), kLimitExceeded (LimitExceeded).
//
// Thread-safe; blocking (store calls): call it off the event loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "identity/identity_service.h"
#include "meta/identity_store.h"
#include "meta/policy_store.h"

namespace berth::identity {

// An identity policy document that parses (core/policy.h), kept as given.
// Only parse() makes one, so what the store receives has been validated.
class PolicyDocument {
 public:
  // IAM's bound on a document's size (a user's inline policies: 2048
  // characters in AWS without whitespace; berth counts bytes, whitespace too,
  // up to the model's maximum).
  static constexpr size_t kMaxBytes = 131072;
  // kInvalidArgument with the parser's IAM-style message when malformed
  // (IAM's MalformedPolicyDocument), or when empty or over kMaxBytes.
  static Result<PolicyDocument> parse(std::string text);
  const std::string& text() const { return text_; }

 private:
  explicit PolicyDocument(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

class IamService {
 public:
  // AWS's quota of access keys per user.
  static constexpr size_t kMaxAccessKeysPerUser = 2;

  // Both borrowed; they must outlive this object.
  IamService(IdentityService& identity, PolicyStore& policies)
      : identity_(identity), policies_(policies) {}

  // --- users ------------------------------------------------------------------
  // A user without rights (not an admin). kInvalidArgument for a name that is
  // not 1-64 characters of [A-Za-z0-9+=,.@_-]; kAlreadyExists.
  Result<UserRecord> create_user(std::string_view account, std::string_view name);
  // kNotFound: "The user with name <name> cannot be found."
  Result<UserRecord> get_user(std::string_view account, std::string_view name);
  // In byte order of name.
  Result<std::vector<UserRecord>> list_users(std::string_view account);
  // kNotFound; kFailedPrecondition (IAM's DeleteConflict) while the user has
  // access keys, policies or group memberships.
  Status delete_user(std::string_view account, std::string_view name);
  // Adds or replaces tags. kNotFound; kInvalidArgument (IdentityService's limits).
  Status tag_user(std::string_view account, std::string_view user,
                  const std::vector<std::pair<std::string, std::string>>& tags);

  // --- groups -------------------------------------------------------------------
  // kInvalidArgument (name), kAlreadyExists.
  Result<GroupRecord> create_group(std::string_view account, std::string_view name);
  // kNotFound: "The group with name <name> cannot be found."
  Result<GroupRecord> get_group(std::string_view account, std::string_view name);
  // In byte order of name.
  Result<std::vector<GroupRecord>> list_groups(std::string_view account);
  // The members, in byte order. kNotFound (group).
  Result<std::vector<UserRecord>> group_members(std::string_view account, std::string_view group);
  // kNotFound; kFailedPrecondition while it has members or policies.
  Status delete_group(std::string_view account, std::string_view name);
  // kNotFound (group or user); adding twice is fine.
  Status add_user_to_group(std::string_view account, std::string_view group, std::string_view user);
  // kNotFound (group, user, or not a member).
  Status remove_user_from_group(std::string_view account, std::string_view group,
                                std::string_view user);

  // --- a group's policies, as a user's --------------------------------------------
  Status put_group_policy(std::string_view account, std::string_view group, std::string_view name,
                          const PolicyDocument& document);
  Result<std::string> get_group_policy(std::string_view account, std::string_view group,
                                       std::string_view name);
  Status delete_group_policy(std::string_view account, std::string_view group,
                             std::string_view name);
  Result<std::vector<std::string>> list_group_policies(std::string_view account,
                                                       std::string_view group);
  Status attach_group_policy(std::string_view account, std::string_view group,
                             std::string_view arn);
  Status detach_group_policy(std::string_view account, std::string_view group,
                             std::string_view arn);
  Result<std::vector<std::string>> list_attached_group_policies(std::string_view account,
                                                                std::string_view group);

  // --- access keys of one user ------------------------------------------------
  // A new active key; its secret is in the answer only. kNotFound (user),
  // kLimitExceeded when the user has kMaxAccessKeysPerUser keys already.
  Result<std::pair<AccessKeyRecord, NewAccessKey>> create_access_key(std::string_view account,
                                                                     std::string_view user);
  // In creation order. kNotFound (user).
  Result<std::vector<AccessKeyRecord>> list_access_keys(std::string_view account,
                                                        std::string_view user);
  // kNotFound when the user or a key of that user with that id does not exist.
  // Disabling revokes the registry tokens the key issued (IdentityService).
  Status set_access_key_active(std::string_view account, std::string_view user,
                               std::string_view key_id, bool active);
  Status delete_access_key(std::string_view account, std::string_view user,
                           std::string_view key_id);

  // --- a user's inline policies ------------------------------------------------
  // Creates or replaces. kInvalidArgument for a name that is not 1-128
  // characters of [A-Za-z0-9+=,.@_-]; kNotFound (user).
  Status put_user_policy(std::string_view account, std::string_view user, std::string_view name,
                         const PolicyDocument& document);
  // The document as stored. kNotFound (user, or no such policy).
  Result<std::string> get_user_policy(std::string_view account, std::string_view user,
                                      std::string_view name);
  Status delete_user_policy(std::string_view account, std::string_view user, std::string_view name);
  // Names in byte order. kNotFound (user).
  Result<std::vector<std::string>> list_user_policies(std::string_view account,
                                                      std::string_view user);

  // --- managed policies attached to a user -------------------------------------
  // kNotFound for a user that does not exist or an ARN that is not one of
  // policy::managed_policy_arns() (IAM: "does not exist or is not
  // attachable"). Attaching twice is not an error.
  Status attach_user_policy(std::string_view account, std::string_view user, std::string_view arn);
  // kNotFound (user, or the ARN not attached).
  Status detach_user_policy(std::string_view account, std::string_view user, std::string_view arn);
  // ARNs in byte order. kNotFound (user).
  Result<std::vector<std::string>> list_attached_user_policies(std::string_view account,
                                                               std::string_view user);

 private:
  // ok when the user exists; kNotFound with IAM's message otherwise.
  Status require_user(std::string_view account, std::string_view user);
  Status require_group(std::string_view account, std::string_view group);
  // The key, when it exists and belongs to `user` of `account`.
  Result<AccessKeyRecord> key_of_user(std::string_view account, std::string_view user,
                                      std::string_view key_id);

  IdentityService& identity_;
  PolicyStore& policies_;
};

// The name of a managed policy ARN: what follows "policy/" (IAM's PolicyName).
std::string_view managed_policy_name(std::string_view arn);

}  // namespace berth::identity
