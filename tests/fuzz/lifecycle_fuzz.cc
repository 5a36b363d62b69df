// Lifecycle policy documents (src/core/lifecycle.*): the lifecyclePolicyText
// of ECR PutLifecyclePolicy and StartLifecyclePolicyPreview.
//
// An accepted policy is evaluated against a fixed repository of tagged and
// untagged images. Properties: validation leaves the documented invariants
// (priorities unique and >= 1, tag lists only on tagged rules, a unit exactly
// on age rules); evaluation expires each image at most once, by a rule of the
// policy, with the image's own tags, in ascending rule priority.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/lifecycle.h"
#include "fuzz_check.h"

namespace {

namespace lc = berth::lifecycle;

std::vector<lc::ImageFacts> repository() {
  constexpr int64_t kDay = lc::kSecondsPerDay;
  constexpr int64_t kNow = 1'700'000'000;
  std::vector<lc::ImageFacts> images;
  const std::vector<std::vector<std::string>> tags = {
      {"latest", "v1.2.3"}, {"v1.2.2"}, {}, {"prod-1", "release"}, {}, {"dev-7"}, {"v"}, {"prod"}};
  for (size_t i = 0; i < tags.size(); ++i) {
    lc::ImageFacts f;
    f.digest = "sha256:" + std::string(64, static_cast<char>('a' + i));
    f.tags = tags[i];
    f.pushed_at_seconds = kNow - static_cast<int64_t>(i) * 7 * kDay - static_cast<int64_t>(i % 3);
    if (i % 2 == 0) f.last_pulled_at_seconds = kNow - static_cast<int64_t>(i) * kDay;
    images.push_back(std::move(f));
  }
  images[6].pushed_at_seconds = images[5].pushed_at_seconds;  // a tie on push time
  return images;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = lc::parse_lifecycle_policy(text);
  if (!policy) return 0;

  FUZZ_CHECK(!policy->rules.empty() && policy->rules.size() <= lc::kMaxRules);
  std::set<int> priorities;
  for (const auto& rule : policy->rules) {
    FUZZ_CHECK(rule.rule_priority >= 1);
    FUZZ_CHECK(priorities.insert(rule.rule_priority).second);
    const auto& s = rule.selection;
    FUZZ_CHECK(s.count_number >= 1);
    const bool age = s.count_type != lc::CountType::kImageCountMoreThan;
    FUZZ_CHECK(s.count_unit.has_value() == age);
    if (s.tag_status == lc::TagStatus::kTagged) {
      FUZZ_CHECK(s.tag_prefix_list.empty() != s.tag_pattern_list.empty());
    } else {
      FUZZ_CHECK(s.tag_prefix_list.empty() && s.tag_pattern_list.empty());
    }
  }

  static const std::vector<lc::ImageFacts> images = repository();
  for (int64_t now : {int64_t{1'700'000'000}, int64_t{1'700'000'000} + 400 * lc::kSecondsPerDay}) {
    auto expired = lc::evaluate_lifecycle(*policy, images, now);
    std::set<std::string> seen;
    int last_priority = 0;
    for (const auto& e : expired) {
      FUZZ_CHECK(seen.insert(e.digest).second);
      FUZZ_CHECK(priorities.count(e.rule_priority) == 1);
      FUZZ_CHECK(e.rule_priority >= last_priority);
      last_priority = e.rule_priority;
      bool found = false;
      for (const auto& image : images) {
        if (image.digest == e.digest) {
          found = true;
          FUZZ_CHECK(image.tags == e.tags);
        }
      }
      FUZZ_CHECK(found);
    }
  }
  return 0;
}
