// Runs lifecycle policies: plans a repository's expirations with the pure
// lifecycle::plan_expirations (the preview and the enforcement share it) and,
// when enforcing, expires the chosen images and records each expiry.
#pragma once

#include <vector>

#include "core/clock.h"
#include "core/lifecycle_plan.h"
#include "core/status.h"
#include "meta/metadata_store.h"

namespace berth {

struct PlannedExpiration {
  lifecycle::Expiration expiration;
  int64_t pushed_at_ms = 0;  // milliseconds since the epoch
  // berth's own SBOM of an expiring image (registry/sbom_referrer.h): it is
  // expired and recorded like any dependent, but reported by no event.
  bool generated_sbom = false;
};

class LifecycleRunner {
 public:
  LifecycleRunner(MetadataStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}

  // Also report each expiry as an "ECR Lifecycle Policy Action" event
  // (core/events.h), appended right after the expiry commits; berth's own
  // SBOMs, which no PUSH or DELETE event reports either, are left out. Call
  // before use.
  void record_events(bool on) { record_events_ = on; }

  // What `policy` would expire in `repo` now.
  Result<std::vector<PlannedExpiration>> plan(const RepositoryRecord& repo,
                                              const lifecycle::LifecyclePolicy& policy);
  // Applies the repository's stored policy; returns how many images went. An
  // image whose tags changed since planning is left alone.
  Result<size_t> enforce(const RepositoryRecord& repo);
  // enforce() over every repository with a policy; returns the total.
  Result<size_t> enforce_all();

 private:
  MetadataStore& meta_;
  const Clock& clock_;
  bool record_events_ = false;
};

}  // namespace berth
