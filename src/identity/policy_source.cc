#include "identity/policy_source.h"

#include <fmt/format.h>

namespace berth::identity {

namespace {
constexpr size_t kMaxCachedDocuments = 4096;
}

Result<std::shared_ptr<const policy::Document>> StorePolicySource::parsed(const std::string& text, policy::Kind kind) {
  const std::string key = (kind == policy::Kind::kIdentity ? "i" : "r") + text;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto doc = policy::parse(text, kind);
  if (!doc) return error(Code::kInternal, "a stored policy no longer parses: " + doc.status().message());
  auto shared = std::make_shared<const policy::Document>(std::move(doc).value());
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCachedDocuments) cache_.clear();
  cache_.emplace(key, shared);
  return shared;
}

Result<auth::RequestPolicies> StorePolicySource::policies_for(const auth::Principal& principal,
                                                              const auth::AccessRequest& request) {
  auth::RequestPolicies out;
  BERTH_ASSIGN_OR_RETURN(auto inline_policies, meta_.list_user_policies(principal.account_id, principal.user_name));
  for (const auto& [name, text] : inline_policies) {
    BERTH_ASSIGN_OR_RETURN(auto doc, parsed(text, policy::Kind::kIdentity));
    out.identity.push_back(std::move(doc));
  }
  BERTH_ASSIGN_OR_RETURN(auto attached, meta_.list_attached_user_policies(principal.account_id, principal.user_name));
  for (const auto& arn : attached) {
    const policy::Document* managed = policy::managed_policy(arn);
    // Shared, never freed: an aliasing pointer that owns nothing.
    if (managed != nullptr) out.identity.emplace_back(std::shared_ptr<const policy::Document>(), managed);
  }

  std::optional<std::string> resource_text;
  std::optional<RepositoryId> repo_id;
  if (request.repository.empty() || request.action == "ecr:CreateRepository") {
    BERTH_ASSIGN_OR_RETURN(resource_text, meta_.get_registry_policy(request.account_id));
  } else {
    auto repo = meta_.get_repository(request.account_id, request.repository);
    if (repo) {
      repo_id = repo->id;
      BERTH_ASSIGN_OR_RETURN(resource_text, meta_.get_repository_policy(repo->id));
    } else if (repo.status().code() != Code::kNameUnknown && repo.status().code() != Code::kNameInvalid) {
      return repo.take_status();
    }
  }
  if (resource_text) {
    BERTH_ASSIGN_OR_RETURN(out.resource, parsed(*resource_text, policy::Kind::kResource));
  }
  bool needs_tags = out.resource && out.resource->uses_resource_tags;
  for (const auto& d : out.identity) needs_tags = needs_tags || d->uses_resource_tags;
  if (needs_tags && repo_id) {
    BERTH_ASSIGN_OR_RETURN(out.resource_tags, meta_.get_resource_tags(*repo_id));
  }
  return out;
}

}  // namespace berth::identity
