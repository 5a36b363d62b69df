// IAM policy documents as ECR reads them: identity policies (attached to a
// user) and resource policies (a repository's, an account's registry policy),
// parsed and validated once, then evaluated with AWS's logic. Pure: no I/O, no
// clock (the caller puts the time into the request context).
//
// Language: Version, Id, Statement (one object or a list), Sid, Effect,
// Action/NotAction, Resource/NotResource, Principal/NotPrincipal (resource
// policies only: "*", {"AWS": account id | arn:aws:iam::<acct>:root | user ARN
// | "*"}), Condition with the String*, Arn*, Numeric*, Date*, Bool,
// IpAddress/NotIpAddress and Null operators, the ...IfExists suffix and the
// ForAnyValue:/ForAllValues: qualifiers, over the keys aws:SourceIp,
// aws:PrincipalAccount, aws:PrincipalArn, aws:username, aws:CurrentTime,
// aws:EpochTime, aws:SecureTransport, aws:ResourceTag/<k>, ecr:ResourceTag/<k>,
// aws:RequestTag/<k> and aws:TagKeys (multivalued: use ForAnyValue:/ForAllValues:).
// Wildcards: '*' any run, '?' one character; actions match case-insensitively,
// resources and ARNs case-sensitively. Anything else is refused by parse()
// with an IAM-style message, so what is stored is what is evaluated.
//
// Thread-safety: a Document is immutable once parsed; evaluate() and every
// function here are safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace berth::policy {

enum class Kind {
  kIdentity,  // attached to a user: no Principal; Resource required
  kResource,  // a repository or registry policy: Principal required; Resource optional
};

enum class Effect { kAllow, kDeny };

// One "<Operator>": {"<key>": values} pair of a Condition block.
struct Condition {
  enum class Qualifier { kNone, kForAnyValue, kForAllValues };
  enum class Op {
    kStringEquals,
    kStringNotEquals,
    kStringEqualsIgnoreCase,
    kStringNotEqualsIgnoreCase,
    kStringLike,
    kStringNotLike,
    kArnEquals,
    kArnNotEquals,
    kArnLike,
    kArnNotLike,
    kNumericEquals,
    kNumericNotEquals,
    kNumericLessThan,
    kNumericLessThanEquals,
    kNumericGreaterThan,
    kNumericGreaterThanEquals,
    kDateEquals,
    kDateNotEquals,
    kDateLessThan,
    kDateLessThanEquals,
    kDateGreaterThan,
    kDateGreaterThanEquals,
    kBool,
    kIpAddress,
    kNotIpAddress,
    kNull,
  };
  Qualifier qualifier = Qualifier::kNone;
  Op op = Op::kStringEquals;
  bool if_exists = false;
  std::string key;                  // as written (keys compare case-insensitively)
  std::vector<std::string> values;  // numbers and booleans as their JSON text
};

struct Statement {
  std::string sid;
  Effect effect = Effect::kAllow;
  bool not_action = false;
  std::vector<std::string> actions;
  bool has_resource = false;  // false: a resource policy's own resource
  bool not_resource = false;
  std::vector<std::string> resources;
  bool not_principal = false;
  bool any_principal = false;           // "*" or {"AWS": "*"}
  std::vector<std::string> principals;  // ARNs; a bare account id becomes its root ARN
  std::vector<Condition> conditions;
  // True when the document is version 2012-10-17 and a Resource, NotResource
  // or string/ARN condition value holds "${": its policy variables are
  // replaced per request (see evaluate()).
  bool variables = false;
};

struct Document {
  Kind kind = Kind::kIdentity;
  std::string version;
  std::vector<Statement> statements;
  // True when some condition reads aws:ResourceTag/ or ecr:ResourceTag/, so
  // callers fetch a repository's tags only for documents that need them.
  bool uses_resource_tags = false;
};

// Parses and validates `text`. kInvalidArgument with IAM's wording on any
// malformed document ("Syntax errors in policy.", "Invalid Condition operator:
// X", "Policy document should not specify a principal.", ...).
Result<Document> parse(std::string_view text, Kind kind);

// What a request is, as the conditions and matches see it.
struct RequestContext {
  std::string action;             // "ecr:BatchGetImage"
  std::string resource;           // the resource ARN, or "*" for registry-level actions
  std::string resource_account;   // the account owning the resource
  std::string principal_arn;      // "arn:aws:iam::<acct>:user/<name>"
  std::string principal_account;  // twelve digits
  std::string user_name;
  std::string source_ip;  // empty when unknown
  bool secure_transport = false;
  int64_t now_epoch_seconds = 0;
  std::vector<std::pair<std::string, std::string>> resource_tags;  // the repository's tags
  // The tags the request sets (CreateRepository, TagResource): aws:RequestTag/<k>.
  std::vector<std::pair<std::string, std::string>> request_tags;
  // The tag keys the request names (those of request_tags, UntagResource's
  // tagKeys): aws:TagKeys, a multivalued key; absent when the request names none.
  std::vector<std::string> tag_keys;
};

enum class Decision {
  kAllow,
  kExplicitDeny,  // some statement denies: nothing overrides it
  kImplicitDeny,  // nothing allows
};

// The policies that bear on one request. Pointers are borrowed for the call.
struct PolicySet {
  std::vector<const Document*> identity;  // the caller's identity policies
  const Document* resource = nullptr;     // the resource's policy, if any
};

// Policy variables (version 2012-10-17 only; in 2008-10-17 documents "${"
// is plain text): in Resource, NotResource and the values of String* and Arn*
// conditions, ${key} is replaced by the request's value of a condition key
// above (names compare case-insensitively), ${key, 'default'} falls back to
// the default ('' is a quote inside it), and ${*}, ${?}, ${$} stand for those
// characters. A replaced value matches literally: a '*' or '?' it brings is
// not a wildcard. A statement with a variable that cannot be replaced (the
// key is absent and there is no default, or the variable is malformed) does
// not apply to the request, whatever its effect.
//
// AWS's evaluation: an explicit Deny in any policy wins; within one account an
// Allow from an identity policy or from the resource policy (naming the caller
// or everyone; a grant to the account's root leaves the decision to identity
// policies) suffices; across accounts both an identity policy and the
// resource policy must allow; otherwise implicit deny.
Decision evaluate(const PolicySet& policies, const RequestContext& request);

// The AWS managed ECR policies by ARN (the shared, parsed document), or null
// for an ARN berth does not know. Lists copied from AWS's managed policy
// reference as published on 2026-12-07.
const Document* managed_policy(std::string_view arn);
// The ARNs managed_policy() knows.
std::vector<std::string_view> managed_policy_arns();

// '*' any run and '?' one character over the whole of `text`.
bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case);

// The IAM user ARN berth gives `user` of `account`.
std::string user_arn(std::string_view account, std::string_view user);

}  // namespace berth::policy
