// PolicyStore: the texts of IAM-style policies (core/policy.h): one policy
// per repository, one registry policy per account, and per user the inline
// policies (name -> document) and the managed policy ARNs attached. A role of
// MetadataStore (meta/metadata_store.h); every method is thread-safe and
// atomic, failures are values as described there. The store keeps texts as
// given; validating them is the caller's business. Users and groups live in
// the IdentityStore: this role neither checks nor cascades on them (the
// IdentityStore refuses to delete a group that still has policies, and
// removes a user's with it when asked to cascade).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace berth {

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;

  // A repository's policy; it goes with the repository. nullopt when none.
  virtual Result<std::optional<std::string>> get_repository_policy(RepositoryId repo) = 0;
  // Sets (a text) or removes (nullopt) the policy; returns the text it
  // replaced, nullopt when there was none.
  virtual Result<std::optional<std::string>> set_repository_policy(
      RepositoryId repo, const std::optional<std::string>& text) = 0;

  // An account's registry policy, as above.
  virtual Result<std::optional<std::string>> get_registry_policy(std::string_view account_id) = 0;
  virtual Result<std::optional<std::string>> set_registry_policy(
      std::string_view account_id, const std::optional<std::string>& text) = 0;

  // A user's inline policies, (name, text) in byte order of name.
  virtual Result<std::vector<std::pair<std::string, std::string>>> list_user_policies(
      std::string_view account_id, std::string_view user) = 0;
  // Creates or replaces the inline policy `name`.
  virtual Status put_user_policy(std::string_view account_id, std::string_view user,
                                 std::string_view name, std::string_view text) = 0;
  // kNotFound when the user has no inline policy `name`.
  virtual Status delete_user_policy(std::string_view account_id, std::string_view user,
                                    std::string_view name) = 0;

  // The managed policy ARNs attached to a user, in byte order.
  virtual Result<std::vector<std::string>> list_attached_user_policies(std::string_view account_id,
                                                                       std::string_view user) = 0;
  // Attaching twice is not an error.
  virtual Status attach_user_policy(std::string_view account_id, std::string_view user,
                                    std::string_view arn) = 0;
  // kNotFound when `arn` is not attached.
  virtual Status detach_user_policy(std::string_view account_id, std::string_view user,
                                    std::string_view arn) = 0;

  // A group's policies, as the user methods above. Each change bumps the
  // identity generation (meta/identity_store.h) in the same transaction, so
  // that every node drops the decisions it keeps for the group's members.
  virtual Result<std::vector<std::pair<std::string, std::string>>> list_group_policies(
      std::string_view account_id, std::string_view group) = 0;
  virtual Status put_group_policy(std::string_view account_id, std::string_view group,
                                  std::string_view name, std::string_view text) = 0;
  // kNotFound when the group has no inline policy `name`.
  virtual Status delete_group_policy(std::string_view account_id, std::string_view group,
                                     std::string_view name) = 0;
  virtual Result<std::vector<std::string>> list_attached_group_policies(std::string_view account_id,
                                                                        std::string_view group) = 0;
  // Attaching twice is not an error.
  virtual Status attach_group_policy(std::string_view account_id, std::string_view group,
                                     std::string_view arn) = 0;
  // kNotFound when `arn` is not attached.
  virtual Status detach_group_policy(std::string_view account_id, std::string_view group,
                                     std::string_view arn) = 0;
};

}  // namespace berth
