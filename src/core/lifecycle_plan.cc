#include "core/lifecycle_plan.h"

#include <map>
#include <set>

namespace berth::lifecycle {

std::vector<Expiration> plan_expirations(const LifecyclePolicy& policy,
                                         const std::vector<GraphImage>& images,
                                         int64_t now_seconds) {
  std::map<std::string, const GraphImage*> by_digest;
  for (const auto& g : images) by_digest[g.facts.digest] = &g;

  // Who keeps whom: parent -> dependents, dependent -> parents.
  std::map<std::string, std::vector<std::string>> parents;
  for (const auto& g : images) {
    for (const auto& c : g.children) {
      if (by_digest.count(c) && c != g.facts.digest) parents[c].push_back(g.facts.digest);
    }
    if (g.subject && by_digest.count(*g.subject) && *g.subject != g.facts.digest) {
      parents[g.facts.digest].push_back(*g.subject);
    }
  }

  std::vector<ImageFacts> top_level;
  for (const auto& g : images) {
    if (!parents.count(g.facts.digest)) top_level.push_back(g.facts);
  }
  std::vector<Expiration> out = evaluate_lifecycle(policy, top_level, now_seconds);

  std::set<std::string> expired;
  std::map<std::string, int> priority;
  for (const auto& e : out) {
    expired.insert(e.digest);
    priority[e.digest] = e.rule_priority;
  }
  // Cascade until nothing changes: a dependent goes once all its parents go.
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& [dependent, ps] : parents) {
      if (expired.count(dependent)) continue;
      bool all_gone = true;
      int rule = 0;
      for (const auto& p : ps) {
        if (!expired.count(p)) {
          all_gone = false;
          break;
        }
        rule = priority[p];
      }
      if (!all_gone) continue;
      const GraphImage* g = by_digest[dependent];
      out.push_back(Expiration{dependent, g->facts.tags, rule});
      expired.insert(dependent);
      priority[dependent] = rule;
      changed = true;
    }
  }
  return out;
}

}  // namespace berth::lifecycle
