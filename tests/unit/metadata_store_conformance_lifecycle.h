// The LifecycleStore conformance suite: lifecycle policies, previews and expirations. Written
// against the role interface (meta/lifecycle_store.h): the role under test is store(); the other
// roles only arrange state. Include it from exactly one translation unit, after
// metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(LifecycleStoreConformance, LifecyclePolicyIsStoredRemovedAndListedAcrossAccounts) {
  RepositoryRecord a = repo("lc/a");
  RepositoryRecord b = repo("lc/b");
  RepositoryRecord foreign = repo("lc/a", kOtherAccount);
  RepositoryRecord none = repo("lc/none");
  ASSERT_TRUE(store().set_lifecycle_policy(a.id, std::string(R"({"rules":["a"]})")).is_ok());
  ASSERT_TRUE(store().set_lifecycle_policy(b.id, std::string(R"({"rules":["b"]})")).is_ok());
  ASSERT_TRUE(store().set_lifecycle_policy(foreign.id, std::string(R"({"rules":["f"]})")).is_ok());

  EXPECT_EQ(repositories().get_repository(kAccount, "lc/a")->lifecycle_policy,
            std::string(R"({"rules":["a"]})"));
  EXPECT_FALSE(repositories().get_repository(kAccount, "lc/none")->lifecycle_policy.has_value());

  auto listed = [&] {
    std::map<RepositoryId, std::string> out;
    auto l = store().repositories_with_lifecycle_policy();
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    if (l.is_ok()) {
      for (const auto& r : *l) out[r.id] = r.lifecycle_policy.value_or("<none>");
    }
    return out;
  };
  EXPECT_EQ(listed(), (std::map<RepositoryId, std::string>{{a.id, R"({"rules":["a"]})"},
                                                           {b.id, R"({"rules":["b"]})"},
                                                           {foreign.id, R"({"rules":["f"]})"}}));
  // Replaced, then removed.
  ASSERT_TRUE(store().set_lifecycle_policy(a.id, std::string(R"({"rules":["a2"]})")).is_ok());
  ASSERT_TRUE(store().set_lifecycle_policy(b.id, std::nullopt).is_ok());
  EXPECT_FALSE(repositories().get_repository(kAccount, "lc/b")->lifecycle_policy.has_value());
  EXPECT_EQ(listed(), (std::map<RepositoryId, std::string>{{a.id, R"({"rules":["a2"]})"},
                                                           {foreign.id, R"({"rules":["f"]})"}}));
  (void)none;
  EXPECT_EQ(store().set_lifecycle_policy(987654, std::string("{}")).code(), Code::kNameUnknown);
  // It goes with the repository.
  ASSERT_TRUE(repositories().delete_repository(a.id, false).is_ok());
  EXPECT_EQ(listed(), (std::map<RepositoryId, std::string>{{foreign.id, R"({"rules":["f"]})"}}));
}

TEST_P(LifecycleStoreConformance, MarkLifecycleEvaluatedRecordsTheTime) {
  RepositoryRecord r = repo("lc/evaluated");
  RepositoryRecord other = repo("lc/other");
  EXPECT_FALSE(
      repositories().get_repository(kAccount, "lc/evaluated")->lifecycle_evaluated_at.has_value());
  ASSERT_TRUE(store().set_lifecycle_policy(r.id, std::string("{}")).is_ok());
  ASSERT_TRUE(store().mark_lifecycle_evaluated(r.id, kNow + 5).is_ok());
  EXPECT_EQ(repositories().get_repository(kAccount, "lc/evaluated")->lifecycle_evaluated_at,
            kNow + 5);
  ASSERT_TRUE(store().mark_lifecycle_evaluated(r.id, kNow + 99).is_ok());
  EXPECT_EQ(repositories().get_repository(kAccount, "lc/evaluated")->lifecycle_evaluated_at,
            kNow + 99);
  auto listed = store().repositories_with_lifecycle_policy();
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].lifecycle_evaluated_at, kNow + 99);
  EXPECT_FALSE(
      repositories().get_repository(kAccount, "lc/other")->lifecycle_evaluated_at.has_value());
  (void)other;
}

TEST_P(LifecycleStoreConformance, LifecyclePreviewIsPerRepositoryAndReplaced) {
  RepositoryRecord r = repo("preview");
  RepositoryRecord other = repo("preview-other");
  EXPECT_EQ(store().get_lifecycle_preview(r.id).status().code(),
            Code::kLifecyclePolicyPreviewNotFound);

  LifecyclePreviewRecord p{R"({"rules":[]})", "IN_PROGRESS", {}, kNow};
  ASSERT_TRUE(store().put_lifecycle_preview(r.id, p).is_ok());
  auto got = store().get_lifecycle_preview(r.id);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->policy_text, p.policy_text);
  EXPECT_EQ(got->status, "IN_PROGRESS");
  EXPECT_TRUE(got->results.empty());
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(store().get_lifecycle_preview(other.id).status().code(),
            Code::kLifecyclePolicyPreviewNotFound);

  LifecyclePreviewRecord done{
      R"({"rules":[1]})",
      "COMPLETE",
      {LifecyclePreviewResult{"sha256:aa", {"v1", "latest"}, 1'700'000'000'123, 2},
       LifecyclePreviewResult{"sha256:bb", {}, 5, 1}},
      kNow + 3};
  ASSERT_TRUE(store().put_lifecycle_preview(r.id, done).is_ok());
  got = store().get_lifecycle_preview(r.id);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->policy_text, done.policy_text);
  EXPECT_EQ(got->status, "COMPLETE");
  EXPECT_EQ(got->results, done.results);
  EXPECT_EQ(got->created_at, kNow + 3);

  // It goes with the repository.
  ASSERT_TRUE(repositories().delete_repository(r.id, false).is_ok());
  RepositoryRecord again = repo("preview");
  EXPECT_EQ(store().get_lifecycle_preview(again.id).status().code(),
            Code::kLifecyclePolicyPreviewNotFound);
}

TEST_P(LifecycleStoreConformance, ExpireManifestOnlyWhileItsTagsAreExactlyTheExpectedOnes) {
  RepositoryRecord r = repo("expire");
  ManifestRecord m = put_image(r, "expiring", "v1");
  ASSERT_TRUE(
      manifests().put_manifest(request(r, m, "v2", {Digest::of("config of expiring")})).is_ok());

  for (const std::vector<std::string>& wrong :
       {std::vector<std::string>{"v1"}, std::vector<std::string>{},
        std::vector<std::string>{"v1", "v2", "v3"}, std::vector<std::string>{"v2", "v3"}}) {
    EXPECT_EQ(store().expire_manifest(r.id, m.digest, wrong).code(), Code::kFailedPrecondition)
        << ::testing::PrintToString(wrong);
  }
  EXPECT_TRUE(manifests().get_manifest(r.id, m.digest).is_ok());
  EXPECT_EQ(tags(r), (std::vector<std::string>{"v1", "v2"}));

  // The expected tags in any order.
  ASSERT_TRUE(store().expire_manifest(r.id, m.digest, {"v2", "v1"}).is_ok());
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
  EXPECT_TRUE(tags(r).empty());
  EXPECT_EQ(store().expire_manifest(r.id, m.digest, {}).code(), Code::kManifestUnknown);

  // Untagged: expected empty. A tag that arrived since the plan keeps it.
  ManifestRecord untagged = put_image(r, "untagged");
  ManifestRecord retagged = put_image(r, "retagged");
  ASSERT_TRUE(manifests()
                  .put_manifest(request(r, retagged, "new", {Digest::of("config of retagged")}))
                  .is_ok());
  EXPECT_TRUE(store().expire_manifest(r.id, untagged.digest, {}).is_ok());
  EXPECT_EQ(store().expire_manifest(r.id, retagged.digest, {}).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(manifests().get_manifest(r.id, retagged.digest).is_ok());
}

TEST_P(LifecycleStoreConformance, ExpireManifestListedByAnIndexIsManifestReferenced) {
  RepositoryRecord r = repo("expire-child");
  ManifestRecord child = put_image(r, "child");
  put_index(r, "parent", {child.digest});
  EXPECT_EQ(store().expire_manifest(r.id, child.digest, {}).code(), Code::kManifestReferenced);
  EXPECT_TRUE(manifests().get_manifest(r.id, child.digest).is_ok());
  ASSERT_TRUE(store().expire_manifest(r.id, Digest::of("parent"), {}).is_ok());
  EXPECT_TRUE(store().expire_manifest(r.id, child.digest, {}).is_ok());
}

TEST_P(LifecycleStoreConformance, ExpirationsAreListedNewestFirstPerAccount) {
  RepositoryRecord app = repo("exp/app");
  RepositoryRecord svc = repo("exp/svc");
  RepositoryRecord foreign = repo("exp/other", kOtherAccount);
  auto rec = [](const RepositoryRecord& r, std::string_view body, std::vector<std::string> tags,
                int prio, int64_t at) {
    ExpirationRecord e;
    e.repository = r.name;
    e.digest = Digest::of(body);
    e.tags = std::move(tags);
    e.rule_priority = prio;
    e.expired_at = at;
    return e;
  };
  ASSERT_TRUE(store()
                  .record_expirations(
                      {rec(app, "one", {"a", "b"}, 1, kNow + 1), rec(svc, "two", {}, 2, kNow + 2)})
                  .is_ok());
  ASSERT_TRUE(store().record_expirations({}).is_ok());
  ASSERT_TRUE(store().record_expirations({rec(foreign, "three", {"x"}, 3, kNow + 3)}).is_ok());
  ASSERT_TRUE(store().record_expirations({rec(app, "four", {"z"}, 4, kNow + 4)}).is_ok());

  auto all = store().list_expirations("", 10);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].digest, Digest::of("four"));
  EXPECT_EQ((*all)[1].digest, Digest::of("three"));
  EXPECT_EQ((*all)[2].digest, Digest::of("two"));
  EXPECT_EQ((*all)[3].digest, Digest::of("one"));
  const ExpirationRecord& one = (*all)[3];
  EXPECT_EQ(one.repository, "exp/app");
  EXPECT_EQ(one.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(one.rule_priority, 1);
  EXPECT_EQ(one.expired_at, kNow + 1);
  EXPECT_TRUE((*all)[2].tags.empty());

  auto mine = store().list_expirations(kAccount, 10);
  ASSERT_TRUE(mine.is_ok());
  ASSERT_EQ(mine->size(), 3u);
  auto theirs = store().list_expirations(kOtherAccount, 10);
  ASSERT_TRUE(theirs.is_ok());
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ((*theirs)[0].repository, "exp/other");

  auto newest_two = store().list_expirations("", 2);
  ASSERT_TRUE(newest_two.is_ok());
  ASSERT_EQ(newest_two->size(), 2u);
  EXPECT_EQ((*newest_two)[0].digest, Digest::of("four"));
  EXPECT_EQ((*newest_two)[1].digest, Digest::of("three"));
  EXPECT_TRUE(store().list_expirations("333333333333", 10)->empty());
}

}  // namespace berth::conformance
