// IAM policy documents (src/core/policy.*): the policyText of ECR
// SetRepositoryPolicy and PutRegistryPolicy, and berth's user policies.
//
// The input is parsed as an identity and as a resource policy. An accepted
// document is evaluated against fixed requests (same account and cross
// account, with and without tags, source address and transport). Properties:
// a parsed document keeps the invariants its kind promises (statements
// present; no principal in an identity policy; a principal in a resource
// policy); evaluation is deterministic; an explicit deny is final (adding an
// allow-everything identity policy never overrides it); a deny-everything
// identity policy turns every decision into an explicit deny; and a document
// that allows alone still allows beside an allow-everything policy.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "fuzz_check.h"

namespace {

namespace pol = berth::policy;

constexpr std::string_view kOwner = "111122223333";
constexpr std::string_view kOther = "444455556666";

// A document the target needs for every input: parsed once, kept for the
// life of the process.
const pol::Document& fixed(std::string_view text, pol::Kind kind) {
  auto parsed = pol::parse(text, kind);
  FUZZ_CHECK(parsed.is_ok());
  return *new pol::Document(std::move(parsed).value());
}

std::vector<pol::RequestContext> requests() {
  std::vector<pol::RequestContext> out;
  const std::string repo_arn =
      "arn:aws:ecr:us-east-1:" + std::string(kOwner) + ":repository/team/app";
  for (std::string_view caller : {kOwner, kOther}) {
    for (std::string_view action : {"ecr:BatchGetImage", "ecr:PutImage",
                                    "ecr:GetAuthorizationToken", "ecr:DeleteRepository"}) {
      pol::RequestContext r;
      r.action = std::string(action);
      const bool registry_level = action == "ecr:GetAuthorizationToken";
      r.resource = registry_level ? "*" : repo_arn;
      r.resource_account = std::string(kOwner);
      r.principal_account = std::string(caller);
      r.user_name = caller == kOwner ? "ci" : "deploy";
      r.principal_arn = pol::user_arn(caller, r.user_name);
      r.source_ip = caller == kOwner ? "10.1.2.3" : "2001:db8::7";
      r.secure_transport = caller == kOwner;
      r.now_epoch_seconds = 1'765'000'000;
      if (caller == kOwner) r.resource_tags = {{"team", "platform"}, {"env", "prod"}};
      out.push_back(std::move(r));
    }
  }
  return out;
}

void check_invariants(const pol::Document& doc, pol::Kind kind) {
  FUZZ_CHECK(doc.kind == kind);
  FUZZ_CHECK(!doc.statements.empty());
  for (const auto& s : doc.statements) {
    if (kind == pol::Kind::kIdentity) {
      FUZZ_CHECK(s.principals.empty() && !s.any_principal && !s.not_principal);
      FUZZ_CHECK(s.has_resource);
    } else {
      FUZZ_CHECK(!s.principals.empty() || s.any_principal);
    }
    for (const auto& c : s.conditions) FUZZ_CHECK(!c.key.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const pol::Document& allow_all = fixed(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})",
      pol::Kind::kIdentity);
  static const pol::Document& deny_all = fixed(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]})",
      pol::Kind::kIdentity);
  static const std::vector<pol::RequestContext> reqs = requests();

  for (pol::Kind kind : {pol::Kind::kIdentity, pol::Kind::kResource}) {
    auto doc = pol::parse(text, kind);
    if (!doc) {
      FUZZ_CHECK(doc.status().code() == berth::Code::kInvalidArgument);
      continue;
    }
    check_invariants(*doc, kind);
    for (const auto& r : reqs) {
      pol::PolicySet alone;
      if (kind == pol::Kind::kIdentity) {
        alone.identity = {&*doc};
      } else {
        alone.resource = &*doc;
      }
      const pol::Decision d = pol::evaluate(alone, r);
      FUZZ_CHECK(pol::evaluate(alone, r) == d);

      pol::PolicySet with_allow = alone;
      with_allow.identity.push_back(&allow_all);
      const pol::Decision da = pol::evaluate(with_allow, r);
      if (d == pol::Decision::kExplicitDeny) FUZZ_CHECK(da == pol::Decision::kExplicitDeny);
      if (d == pol::Decision::kAllow) FUZZ_CHECK(da == pol::Decision::kAllow);

      pol::PolicySet with_deny = alone;
      with_deny.identity.push_back(&deny_all);
      FUZZ_CHECK(pol::evaluate(with_deny, r) == pol::Decision::kExplicitDeny);
    }
  }
  return 0;
}
