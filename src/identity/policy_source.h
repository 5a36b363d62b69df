// auth::PolicySource over berth's stores: a user's inline and attached
// policies, a repository's policy (and its resource tags, only when a policy
// reads them), an account's registry policy for registry-level actions and
// CreateRepository. Parsed documents are kept by text, so a policy is parsed
// once however many requests it decides.
//
// Thread-safe (the parse cache is guarded by a mutex). Blocking: store calls.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/access_control.h"
#include "meta/metadata_store.h"

namespace berth::identity {

class StorePolicySource final : public auth::PolicySource {
 public:
  // `meta` is borrowed and must outlive this object.
  explicit StorePolicySource(MetadataStore& meta) : meta_(meta) {}

  Result<auth::RequestPolicies> policies_for(const auth::Principal& principal,
                                             const auth::AccessRequest& request) override;

 private:
  // The parsed document of a stored `text`; kInternal when it no longer
  // parses (it was validated when stored).
  Result<std::shared_ptr<const policy::Document>> parsed(const std::string& text, policy::Kind kind);

  MetadataStore& meta_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const policy::Document>> cache_;  // guarded by mu_
};

}  // namespace berth::identity
