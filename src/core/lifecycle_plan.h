// What a lifecycle policy run removes from a repository, with the manifest
// graph taken into account. Pure; shared by the preview and the enforcement
// so that both always agree.
//
// Rules are evaluated (evaluate_lifecycle) only over the repository's
// top-level images: manifests that are neither listed by an index in the
// repository nor referrers (signatures, SBOMs) of a subject present in it.
// Dependents are never expired on their own: they go with the last manifest
// that keeps them, i.e. when every index listing them and their subject are
// expired, and then carry that parent's rule priority. A dependent whose
// parent is missing (a dangling referrer) counts as top-level.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/lifecycle.h"

namespace berth::lifecycle {

struct GraphImage {
  ImageFacts facts;
  std::vector<std::string> children;   // digests an index lists
  std::optional<std::string> subject;  // the subject digest of a referrer
};

// Expirations in evaluation order (rule priority, oldest first), followed by
// the dependents that go with them.
std::vector<Expiration> plan_expirations(const LifecyclePolicy& policy,
                                         const std::vector<GraphImage>& images,
                                         int64_t now_seconds);

}  // namespace berth::lifecycle
