#include "identity/policy_source.h"

#include <fmt/format.h>

namespace berth::identity {

namespace {
constexpr size_t kMaxCachedDocuments = 4096;
constexpr size_t kMaxCachedRequests = 4096;

// An IAM action: its resource (AccessRequest::repository holds "user/<name>")
// has no resource policy.
bool outside_ecr(const auth::AccessRequest& request) {
  return !request.action.starts_with("ecr:");
}

// Which policies a request needs: the caller's, and the registry policy of an
// account or one repository's policy.
bool registry_level(const auth::AccessRequest& request) {
  return request.repository.empty() || request.action == "ecr:CreateRepository";
}

std::string request_key(const auth::Principal& principal, const auth::AccessRequest& request) {
  std::string key;
  key.reserve(principal.account_id.size() + principal.user_name.size() + request.account_id.size() +
              request.repository.size() + 8);
  key.append(principal.account_id).push_back('\0');
  key.append(principal.user_name).push_back('\0');
  key.append(request.account_id).push_back('\0');
  if (outside_ecr(request)) {
    key.push_back('I');  // identity policies only: the same for every such resource
  } else if (registry_level(request)) {
    key.push_back('R');
  } else {
    key.push_back('P');
    key.append(request.repository);
  }
  return key;
}
}  // namespace

Result<std::shared_ptr<const policy::Document>> StorePolicySource::parsed(const std::string& text,
                                                                          policy::Kind kind) {
  const std::string key = (kind == policy::Kind::kIdentity ? "i" : "r") + text;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto doc = policy::parse(text, kind);
  if (!doc)
    return error(Code::kInternal, "a stored policy no longer parses: " + doc.status().message());
  auto shared = std::make_shared<const policy::Document>(std::move(doc).value());
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCachedDocuments) cache_.clear();
  cache_.emplace(key, shared);
  return shared;
}

std::optional<auth::RequestPolicies> StorePolicySource::cached_policies_for(
    const auth::Principal& principal, const auth::AccessRequest& request) {
  if (!generation_) return std::nullopt;
  const std::optional<uint64_t> now_generation = generation_();
  if (!now_generation) return std::nullopt;
  const std::string key = request_key(principal, request);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto it = found_.find(key);
  if (it == found_.end() || it->second.generation != *now_generation || now >= it->second.expires) {
    return std::nullopt;
  }
  return it->second.policies;
}

Result<auth::RequestPolicies> StorePolicySource::policies_for(const auth::Principal& principal,
                                                              const auth::AccessRequest& request) {
  // Read before the store: a write racing with the reads below moves it, so
  // what they found is never served as current.
  const std::optional<uint64_t> read_generation = generation_ ? generation_() : std::nullopt;
  const auto read_at = std::chrono::steady_clock::now();
  BERTH_ASSIGN_OR_RETURN(auth::RequestPolicies out, read_policies(principal, request));
  if (read_generation) {
    std::lock_guard lock(mu_);
    if (found_.size() >= kMaxCachedRequests) found_.clear();
    found_.insert_or_assign(request_key(principal, request),
                            Found{*read_generation, read_at + kMaxPolicyAge, out});
  }
  return out;
}

Status StorePolicySource::read_group_policies(const auth::Principal& principal,
                                              auth::RequestPolicies& out) {
  if (identity_ == nullptr || principal.user_name.empty()) return Status::ok();
  auto groups = identity_->list_groups_for_user(principal.account_id, principal.user_name);
  // A user deleted since it was authenticated is in no group.
  if (!groups && groups.status().code() == Code::kNotFound) return Status::ok();
  if (!groups) return groups.take_status();
  for (const auto& group : *groups) {
    BERTH_ASSIGN_OR_RETURN(auto inline_policies,
                           meta_.list_group_policies(principal.account_id, group));
    for (const auto& [name, text] : inline_policies) {
      BERTH_ASSIGN_OR_RETURN(auto doc, parsed(text, policy::Kind::kIdentity));
      out.identity.push_back(std::move(doc));
    }
    BERTH_ASSIGN_OR_RETURN(auto attached,
                           meta_.list_attached_group_policies(principal.account_id, group));
    for (const auto& arn : attached) {
      const policy::Document* managed = policy::managed_policy(arn);
      if (managed != nullptr)
        out.identity.emplace_back(std::shared_ptr<const policy::Document>(), managed);
    }
  }
  return Status::ok();
}

Result<auth::RequestPolicies> StorePolicySource::read_policies(const auth::Principal& principal,
                                                               const auth::AccessRequest& request) {
  auth::RequestPolicies out;
  BERTH_ASSIGN_OR_RETURN(auto inline_policies,
                         meta_.list_user_policies(principal.account_id, principal.user_name));
  for (const auto& [name, text] : inline_policies) {
    BERTH_ASSIGN_OR_RETURN(auto doc, parsed(text, policy::Kind::kIdentity));
    out.identity.push_back(std::move(doc));
  }
  BERTH_ASSIGN_OR_RETURN(
      auto attached, meta_.list_attached_user_policies(principal.account_id, principal.user_name));
  for (const auto& arn : attached) {
    const policy::Document* managed = policy::managed_policy(arn);
    // Shared, never freed: an aliasing pointer that owns nothing.
    if (managed != nullptr)
      out.identity.emplace_back(std::shared_ptr<const policy::Document>(), managed);
  }
  BERTH_RETURN_IF_ERROR(read_group_policies(principal, out));

  std::optional<std::string> resource_text;
  std::optional<RepositoryId> repo_id;
  if (outside_ecr(request)) {
    // An IAM user: no resource policy.
  } else if (registry_level(request)) {
    BERTH_ASSIGN_OR_RETURN(resource_text, meta_.get_registry_policy(request.account_id));
  } else {
    auto repo = meta_.get_repository(request.account_id, request.repository);
    if (repo) {
      repo_id = repo->id;
      BERTH_ASSIGN_OR_RETURN(resource_text, meta_.get_repository_policy(repo->id));
    } else if (repo.status().code() != Code::kNameUnknown &&
               repo.status().code() != Code::kNameInvalid) {
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
