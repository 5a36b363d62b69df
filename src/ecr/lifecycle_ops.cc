// Lifecycle policy operations. The preview runs the same planner the
// background enforcement uses (registry/lifecycle_runner.h).
#include <boost/json.hpp>
#include <fmt/format.h>

#include <set>

#include "core/lifecycle.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"
#include "registry/lifecycle_runner.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

EcrError policy_not_found(std::string_view name, std::string_view account) {
  return ecr_error("LifecyclePolicyNotFoundException",
                   fmt::format("Lifecycle policy does not exist for the repository with name '{}' in the registry "
                               "with id '{}'",
                               name, account));
}

// ECR always returns lastEvaluatedAt; a policy never evaluated shows the
// epoch, as ECR's own does.
json::value last_evaluated_at(const RepositoryRecord& repo) {
  return timestamp(repo.lifecycle_evaluated_at.value_or(0));
}

Field<lifecycle::LifecyclePolicy> validate_policy(const std::string& text) {
  auto policy = lifecycle::parse_lifecycle_policy(text);
  if (!policy) return invalid_parameter(policy.status().message());
  return std::move(policy).value();
}

}  // namespace

EcrResult EcrApi::put_lifecycle_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto text, req_string(c.input, "lifecyclePolicyText", 1));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  ECR_ASSIGN(auto policy, validate_policy(text));
  (void)policy;
  if (Status s = registry_.metadata().set_lifecycle_policy(repo->id, text); !s.is_ok()) return from_status(s);
  return json::object{{"registryId", c.account}, {"repositoryName", name}, {"lifecyclePolicyText", text}};
}

EcrResult EcrApi::get_lifecycle_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  if (!repo->lifecycle_policy) return policy_not_found(name, c.account);
  json::object out{{"registryId", c.account}, {"repositoryName", name}, {"lifecyclePolicyText", *repo->lifecycle_policy}};
  out["lastEvaluatedAt"] = last_evaluated_at(*repo);
  return out;
}

EcrResult EcrApi::delete_lifecycle_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  if (!repo->lifecycle_policy) return policy_not_found(name, c.account);
  if (Status s = registry_.metadata().set_lifecycle_policy(repo->id, std::nullopt); !s.is_ok()) return from_status(s);
  json::object out{{"registryId", c.account}, {"repositoryName", name}, {"lifecyclePolicyText", *repo->lifecycle_policy}};
  out["lastEvaluatedAt"] = last_evaluated_at(*repo);
  return out;
}

EcrResult EcrApi::start_lifecycle_policy_preview(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto given, opt_string(c.input, "lifecyclePolicyText"));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  std::string text;
  if (given) {
    text = *given;
  } else if (repo->lifecycle_policy) {
    text = *repo->lifecycle_policy;
  } else {
    return policy_not_found(name, c.account);
  }
  ECR_ASSIGN(auto policy, validate_policy(text));
  // Planning is a pure function over a snapshot and takes milliseconds, so
  // the preview is complete by the time this call returns.
  LifecycleRunner runner(registry_.metadata(), registry_.clock());
  auto planned = runner.plan(*repo, policy);
  if (!planned) return from_status(planned.status());
  std::vector<LifecyclePreviewResult> results;
  for (const auto& p : *planned) {
    results.push_back(LifecyclePreviewResult{p.expiration.digest, p.expiration.tags, p.pushed_at_ms,
                                             p.expiration.rule_priority});
  }
  LifecyclePreviewRecord rec{text, "COMPLETE", std::move(results), registry_.clock().now_seconds()};
  if (Status s = registry_.metadata().put_lifecycle_preview(repo->id, rec); !s.is_ok()) return from_status(s);
  return json::object{{"registryId", c.account},
                      {"repositoryName", name},
                      {"lifecyclePolicyText", text},
                      {"status", "IN_PROGRESS"}};
}

EcrResult EcrApi::get_lifecycle_policy_preview(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto page, paging(c.input, 100, 100));
  ECR_ASSIGN(auto ids, opt_array(c.input, "imageIds", 1, 100));
  ECR_ASSIGN(auto filter, opt_object(c.input, "filter"));
  std::optional<std::string> tag_status;
  if (filter) {
    ECR_ASSIGN(tag_status, opt_string(**filter, "tagStatus"));
    if (tag_status && *tag_status != "TAGGED" && *tag_status != "UNTAGGED" && *tag_status != "ANY") {
      return constraint_error("filter.tagStatus", "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]");
    }
  }
  if (ids && (page.next_token || page.explicit_max)) {
    return invalid_parameter("Invalid parameter: nextToken and maxResults cannot be used with imageIds");
  }
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  auto preview = registry_.metadata().get_lifecycle_preview(repo->id);
  if (!preview) {
    return ecr_error("LifecyclePolicyPreviewNotFoundException",
                     fmt::format("There is no dry run for the repository with name '{}' in the registry with id '{}'",
                                 name, c.account));
  }
  const std::vector<LifecyclePreviewResult>& all = preview->results;

  std::set<std::string> wanted_digests;
  std::set<std::string> wanted_tags;
  if (ids) {
    for (const auto& id : **ids) {
      if (!id.is_object()) return serialization_error("imageIds", "a list of ImageIdentifier structures");
      ECR_ASSIGN(auto d, opt_string(id.as_object(), "imageDigest"));
      ECR_ASSIGN(auto t, opt_string(id.as_object(), "imageTag"));
      if (d) wanted_digests.insert(*d);
      if (t) wanted_tags.insert(*t);
    }
  }
  std::string scope = fmt::format("{}/{}/{}/{}", c.account, name, preview->created_at, tag_status.value_or("ANY"));
  std::string after;
  if (page.next_token) {
    auto a = read_next_token(c.operation, scope, *page.next_token);
    if (!a) return invalid_parameter(a.status().message());
    after = *a;
  }
  json::array results;
  json::object out{{"registryId", c.account},
                   {"repositoryName", name},
                   {"lifecyclePolicyText", preview->policy_text},
                   {"status", preview->status}};
  bool skipping = !after.empty();
  std::string last;
  for (const auto& r : all) {
    const std::string& digest = r.digest;
    const std::vector<std::string>& tags = r.tags;
    if (tag_status && *tag_status != "ANY" && (*tag_status == "TAGGED") == tags.empty()) continue;
    if (ids) {
      bool match = wanted_digests.count(digest) > 0;
      for (const auto& t : tags) match = match || wanted_tags.count(t) > 0;
      if (!match) continue;
    }
    if (skipping) {
      if (digest == after) skipping = false;
      continue;
    }
    if (results.size() == page.max_results) {
      out["nextToken"] = make_next_token(c.operation, scope, last);
      break;
    }
    json::object e{{"imageDigest", digest},
                   {"imagePushedAt", timestamp_ms(r.pushed_at_ms)},
                   {"action", json::object{{"type", "EXPIRE"}}},
                   {"appliedRulePriority", r.rule_priority}};
    if (!tags.empty()) {
      json::array t;
      for (const auto& tag : tags) t.emplace_back(tag);
      e["imageTags"] = std::move(t);
    }
    results.push_back(std::move(e));
    last = digest;
  }
  out["previewResults"] = std::move(results);
  out["summary"] = json::object{{"expiringImageTotalCount", static_cast<int64_t>(all.size())}};
  return out;
}

}  // namespace berth::ecr
