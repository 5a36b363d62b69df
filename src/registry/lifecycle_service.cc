// Lifecycle policies as the ECR operations manage them: validated storage of
// the policy text and the preview, planned by the same LifecycleRunner the
// background enforcement uses.
#include "core/lifecycle.h"
#include "meta/metadata_store.h"
#include "registry/lifecycle_runner.h"
#include "registry/registry.h"

namespace berth {

namespace {

Result<lifecycle::LifecyclePolicy> parse_policy(const std::string& text) {
  auto policy = lifecycle::parse_lifecycle_policy(text);
  if (!policy) return error(Code::kInvalidArgument, policy.status().message());
  return policy;
}

}  // namespace

Status Registry::set_lifecycle_policy(const RepositoryRecord& repo, const std::string& text) {
  BERTH_RETURN_IF_ERROR(parse_policy(text).status());
  return meta_.set_lifecycle_policy(repo.id, text);
}

Status Registry::delete_lifecycle_policy(const RepositoryRecord& repo) {
  return meta_.set_lifecycle_policy(repo.id, std::nullopt);
}

Result<LifecyclePreview> Registry::start_lifecycle_preview(const RepositoryRecord& repo,
                                                           const std::string& text) {
  BERTH_ASSIGN_OR_RETURN(auto policy, parse_policy(text));
  // Planning is a pure function over a snapshot and takes milliseconds, so
  // the preview is complete by the time this call returns.
  LifecycleRunner runner(meta_, clock_);
  BERTH_ASSIGN_OR_RETURN(auto planned, runner.plan(repo, policy));
  LifecyclePreview preview{text, "COMPLETE", clock_.now_seconds(), {}};
  for (const auto& p : planned) {
    preview.entries.push_back(PreviewEntry{p.expiration.digest, p.expiration.tags, p.pushed_at_ms,
                                           p.expiration.rule_priority});
  }
  LifecyclePreviewRecord rec{text, preview.status, preview.entries, preview.created_at};
  BERTH_RETURN_IF_ERROR(meta_.put_lifecycle_preview(repo.id, rec));
  return preview;
}

Result<LifecyclePreview> Registry::lifecycle_preview(const RepositoryRecord& repo) {
  BERTH_ASSIGN_OR_RETURN(auto rec, meta_.get_lifecycle_preview(repo.id));
  return LifecyclePreview{rec.policy_text, rec.status, rec.created_at, std::move(rec.results)};
}

}  // namespace berth
