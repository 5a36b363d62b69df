// LifecycleRunner over the real stores with a fake clock: what an enforcement
// run deletes, what it keeps, and what it records (the records `berth admin
// expirations` lists).
#include "registry/lifecycle_runner.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "fake_clock_stores.h"

namespace berth::jobs_test {
namespace {

std::string policy(const std::string& rules) {
  return R"({"rules":[)" + rules + "]}";
}

std::string rule(int priority, const std::string& selection) {
  return R"({"rulePriority":)" + std::to_string(priority) + R"(,"selection":)" + selection +
         R"(,"action":{"type":"expire"}})";
}

class LifecycleRunnerTest : public FakeClockStores {
 protected:
  LifecycleRunner& runner() {
    if (!runner_) runner_ = std::make_unique<LifecycleRunner>(*meta_, clock_);
    return *runner_;
  }

  void set_policy(const RepositoryRecord& r, const std::string& text) {
    ASSERT_TRUE(meta_->set_lifecycle_policy(r.id, text).is_ok());
  }

  size_t enforce(const RepositoryRecord& r) {
    auto n = runner().enforce(reload(r));
    EXPECT_TRUE(n.is_ok()) << n.status().to_string();
    return n.is_ok() ? *n : ~size_t{0};
  }

  // Digests the account's expiration records name, newest first.
  std::vector<ExpirationRecord> expirations() {
    auto l = meta_->list_expirations(kAccount, 1000);
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    return l.is_ok() ? *l : std::vector<ExpirationRecord>{};
  }

  std::set<Digest> expired_digests() {
    std::set<Digest> out;
    for (const auto& e : expirations()) out.insert(e.digest);
    return out;
  }

  // Pushes an image `age` seconds before now (the clock comes back afterwards).
  Digest push_aged(const RepositoryRecord& r, const std::string& seed, int64_t age,
                   const std::string& tag = "") {
    const int64_t now = clock_.now_seconds();
    clock_.set_seconds(now - age);
    Digest d = push_image(r, seed, tag);
    clock_.set_seconds(now);
    return d;
  }

  std::unique_ptr<LifecycleRunner> runner_;
};

TEST_F(LifecycleRunnerTest, SinceImagePushedExpiresExactlyWhatIsOldEnough) {
  RepositoryRecord r = create_repository("lc/pushed");
  clock_.set_seconds(kStart + 100 * kDay);
  const Digest older = push_aged(r, "older", 10 * kDay + 1, "older");
  const Digest untagged_older = push_aged(r, "untagged older", 30 * kDay);
  const Digest exactly = push_aged(r, "exactly ten days", 10 * kDay, "exactly");
  const Digest newer = push_aged(r, "newer", kDay, "newer");
  set_policy(
      r,
      policy(rule(
          1,
          R"({"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":10})")));

  EXPECT_EQ(enforce(r), 2u);
  EXPECT_FALSE(has_manifest(r, older));
  EXPECT_FALSE(has_manifest(r, untagged_older));
  EXPECT_TRUE(has_manifest(r, exactly)) << "exactly ten days old is kept";
  EXPECT_TRUE(has_manifest(r, newer));
  EXPECT_EQ(meta_->get_manifest_by_tag(r.id, "older").status().code(), Code::kManifestUnknown);
  EXPECT_EQ(expired_digests(), (std::set<Digest>{older, untagged_older}));
  for (const auto& e : expirations()) {
    EXPECT_EQ(e.repository, "lc/pushed");
    EXPECT_EQ(e.rule_priority, 1);
    EXPECT_EQ(e.expired_at, kStart + 100 * kDay);
    EXPECT_EQ(e.tags,
              e.digest == older ? std::vector<std::string>{"older"} : std::vector<std::string>{});
  }
  EXPECT_EQ(reload(r).lifecycle_evaluated_at, kStart + 100 * kDay);

  // Nothing more until time moves; one second later the ten-day image goes.
  EXPECT_EQ(enforce(r), 0u);
  clock_.advance_seconds(1);
  EXPECT_EQ(enforce(r), 1u);
  EXPECT_FALSE(has_manifest(r, exactly));
  EXPECT_TRUE(has_manifest(r, newer));
  EXPECT_EQ(expirations().front().digest, exactly) << "newest record first";
  EXPECT_EQ(reload(r).lifecycle_evaluated_at, kStart + 100 * kDay + 1);
}

TEST_F(LifecycleRunnerTest, SinceImagePulledCountsFromTheLastPull) {
  RepositoryRecord r = create_repository("lc/pulled");
  clock_.set_seconds(kStart + 100 * kDay);
  const Digest pulled_lately = push_aged(r, "pulled lately", 60 * kDay, "a");
  const Digest pulled_long_ago = push_aged(r, "pulled long ago", 60 * kDay, "b");
  const Digest never_pulled_old = push_aged(r, "never pulled, old", 60 * kDay, "c");
  const Digest never_pulled_new = push_aged(r, "never pulled, new", 2 * kDay, "d");
  ASSERT_TRUE(
      meta_->record_pull(r.id, pulled_lately, (clock_.now_seconds() - kDay) * 1000).is_ok());
  ASSERT_TRUE(
      meta_->record_pull(r.id, pulled_long_ago, (clock_.now_seconds() - 20 * kDay) * 1000).is_ok());
  set_policy(
      r,
      policy(rule(
          3,
          R"({"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":7})")));

  EXPECT_EQ(enforce(r), 2u);
  EXPECT_TRUE(has_manifest(r, pulled_lately));
  EXPECT_FALSE(has_manifest(r, pulled_long_ago));
  EXPECT_FALSE(has_manifest(r, never_pulled_old));
  EXPECT_TRUE(has_manifest(r, never_pulled_new));
  EXPECT_EQ(expired_digests(), (std::set<Digest>{pulled_long_ago, never_pulled_old}));
  for (const auto& e : expirations()) EXPECT_EQ(e.rule_priority, 3);
}

TEST_F(LifecycleRunnerTest, CountRuleKeepsTheNewestImages) {
  RepositoryRecord r = create_repository("lc/count");
  clock_.set_seconds(kStart + 100 * kDay);
  std::vector<Digest> v;
  for (int i = 1; i <= 5; ++i)
    v.push_back(push_aged(r, "v" + std::to_string(i), (6 - i) * 3600, "v" + std::to_string(i)));
  const Digest other = push_aged(r, "other", 10 * kDay, "release-1");
  set_policy(
      r,
      policy(rule(
          1,
          R"({"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":2})")));

  EXPECT_EQ(enforce(r), 3u);
  EXPECT_FALSE(has_manifest(r, v[0]));
  EXPECT_FALSE(has_manifest(r, v[1]));
  EXPECT_FALSE(has_manifest(r, v[2]));
  EXPECT_TRUE(has_manifest(r, v[3]));
  EXPECT_TRUE(has_manifest(r, v[4]));
  EXPECT_TRUE(has_manifest(r, other)) << "not selected by the rule";
  EXPECT_EQ(enforce(r), 0u) << "two are left, which the rule allows";
}

TEST_F(LifecycleRunnerTest, AnExpiredIndexTakesItsChildrenWithIt) {
  RepositoryRecord r = create_repository("lc/index");
  clock_.set_seconds(kStart + 100 * kDay);
  const int64_t old = 40 * kDay;
  clock_.set_seconds(kStart + 100 * kDay - old);
  const Digest amd = push_image(r, "amd64");
  const Digest arm = push_image(r, "arm64");
  const Digest index = push_index(r, {amd, arm});
  clock_.set_seconds(kStart + 100 * kDay);
  const Digest kept = push_image(r, "fresh", "latest");
  set_policy(
      r,
      policy(rule(
          2,
          R"({"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":30})")));

  EXPECT_EQ(enforce(r), 3u);
  EXPECT_FALSE(has_manifest(r, index));
  EXPECT_FALSE(has_manifest(r, amd));
  EXPECT_FALSE(has_manifest(r, arm));
  EXPECT_TRUE(has_manifest(r, kept));
  EXPECT_EQ(expired_digests(), (std::set<Digest>{index, amd, arm}));
}

TEST_F(LifecycleRunnerTest, EnforceAllRunsEveryRepositoryWithAPolicyAndNoOther) {
  RepositoryRecord a = create_repository("lc/all-a");
  RepositoryRecord b = create_repository("lc/all-b");
  RepositoryRecord none = create_repository("lc/all-none");
  clock_.set_seconds(kStart + 100 * kDay);
  const Digest old_a = push_aged(a, "old in a", 20 * kDay, "x");
  const Digest old_b = push_aged(b, "old in b", 20 * kDay);
  const Digest old_none = push_aged(none, "old in none", 20 * kDay);
  const std::string ten_days = policy(rule(
      1,
      R"({"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":10})"));
  set_policy(a, ten_days);
  set_policy(b, ten_days);

  auto total = runner().enforce_all();
  ASSERT_TRUE(total.is_ok()) << total.status().to_string();
  EXPECT_EQ(*total, 2u);
  EXPECT_FALSE(has_manifest(a, old_a));
  EXPECT_FALSE(has_manifest(b, old_b));
  EXPECT_TRUE(has_manifest(none, old_none));
  EXPECT_EQ(expired_digests(), (std::set<Digest>{old_a, old_b}));
  EXPECT_EQ(reload(a).lifecycle_evaluated_at, kStart + 100 * kDay);
  EXPECT_FALSE(reload(none).lifecycle_evaluated_at.has_value());
}

TEST_F(LifecycleRunnerTest, PlanMatchesWhatEnforceDoesAndChangesNothing) {
  RepositoryRecord r = create_repository("lc/plan");
  clock_.set_seconds(kStart + 100 * kDay);
  const Digest old = push_aged(r, "old", 20 * kDay, "old");
  push_aged(r, "new", kDay, "new");
  const std::string text = policy(rule(
      1,
      R"({"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":10})"));
  auto parsed = lifecycle::parse_lifecycle_policy(text);
  ASSERT_TRUE(parsed.is_ok());
  auto planned = runner().plan(r, *parsed);
  ASSERT_TRUE(planned.is_ok()) << planned.status().to_string();
  ASSERT_EQ(planned->size(), 1u);
  EXPECT_EQ((*planned)[0].expiration.digest, old.str());
  EXPECT_EQ((*planned)[0].pushed_at_ms, (kStart + 80 * kDay) * 1000);
  EXPECT_TRUE(has_manifest(r, old)) << "planning deletes nothing";
  EXPECT_TRUE(expirations().empty());
}

}  // namespace
}  // namespace berth::jobs_test
