// Repository and registry policies: validated here (core/policy.h), stored
// through the PolicyStore role; evaluated by auth::AccessControl.
#include "core/policy.h"
#include "meta/metadata_store.h"
#include "registry/registry.h"

namespace berth {

Result<std::optional<std::string>> Registry::repository_policy(const RepositoryRecord& repo) {
  return meta_.get_repository_policy(repo.id);
}

Status Registry::set_repository_policy(const RepositoryRecord& repo, const std::string& text) {
  if (auto doc = policy::parse(text, policy::Kind::kResource); !doc) return doc.take_status();
  auto before = meta_.set_repository_policy(repo.id, text);
  return before.take_status();
}

Result<std::optional<std::string>> Registry::delete_repository_policy(
    const RepositoryRecord& repo) {
  return meta_.set_repository_policy(repo.id, std::nullopt);
}

Result<std::optional<std::string>> Registry::registry_policy(std::string_view account) {
  return meta_.get_registry_policy(account);
}

Status Registry::set_registry_policy(std::string_view account, const std::string& text) {
  if (auto doc = policy::parse(text, policy::Kind::kResource); !doc) return doc.take_status();
  auto before = meta_.set_registry_policy(account, text);
  return before.take_status();
}

Result<std::optional<std::string>> Registry::delete_registry_policy(std::string_view account) {
  return meta_.set_registry_policy(account, std::nullopt);
}

}  // namespace berth
