// Lifecycle policy operations: wire mapping over the Registry's lifecycle
// functions (registry/lifecycle_service.cc), whose preview runs the same
// planner the background enforcement uses.
#include <fmt/format.h>
#include <boost/json.hpp>

#include <set>

#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

EcrError policy_not_found(std::string_view name, std::string_view account) {
  return ecr_error(
      "LifecyclePolicyNotFoundException",
      fmt::format(
          "Lifecycle policy does not exist for the repository with name '{}' in the registry "
          "with id '{}'",
          name, account));
}

// ECR always returns lastEvaluatedAt; a policy never evaluated shows the
// epoch, as ECR's own does.
json::value last_evaluated_at(const RepositoryRecord& repo) {
  return timestamp(repo.lifecycle_evaluated_at.value_or(0));
}

}  // namespace

EcrResult EcrApi::put_lifecycle_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto text, req_string(c.input, "lifecyclePolicyText", 1));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  if (Status s = registry_.set_lifecycle_policy(*repo, text); !s.is_ok()) return from_status(s);
  return json::object{
      {"registryId", c.account}, {"repositoryName", name}, {"lifecyclePolicyText", text}};
}

EcrResult EcrApi::get_lifecycle_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  if (!repo->lifecycle_policy) return policy_not_found(name, c.account);
  json::object out{{"registryId", c.account},
                   {"repositoryName", name},
                   {"lifecyclePolicyText", *repo->lifecycle_policy}};
  out["lastEvaluatedAt"] = last_evaluated_at(*repo);
  return out;
}

EcrResult EcrApi::delete_lifecycle_policy(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  if (!repo->lifecycle_policy) return policy_not_found(name, c.account);
  if (Status s = registry_.delete_lifecycle_policy(*repo); !s.is_ok()) return from_status(s);
  json::object out{{"registryId", c.account},
                   {"repositoryName", name},
                   {"lifecyclePolicyText", *repo->lifecycle_policy}};
  out["lastEvaluatedAt"] = last_evaluated_at(*repo);
  return out;
}

EcrResult EcrApi::start_lifecycle_policy_preview(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto given, opt_string(c.input, "lifecyclePolicyText"));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  std::string text;
  if (given) {
    text = *given;
  } else if (repo->lifecycle_policy) {
    text = *repo->lifecycle_policy;
  } else {
    return policy_not_found(name, c.account);
  }
  auto preview = registry_.start_lifecycle_preview(*repo, text);
  if (!preview) return from_status(preview.status());
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
  TagStatus tag_status = TagStatus::kAny;
  if (filter) {
    ECR_ASSIGN(auto text, opt_string(**filter, "tagStatus"));
    if (text) {
      auto parsed = parse_tag_status(*text);
      if (!parsed) return constraint_error("filter.tagStatus", parsed.status().message());
      tag_status = *parsed;
    }
  }
  if (ids && (page.next_token || page.explicit_max)) {
    return invalid_parameter(
        "Invalid parameter: nextToken and maxResults cannot be used with imageIds");
  }
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto preview = registry_.lifecycle_preview(*repo);
  if (!preview) {
    if (preview.status().code() != Code::kLifecyclePolicyPreviewNotFound)
      return from_status(preview.status());
    return ecr_error(
        "LifecyclePolicyPreviewNotFoundException",
        fmt::format(
            "There is no dry run for the repository with name '{}' in the registry with id '{}'",
            name, c.account));
  }

  std::set<std::string> wanted_digests;
  std::set<std::string> wanted_tags;
  if (ids) {
    for (const auto& id : **ids) {
      if (!id.is_object())
        return serialization_error("imageIds", "a list of ImageIdentifier structures");
      ECR_ASSIGN(auto d, opt_string(id.as_object(), "imageDigest"));
      ECR_ASSIGN(auto t, opt_string(id.as_object(), "imageTag"));
      if (d) wanted_digests.insert(*d);
      if (t) wanted_tags.insert(*t);
    }
  }
  std::string scope = fmt::format("{}/{}/{}/{}", c.account, name, preview->created_at,
                                  format_tag_status(tag_status));
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
  for (const auto& r : preview->entries) {
    if (!tag_status_passes(tag_status, !r.tags.empty())) continue;
    if (ids) {
      bool match = wanted_digests.count(r.digest) > 0;
      for (const auto& t : r.tags) match = match || wanted_tags.count(t) > 0;
      if (!match) continue;
    }
    if (skipping) {
      if (r.digest == after) skipping = false;
      continue;
    }
    if (results.size() == page.max_results) {
      out["nextToken"] = make_next_token(c.operation, scope, last);
      break;
    }
    json::object e{{"imageDigest", r.digest},
                   {"imagePushedAt", timestamp_ms(r.pushed_at_ms)},
                   {"action", json::object{{"type", "EXPIRE"}}},
                   {"appliedRulePriority", r.rule_priority}};
    if (!r.tags.empty()) {
      json::array tags;
      for (const auto& t : r.tags) tags.emplace_back(t);
      e["imageTags"] = std::move(tags);
    }
    results.push_back(std::move(e));
    last = r.digest;
  }
  out["previewResults"] = std::move(results);
  out["summary"] =
      json::object{{"expiringImageTotalCount", static_cast<int64_t>(preview->entries.size())}};
  return out;
}

}  // namespace berth::ecr
