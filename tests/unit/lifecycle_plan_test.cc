// plan_expirations: rule evaluation over top-level images, with index
// children and referrers kept by what keeps them.
#include "core/lifecycle_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace berth::lifecycle {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kDay = 86'400;

LifecyclePolicy policy(const std::string& text) {
  auto p = parse_lifecycle_policy(text);
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  return p.value();
}

const char* kExpireUntagged = R"({"rules":[{"rulePriority":1,"description":"drop untagged images",
  "selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},
  "action":{"type":"expire"}}]})";

const char* kKeepOneTagged =
    R"({"rules":[{"rulePriority":3,"description":"keep the newest release only",
  "selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},
  "action":{"type":"expire"}}]})";

GraphImage image(std::string digest, std::vector<std::string> tags, int64_t age_days) {
  GraphImage g;
  g.facts.digest = std::move(digest);
  g.facts.tags = std::move(tags);
  g.facts.pushed_at_seconds = kNow - age_days * kDay;
  return g;
}

std::vector<std::string> digests(const std::vector<Expiration>& e) {
  std::vector<std::string> out;
  for (const auto& x : e) out.push_back(x.digest);
  return out;
}

TEST(LifecyclePlan, ChildrenOfAKeptIndexAreNotExpiredAsUntagged) {
  auto index = image("sha256:index", {"v1"}, 1);
  index.children = {"sha256:amd64", "sha256:arm64"};
  std::vector<GraphImage> images = {
      index, image("sha256:amd64", {}, 5), image("sha256:arm64", {}, 5),
      image("sha256:old-untagged", {}, 9), image("sha256:new-untagged", {}, 2)};
  auto plan = plan_expirations(policy(kExpireUntagged), images, kNow);
  EXPECT_EQ(digests(plan), std::vector<std::string>{"sha256:old-untagged"});
}

TEST(LifecyclePlan, ChildrenGoWithTheirExpiredIndex) {
  auto old_index = image("sha256:index-1", {"v1"}, 10);
  old_index.children = {"sha256:c1"};
  auto new_index = image("sha256:index-2", {"v2"}, 1);
  new_index.children = {"sha256:c2", "sha256:shared"};
  old_index.children.push_back("sha256:shared");
  std::vector<GraphImage> images = {old_index, new_index, image("sha256:c1", {}, 10),
                                    image("sha256:c2", {}, 1), image("sha256:shared", {}, 10)};
  auto plan = plan_expirations(policy(kKeepOneTagged), images, kNow);
  // The old index goes, its own child with it (carrying the rule's priority);
  // the child the new index also lists stays.
  ASSERT_EQ(digests(plan), (std::vector<std::string>{"sha256:index-1", "sha256:c1"}));
  EXPECT_EQ(plan[1].rule_priority, 3);
}

TEST(LifecyclePlan, ReferrersStayWithTheirSubjectAndGoWithIt) {
  auto sig_old = image("sha256:sig-old", {}, 10);
  sig_old.subject = "sha256:rel-1";
  auto sig_new = image("sha256:sig-new", {}, 1);
  sig_new.subject = "sha256:rel-2";
  auto sbom_of_sig = image("sha256:sbom", {}, 10);
  sbom_of_sig.subject = "sha256:sig-old";
  std::vector<GraphImage> images = {image("sha256:rel-1", {"v1"}, 10),
                                    image("sha256:rel-2", {"v2"}, 1), sig_old, sig_new,
                                    sbom_of_sig};
  auto plan = plan_expirations(policy(kKeepOneTagged), images, kNow);
  auto d = digests(plan);
  std::sort(d.begin(), d.end());
  EXPECT_EQ(d, (std::vector<std::string>{"sha256:rel-1", "sha256:sbom", "sha256:sig-old"}));
}

TEST(LifecyclePlan, UntaggedRuleDoesNotTouchReferrersOfKeptImages) {
  auto sig = image("sha256:sig", {}, 30);
  sig.subject = "sha256:rel";
  std::vector<GraphImage> images = {image("sha256:rel", {"v1"}, 30), sig, image("sha256:a", {}, 3),
                                    image("sha256:b", {}, 2)};
  auto plan = plan_expirations(policy(kExpireUntagged), images, kNow);
  EXPECT_EQ(digests(plan), std::vector<std::string>{"sha256:a"});
}

TEST(LifecyclePlan, DanglingReferrerCountsAsTopLevel) {
  auto orphan = image("sha256:orphan-sig", {}, 20);
  orphan.subject = "sha256:gone";
  std::vector<GraphImage> images = {orphan, image("sha256:newer", {}, 1)};
  auto plan = plan_expirations(policy(kExpireUntagged), images, kNow);
  EXPECT_EQ(digests(plan), std::vector<std::string>{"sha256:orphan-sig"});
}

TEST(LifecyclePlan, NothingSelectedMeansNothingPlanned) {
  std::vector<GraphImage> images = {image("sha256:a", {"v1"}, 1)};
  EXPECT_TRUE(plan_expirations(policy(kKeepOneTagged), images, kNow).empty());
  EXPECT_TRUE(plan_expirations(policy(kKeepOneTagged), {}, kNow).empty());
}

}  // namespace
}  // namespace berth::lifecycle
