#include "registry/lifecycle_runner.h"

#include <map>

#include "log/log.h"

namespace berth {

Result<std::vector<PlannedExpiration>> LifecycleRunner::plan(const RepositoryRecord& repo,
                                                             const lifecycle::LifecyclePolicy& policy) {
  BERTH_ASSIGN_OR_RETURN(auto images, meta_.list_images(repo.id, PageRequest{}));
  std::vector<lifecycle::GraphImage> graph;
  std::map<std::string, int64_t> pushed;
  graph.reserve(images.size());
  for (const auto& img : images) {
    lifecycle::GraphImage g;
    g.facts.digest = img.manifest.digest.str();
    g.facts.tags = img.tags;
    g.facts.pushed_at_seconds = img.manifest.pushed_at;
    g.facts.last_pulled_at_seconds = img.manifest.last_pulled_at;
    for (const auto& c : img.children) g.children.push_back(c.str());
    if (img.manifest.subject) g.subject = img.manifest.subject->str();
    pushed[g.facts.digest] = img.manifest.pushed_at;
    graph.push_back(std::move(g));
  }
  std::vector<PlannedExpiration> out;
  for (auto& e : lifecycle::plan_expirations(policy, graph, clock_.now_seconds())) {
    int64_t at = pushed[e.digest];
    out.push_back(PlannedExpiration{std::move(e), at});
  }
  return out;
}

Result<size_t> LifecycleRunner::enforce(const RepositoryRecord& repo) {
  if (!repo.lifecycle_policy) return size_t{0};
  auto policy = lifecycle::parse_lifecycle_policy(*repo.lifecycle_policy);
  if (!policy) return policy.take_status();
  BERTH_ASSIGN_OR_RETURN(auto planned, plan(repo, *policy));
  std::vector<ExpirationRecord> done;
  const int64_t now = clock_.now_seconds();
  // Parents come before the dependents that go with them, so an index is
  // gone before its children are deleted.
  for (const auto& p : planned) {
    auto digest = Digest::parse(p.expiration.digest);
    if (!digest) continue;
    Status s = meta_.expire_manifest(repo.id, *digest, p.expiration.tags);
    if (!s.is_ok()) {
      if (s.code() != Code::kManifestUnknown) {
        log::info("lifecycle kept an image", {{"repository", repo.name},
                                              {"digest", p.expiration.digest},
                                              {"reason", s.message()}});
      }
      continue;
    }
    done.push_back(ExpirationRecord{repo.name, *digest, p.expiration.tags, p.expiration.rule_priority, now});
  }
  BERTH_RETURN_IF_ERROR(meta_.record_expirations(done));
  BERTH_RETURN_IF_ERROR(meta_.mark_lifecycle_evaluated(repo.id, now));
  for (const auto& e : done) {
    boost::json::array tags;
    for (const auto& t : e.tags) tags.emplace_back(t);
    log::info("lifecycle expired an image", {{"repository", e.repository},
                                             {"digest", e.digest.str()},
                                             {"tags", std::move(tags)},
                                             {"rule_priority", e.rule_priority}});
  }
  return done.size();
}

Result<size_t> LifecycleRunner::enforce_all() {
  BERTH_ASSIGN_OR_RETURN(auto repos, meta_.repositories_with_lifecycle_policy());
  size_t total = 0;
  for (const auto& r : repos) {
    auto n = enforce(r);
    if (!n) {
      log::error("lifecycle policy run failed", {{"repository", r.name}, {"error", n.status().to_string()}});
      continue;
    }
    total += *n;
  }
  return total;
}

}  // namespace berth
