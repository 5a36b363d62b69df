// ECR lifecycle policies (ECR-API.md §5): the policy document, its validation,
// and the evaluation that decides which images a policy expires.
//
// Pure and I/O-free. The store keeps the policy text exactly as the user sent
// it; this file parses it for validation and evaluation and never re-serialises.
// Nothing here keeps state: every function is thread-safe.
//
// Decisions where the reference leaves room (ECR-API.md §5, §9.5), all [berth]:
//  * `sinceImagePulled` (newer ECR, absent from the reference's grammar) is
//    accepted like `sinceImagePushed`: countUnit "days" required. Its clock is
//    the last recorded pull; an image never pulled counts from its push time, so
//    a fresh never-pulled image is not expired before it is N days old.
//  * Age boundary: an image is expired only when STRICTLY more than N*86400
//    seconds old; exactly N days is kept. Images "pushed in the future" have a
//    negative age and are never expired by age.
//  * Equal push times: images are totally ordered by (push time, digest); with
//    equal push times the lexicographically greater digest counts as newer.
//  * Two rules with identical tag filters (§5.2 row 13) are accepted: ECR's
//    enforcement is unverified and the later rule is merely inert.
//  * More than 50 rules (§5.2 row 14) and unknown top-level members are rejected.
//  * Integers must be JSON integers: 5.0 is rejected as a non-integer; values
//    beyond 2^31-1 are rejected as unmappable (presumably 32-bit on ECR's side).
//  * Length limits count Unicode code points (the text must be UTF-8).
//  * Empty strings inside tagPrefixList / tagPatternList are accepted (the
//    reference rejects only empty lists); "" as a prefix matches every tag.
//  * A member repeated within one JSON object: the last occurrence wins
//    (Boost.JSON's behaviour; ECR's is unverified).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth::lifecycle {

inline constexpr size_t kMinPolicyTextLength = 100;     // characters (§2.1)
inline constexpr size_t kMaxPolicyTextLength = 30'720;  // characters (§2.1)
inline constexpr size_t kMaxRules = 50;
inline constexpr size_t kMaxWildcardsPerPattern = 4;
inline constexpr int64_t kSecondsPerDay = 86'400;

enum class TagStatus { kTagged, kUntagged, kAny };
enum class CountType { kImageCountMoreThan, kSinceImagePushed, kSinceImagePulled };
enum class CountUnit { kDays };
enum class ActionType { kExpire };

struct Selection {
  TagStatus tag_status = TagStatus::kAny;
  // After validation: both empty unless tag_status is kTagged, in which case
  // exactly one of them is non-empty.
  std::vector<std::string> tag_prefix_list;
  std::vector<std::string> tag_pattern_list;  // '*' wildcards, at most 4 per entry
  CountType count_type = CountType::kImageCountMoreThan;
  // Present exactly for the two age count types.
  std::optional<CountUnit> count_unit;
  int count_number = 1;  // >= 1
};

struct LifecycleRule {
  int rule_priority = 1;                   // >= 1, unique within the policy
  std::optional<std::string> description;  // absent when the document has none
  Selection selection;
  ActionType action = ActionType::kExpire;
};

struct LifecyclePolicy {
  std::vector<LifecycleRule> rules;  // document order, not priority order
};

// Parses and validates a `lifecyclePolicyText` with every rule of ECR-API.md
// §5.2 plus the API length limit of 100-30,720 characters. Checks run in a
// fixed order and the first failure wins: length; JSON object; `rules`; each
// rule in document order (shape, then its members); then the cross-rule rules
// (unique priorities, `any` last, one `untagged` rule).
//
// Failure is Code::kInvalidArgument whose message is ECR's full text, e.g.
//   Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint:
//   'Lifecycle policy validation failure: <detail>'
// with the detail wording of ECR/moto where the reference gives it (a length
// violation instead reads `Invalid parameter at 'lifecyclePolicyText' failed to
// satisfy constraint: 'must have length ...'`). The ECR edge turns the code
// into InvalidParameterException.
Result<LifecyclePolicy> parse_lifecycle_policy(std::string_view json_text);

// One image of a repository as the evaluator needs it; the caller supplies
// them. Children of a manifest list that stays are the caller's concern
// (ECR-API.md §5.4): leave them out, or drop their expirations afterwards.
struct ImageFacts {
  std::string digest;                             // identity; expected unique within the input
  std::vector<std::string> tags;                  // empty = untagged
  int64_t pushed_at_seconds = 0;                  // Unix time
  std::optional<int64_t> last_pulled_at_seconds;  // absent = never pulled
  // Orders images pushed within the same second: a later push has a larger
  // value (e.g. from sub-second push times and the store's push sequence).
  int64_t push_order = 0;
};

// An image the policy expires: the whole image, i.e. every tag goes with it.
struct Expiration {
  std::string digest;
  std::vector<std::string> tags;
  int rule_priority = 0;  // the rule that expires it (appliedRulePriority)
};

// Whether a rule's tag selection matches an image with `tags` (§5.3):
//  * untagged: no tags; any: every image;
//  * tagged + tagPrefixList: at least one tag, and EVERY listed prefix is a
//    prefix of SOME tag (AND across the list, ANY across the image's tags);
//  * tagged + tagPatternList: the same, each pattern matching a WHOLE tag.
// A tagged selection with neither list (invalid policy) matches nothing; with
// both lists (invalid policy) it must satisfy both.
bool selection_matches(const Selection& selection, const std::vector<std::string>& tags);

// Evaluates `policy` against a repository's `images` at `now_seconds` (§5.4):
//  * rules run in ascending rule_priority (stable for equal priorities, which a
//    validated policy never has);
//  * a rule's candidates are, among the images its selection matches:
//      imageCountMoreThan N - all but the newest N by push time;
//      sinceImagePushed N   - those pushed more than N days before now;
//      sinceImagePulled N   - those last pulled (else pushed) more than N days ago;
//  * a candidate is expired by this rule unless an earlier rule matched it;
//  * every image the rule MATCHES (expired or kept) is then claimed: no later
//    rule can expire it, though later count rules still count it.
// So each image is expired by at most one rule. The input order of `images`
// does not influence the result. Output order: ascending rule_priority, then
// oldest first by (pushed_at_seconds, push_order, digest); "newest" means last
// in that order. Does not validate `policy`: a
// count_number below 0 is treated as 0.
std::vector<Expiration> evaluate_lifecycle(const LifecyclePolicy& policy,
                                           const std::vector<ImageFacts>& images,
                                           int64_t now_seconds);

}  // namespace berth::lifecycle
