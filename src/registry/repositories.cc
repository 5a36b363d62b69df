// Repositories' ECR settings and resource tags.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "meta/metadata_store.h"
#include "registry/registry.h"

namespace berth {

namespace {

void apply(RepositoryRecord& repo, const TagMutabilityConfig& config) {
  repo.tag_mutability = std::string(format_tag_mutability(config.mode));
  repo.tag_mutability_exclusions = config.exclusion_filters;
}

Status check_tag_count(size_t n) {
  if (n > kMaxResourceTags) {
    return error(Code::kLimitExceeded,
                 fmt::format("A resource may have at most {} tags", kMaxResourceTags));
  }
  return Status::ok();
}

}  // namespace

Result<RepositoryRecord> Registry::create_repository(const NewRepository& request) {
  BERTH_RETURN_IF_ERROR(check_tag_count(request.tags.size()));
  BERTH_ASSIGN_OR_RETURN(
      auto config, make_tag_mutability_config(request.tag_mutability, request.exclusion_filters));
  RepositoryRecord r;
  r.account_id = request.account;
  r.name = request.name;
  r.created_at = clock_.now_seconds();
  apply(r, config);
  r.scan_on_push = request.scan_on_push;
  r.encryption_type = request.encryption_type;
  r.kms_key = request.kms_key;
  BERTH_ASSIGN_OR_RETURN(RepositoryRecord created, meta_.create_repository(r));
  if (!request.tags.empty())
    BERTH_RETURN_IF_ERROR(meta_.set_resource_tags(created.id, request.tags));
  return created;
}

Result<RepositoryRecord> Registry::set_tag_mutability(const RepositoryRecord& repo,
                                                      const TagMutabilityConfig& config) {
  BERTH_RETURN_IF_ERROR(validate_tag_mutability_config(config));
  RepositoryRecord updated = repo;
  apply(updated, config);
  BERTH_RETURN_IF_ERROR(meta_.update_repository(updated));
  return updated;
}

Result<RepositoryRecord> Registry::set_scan_on_push(const RepositoryRecord& repo,
                                                    bool scan_on_push) {
  RepositoryRecord updated = repo;
  updated.scan_on_push = scan_on_push;
  BERTH_RETURN_IF_ERROR(meta_.update_repository(updated));
  return updated;
}

Result<ResourceTags> Registry::resource_tags(const RepositoryRecord& repo) {
  return meta_.get_resource_tags(repo.id);
}

Status Registry::tag_resource(const RepositoryRecord& repo, const ResourceTags& tags) {
  BERTH_RETURN_IF_ERROR(check_tag_count(tags.size()));
  return meta_.update_resource_tags(repo.id, tags, {}, kMaxResourceTags);
}

Status Registry::untag_resource(const RepositoryRecord& repo,
                                const std::vector<std::string>& keys) {
  return meta_.update_resource_tags(repo.id, {}, keys, kMaxResourceTags);
}

}  // namespace berth
