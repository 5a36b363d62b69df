#include "registry/lifecycle_runner.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/events.h"
#include "log/log.h"
#include "registry/registry.h"
#include "registry/sbom_referrer.h"

namespace berth {

namespace {

// Whole seconds of a millisecond time, rounding down (also before 1970).
int64_t floor_seconds(int64_t ms) {
  return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

}  // namespace

Result<std::vector<PlannedExpiration>> LifecycleRunner::plan(
    const RepositoryRecord& repo, const lifecycle::LifecyclePolicy& policy) {
  BERTH_ASSIGN_OR_RETURN(auto images, meta_.list_images(repo.id, PageRequest{}));
  // Push order: by push time to the millisecond, exact ties by the store's
  // push sequence. The evaluator counts days in whole seconds and orders
  // images within a second by this rank.
  std::vector<size_t> order(images.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ManifestRecord& x = images[a].manifest;
    const ManifestRecord& y = images[b].manifest;
    if (x.pushed_at_ms != y.pushed_at_ms) return x.pushed_at_ms < y.pushed_at_ms;
    return x.push_sequence < y.push_sequence;
  });
  std::vector<int64_t> rank(images.size());
  for (size_t r = 0; r < order.size(); ++r) rank[order[r]] = static_cast<int64_t>(r);

  std::vector<lifecycle::GraphImage> graph;
  std::map<std::string, int64_t> pushed;
  std::set<std::string> generated_sboms;
  graph.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageRecord& img = images[i];
    lifecycle::GraphImage g;
    g.facts.digest = img.manifest.digest.str();
    g.facts.tags = img.tags;
    g.facts.pushed_at_seconds = floor_seconds(img.manifest.pushed_at_ms);
    if (img.manifest.last_pulled_at_ms)
      g.facts.last_pulled_at_seconds = floor_seconds(*img.manifest.last_pulled_at_ms);
    g.facts.push_order = rank[i];
    for (const auto& c : img.children) g.children.push_back(c.str());
    if (img.manifest.subject) g.subject = img.manifest.subject->str();
    pushed[g.facts.digest] = img.manifest.pushed_at_ms;
    if (is_generated_sbom(img.manifest)) generated_sboms.insert(g.facts.digest);
    graph.push_back(std::move(g));
  }
  std::vector<PlannedExpiration> out;
  for (auto& e : lifecycle::plan_expirations(policy, graph, clock_.now_seconds())) {
    const int64_t at = pushed[e.digest];
    const bool sbom = generated_sboms.count(e.digest) > 0;
    out.push_back(PlannedExpiration{std::move(e), at, sbom});
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
    // The expiry's event is written in the expiry's own transaction.
    DeletionEvents events;
    if (record_events_ && !p.generated_sbom) {
      events = [this, &repo](const Digest& d, const std::vector<std::string>& tags) {
        return std::vector<OutboxEvent>{lifecycle_expiry_event(
            new_event_id(), repo.account_id, repo.name, d.str(), tags, clock_.now_millis())};
      };
    }
    Status s = meta_.expire_manifest(repo.id, *digest, p.expiration.tags, events);
    if (!s.is_ok()) {
      if (s.code() != Code::kManifestUnknown) {
        log::info(
            "lifecycle kept an image",
            {{"repository", repo.name}, {"digest", p.expiration.digest}, {"reason", s.message()}});
      }
      continue;
    }
    done.push_back(
        ExpirationRecord{repo.name, *digest, p.expiration.tags, p.expiration.rule_priority, now});
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
      log::error("lifecycle policy run failed",
                 {{"repository", r.name}, {"error", n.status().to_string()}});
      continue;
    }
    total += *n;
  }
  return total;
}

}  // namespace berth
