// auth::PolicySource over berth's stores: a user's inline and attached
// policies and those of every group the user is in, a repository's policy (and its resource tags,
// only when a policy reads them), an account's registry policy for registry-level actions and
// CreateRepository. Parsed documents are kept by text, so a policy is parsed
// once however many requests it decides. With a write generation (the
// metadata store's commit count, when every writer is in this process) the
// policies found for a request are kept too, and served without a store call
// while no commit has happened since they were read and for at most
// kMaxPolicyAge (the bound on how long a change made by an operator command in
// another process goes unseen). Group memberships and group policies are
// writes to the same database, so they move the generation as any other.
//
// Thread-safe (the parse cache is guarded by a mutex). Blocking: store calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/access_control.h"
#include "meta/identity_store.h"
#include "meta/metadata_store.h"

namespace berth::identity {

class StorePolicySource final : public auth::PolicySource {
 public:
  // `meta` and `identity` are borrowed and must outlive this object.
  // `generation` may be empty: nothing is cached then. Without `identity`
  // (null) group policies are not read.
  explicit StorePolicySource(MetadataStore& meta,
                             std::function<std::optional<uint64_t>()> generation = {},
                             IdentityStore* identity = nullptr)
      : meta_(meta), identity_(identity), generation_(std::move(generation)) {}

  Result<auth::RequestPolicies> policies_for(const auth::Principal& principal,
                                             const auth::AccessRequest& request) override;
  std::optional<auth::RequestPolicies> cached_policies_for(
      const auth::Principal& principal, const auth::AccessRequest& request) override;

  static constexpr std::chrono::milliseconds kMaxPolicyAge{2000};

 private:
  // policies_for without the cache.
  Result<auth::RequestPolicies> read_policies(const auth::Principal& principal,
                                              const auth::AccessRequest& request);
  // Appends the inline and attached policies of each group `principal` is in.
  Status read_group_policies(const auth::Principal& principal, auth::RequestPolicies& out);
  // The parsed document of a stored `text`; kInternal when it no longer
  // parses (it was validated when stored).
  Result<std::shared_ptr<const policy::Document>> parsed(const std::string& text,
                                                         policy::Kind kind);

  struct Found {
    uint64_t generation = 0;
    std::chrono::steady_clock::time_point expires;
    auth::RequestPolicies policies;
  };

  MetadataStore& meta_;
  IdentityStore* const identity_;
  const std::function<std::optional<uint64_t>()> generation_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const policy::Document>>
      cache_;                                     // guarded by mu_
  std::unordered_map<std::string, Found> found_;  // guarded by mu_
};

}  // namespace berth::identity
