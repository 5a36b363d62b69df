// MetadataStore conformance, continued: upload leases, lifecycle policies and
// expirations, garbage-collection claims, blob-write announcements,
// complete_upload, usage and the lookups the collector and the lifecycle
// runner make. Uses the fixture of metadata_store_conformance.h; include it
// right after that header, from the same single translation unit.
#pragma once

#include <latch>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "metadata_store_conformance.h"

namespace berth::conformance {

namespace gc_helpers {

// The time claim_now claims at: long before the wall clock of any test run,
// so a store that read the wall clock instead would record another time.
constexpr int64_t kClaimTime = 1'000'000;

// Runs `fn(i)` on `threads` threads that all start at once.
template <typename Fn>
void race(int threads, Fn fn) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      start.arrive_and_wait();
      fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

inline bool has_candidate(const std::vector<GcCandidate>& v, const Digest& d) {
  for (const auto& c : v) {
    if (c.digest == d) return true;
  }
  return false;
}

inline bool contains_digest(const std::vector<Digest>& v, const Digest& d) {
  return std::find(v.begin(), v.end(), d) != v.end();
}

// Every candidate queued before the far future.
inline std::vector<GcCandidate> candidates(MetadataStore& store) {
  auto c = store.gc_candidates(std::numeric_limits<int64_t>::max(), 1'000'000);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c.is_ok() ? *c : std::vector<GcCandidate>{};
}

inline bool is_candidate(MetadataStore& store, const Digest& d) { return has_candidate(candidates(store), d); }

inline bool is_pending(MetadataStore& store, const Digest& d) {
  auto p = store.gc_pending();
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  if (!p.is_ok()) return false;
  for (const auto& pending : *p) {
    if (pending.digest == d) return true;
  }
  return false;
}

// Claims with every grace period over and no write protecting the blob.
inline std::optional<int64_t> claim_now(MetadataStore& store, const Digest& d, bool dry_run = false) {
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  auto r = store.gc_claim(d, kEnd, kEnd, dry_run, kClaimTime);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::nullopt;
}

inline bool linked(MetadataStore& store, const RepositoryRecord& r, const Digest& d) {
  return store.get_blob_link(r.id, d).is_ok();
}

}  // namespace gc_helpers

// --- upload leases ------------------------------------------------------------------

TEST_P(MetadataStoreConformance, UploadLeaseIsExclusiveUntilReleasedOrExpired) {
  RepositoryRecord r = repo("leases");
  ASSERT_TRUE(store().create_upload(UploadRecord{"lease-1", r.id, kNow}).is_ok());

  ASSERT_TRUE(store().acquire_upload_lease("lease-1", "A", kNow, kNow + 60).is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "B", kNow + 1, kNow + 61).code(), Code::kBlobUploadInvalid);
  // The holder extends its own lease.
  ASSERT_TRUE(store().acquire_upload_lease("lease-1", "A", kNow + 50, kNow + 120).is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "B", kNow + 100, kNow + 160).code(), Code::kBlobUploadInvalid)
      << "the lease was extended to kNow+120";
  // Releasing someone else's lease changes nothing.
  ASSERT_TRUE(store().release_upload_lease("lease-1", "B").is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "B", kNow + 101, kNow + 161).code(), Code::kBlobUploadInvalid);
  // Once expired, anyone may take it, and the former holder has lost it.
  ASSERT_TRUE(store().acquire_upload_lease("lease-1", "B", kNow + 121, kNow + 180).is_ok());
  EXPECT_EQ(store().acquire_upload_lease("lease-1", "A", kNow + 122, kNow + 182).code(), Code::kBlobUploadInvalid);
  // Released by its holder, it is free at once.
  ASSERT_TRUE(store().release_upload_lease("lease-1", "B").is_ok());
  EXPECT_TRUE(store().acquire_upload_lease("lease-1", "C", kNow + 123, kNow + 183).is_ok());
  // Leases are per upload.
  ASSERT_TRUE(store().create_upload(UploadRecord{"lease-2", r.id, kNow}).is_ok());
  EXPECT_TRUE(store().acquire_upload_lease("lease-2", "A", kNow + 124, kNow + 184).is_ok());
}

TEST_P(MetadataStoreConformance, UploadLeaseOnAnUnknownUploadIsBlobUploadUnknown) {
  RepositoryRecord r = repo("leases-unknown");
  EXPECT_EQ(store().acquire_upload_lease("never", "A", kNow, kNow + 60).code(), Code::kBlobUploadUnknown);
  ASSERT_TRUE(store().create_upload(UploadRecord{"gone", r.id, kNow}).is_ok());
  ASSERT_TRUE(store().acquire_upload_lease("gone", "A", kNow, kNow + 60).is_ok());
  ASSERT_TRUE(store().delete_upload("gone").is_ok());
  EXPECT_EQ(store().acquire_upload_lease("gone", "B", kNow + 1, kNow + 60).code(), Code::kBlobUploadUnknown);
  (void)store().release_upload_lease("never", "A");
  EXPECT_EQ(store().get_upload("never").status().code(), Code::kBlobUploadUnknown);
}

TEST_P(MetadataStoreConformance, ConcurrentLeaseAcquisitionHasExactlyOneWinner) {
  constexpr int kUploads = 12;
  constexpr int kThreads = 6;
  RepositoryRecord r = repo("leases-raced");
  for (int u = 0; u < kUploads; ++u) {
    ASSERT_TRUE(store().create_upload(UploadRecord{"race-" + std::to_string(u), r.id, kNow}).is_ok());
  }
  std::vector<std::vector<Code>> codes(kUploads, std::vector<Code>(kThreads, Code::kOk));
  gc_helpers::race(kThreads, [&](int t) {
    for (int u = 0; u < kUploads; ++u) {
      codes[u][t] = store()
                        .acquire_upload_lease("race-" + std::to_string(u), "holder-" + std::to_string(t), kNow,
                                              kNow + 60)
                        .code();
    }
  });
  for (int u = 0; u < kUploads; ++u) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (codes[u][t] == Code::kOk) {
        ++winners;
      } else {
        EXPECT_EQ(codes[u][t], Code::kBlobUploadInvalid) << "upload " << u << " thread " << t;
      }
    }
    EXPECT_EQ(winners, 1) << "upload " << u;
  }
}

// --- lifecycle policies -------------------------------------------------------------

TEST_P(MetadataStoreConformance, LifecyclePolicyIsStoredRemovedAndListedAcrossAccounts) {
  RepositoryRecord a = repo("lc/a");
  RepositoryRecord b = repo("lc/b");
  RepositoryRecord foreign = repo("lc/a", kOtherAccount);
  RepositoryRecord none = repo("lc/none");
  ASSERT_TRUE(store().set_lifecycle_policy(a.id, std::string(R"({"rules":["a"]})")).is_ok());
  ASSERT_TRUE(store().set_lifecycle_policy(b.id, std::string(R"({"rules":["b"]})")).is_ok());
  ASSERT_TRUE(store().set_lifecycle_policy(foreign.id, std::string(R"({"rules":["f"]})")).is_ok());

  EXPECT_EQ(store().get_repository(kAccount, "lc/a")->lifecycle_policy, std::string(R"({"rules":["a"]})"));
  EXPECT_FALSE(store().get_repository(kAccount, "lc/none")->lifecycle_policy.has_value());

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
  EXPECT_FALSE(store().get_repository(kAccount, "lc/b")->lifecycle_policy.has_value());
  EXPECT_EQ(listed(), (std::map<RepositoryId, std::string>{{a.id, R"({"rules":["a2"]})"},
                                                           {foreign.id, R"({"rules":["f"]})"}}));
  (void)none;
  EXPECT_EQ(store().set_lifecycle_policy(987654, std::string("{}")).code(), Code::kNameUnknown);
  // It goes with the repository.
  ASSERT_TRUE(store().delete_repository(a.id, false).is_ok());
  EXPECT_EQ(listed(), (std::map<RepositoryId, std::string>{{foreign.id, R"({"rules":["f"]})"}}));
}

TEST_P(MetadataStoreConformance, MarkLifecycleEvaluatedRecordsTheTime) {
  RepositoryRecord r = repo("lc/evaluated");
  RepositoryRecord other = repo("lc/other");
  EXPECT_FALSE(store().get_repository(kAccount, "lc/evaluated")->lifecycle_evaluated_at.has_value());
  ASSERT_TRUE(store().set_lifecycle_policy(r.id, std::string("{}")).is_ok());
  ASSERT_TRUE(store().mark_lifecycle_evaluated(r.id, kNow + 5).is_ok());
  EXPECT_EQ(store().get_repository(kAccount, "lc/evaluated")->lifecycle_evaluated_at, kNow + 5);
  ASSERT_TRUE(store().mark_lifecycle_evaluated(r.id, kNow + 99).is_ok());
  EXPECT_EQ(store().get_repository(kAccount, "lc/evaluated")->lifecycle_evaluated_at, kNow + 99);
  auto listed = store().repositories_with_lifecycle_policy();
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].lifecycle_evaluated_at, kNow + 99);
  EXPECT_FALSE(store().get_repository(kAccount, "lc/other")->lifecycle_evaluated_at.has_value());
  (void)other;
}

TEST_P(MetadataStoreConformance, LifecyclePreviewIsPerRepositoryAndReplaced) {
  RepositoryRecord r = repo("preview");
  RepositoryRecord other = repo("preview-other");
  EXPECT_EQ(store().get_lifecycle_preview(r.id).status().code(), Code::kLifecyclePolicyPreviewNotFound);

  LifecyclePreviewRecord p{R"({"rules":[]})", "IN_PROGRESS", "[]", kNow};
  ASSERT_TRUE(store().put_lifecycle_preview(r.id, p).is_ok());
  auto got = store().get_lifecycle_preview(r.id);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->policy_text, p.policy_text);
  EXPECT_EQ(got->status, "IN_PROGRESS");
  EXPECT_EQ(got->results_json, "[]");
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(store().get_lifecycle_preview(other.id).status().code(), Code::kLifecyclePolicyPreviewNotFound);

  LifecyclePreviewRecord done{R"({"rules":[1]})", "COMPLETE", R"([{"digest":"x"}])", kNow + 3};
  ASSERT_TRUE(store().put_lifecycle_preview(r.id, done).is_ok());
  got = store().get_lifecycle_preview(r.id);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->policy_text, done.policy_text);
  EXPECT_EQ(got->status, "COMPLETE");
  EXPECT_EQ(got->results_json, done.results_json);
  EXPECT_EQ(got->created_at, kNow + 3);

  // It goes with the repository.
  ASSERT_TRUE(store().delete_repository(r.id, false).is_ok());
  RepositoryRecord again = repo("preview");
  EXPECT_EQ(store().get_lifecycle_preview(again.id).status().code(), Code::kLifecyclePolicyPreviewNotFound);
}

TEST_P(MetadataStoreConformance, ExpireManifestOnlyWhileItsTagsAreExactlyTheExpectedOnes) {
  RepositoryRecord r = repo("expire");
  ManifestRecord m = put_image(r, "expiring", "v1");
  ASSERT_TRUE(store().put_manifest(request(r, m, "v2", {Digest::of("config of expiring")})).is_ok());

  for (const std::vector<std::string>& wrong :
       {std::vector<std::string>{"v1"}, std::vector<std::string>{}, std::vector<std::string>{"v1", "v2", "v3"},
        std::vector<std::string>{"v2", "v3"}}) {
    EXPECT_EQ(store().expire_manifest(r.id, m.digest, wrong).code(), Code::kFailedPrecondition)
        << ::testing::PrintToString(wrong);
  }
  EXPECT_TRUE(store().get_manifest(r.id, m.digest).is_ok());
  EXPECT_EQ(tags(r), (std::vector<std::string>{"v1", "v2"}));

  // The expected tags in any order.
  ASSERT_TRUE(store().expire_manifest(r.id, m.digest, {"v2", "v1"}).is_ok());
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
  EXPECT_TRUE(tags(r).empty());
  EXPECT_EQ(store().expire_manifest(r.id, m.digest, {}).code(), Code::kManifestUnknown);

  // Untagged: expected empty. A tag that arrived since the plan keeps it.
  ManifestRecord untagged = put_image(r, "untagged");
  ManifestRecord retagged = put_image(r, "retagged");
  ASSERT_TRUE(store().put_manifest(request(r, retagged, "new", {Digest::of("config of retagged")})).is_ok());
  EXPECT_TRUE(store().expire_manifest(r.id, untagged.digest, {}).is_ok());
  EXPECT_EQ(store().expire_manifest(r.id, retagged.digest, {}).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(store().get_manifest(r.id, retagged.digest).is_ok());
}

TEST_P(MetadataStoreConformance, ExpireManifestListedByAnIndexIsManifestReferenced) {
  RepositoryRecord r = repo("expire-child");
  ManifestRecord child = put_image(r, "child");
  put_index(r, "parent", {child.digest});
  EXPECT_EQ(store().expire_manifest(r.id, child.digest, {}).code(), Code::kManifestReferenced);
  EXPECT_TRUE(store().get_manifest(r.id, child.digest).is_ok());
  ASSERT_TRUE(store().expire_manifest(r.id, Digest::of("parent"), {}).is_ok());
  EXPECT_TRUE(store().expire_manifest(r.id, child.digest, {}).is_ok());
}

TEST_P(MetadataStoreConformance, ExpirationsAreListedNewestFirstPerAccount) {
  RepositoryRecord app = repo("exp/app");
  RepositoryRecord svc = repo("exp/svc");
  RepositoryRecord foreign = repo("exp/other", kOtherAccount);
  auto rec = [](const RepositoryRecord& r, std::string_view body, std::vector<std::string> tags, int prio,
                int64_t at) {
    ExpirationRecord e;
    e.repository = r.name;
    e.digest = Digest::of(body);
    e.tags = std::move(tags);
    e.rule_priority = prio;
    e.expired_at = at;
    return e;
  };
  ASSERT_TRUE(store().record_expirations({rec(app, "one", {"a", "b"}, 1, kNow + 1),
                                          rec(svc, "two", {}, 2, kNow + 2)}).is_ok());
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

// --- lookups the collector and the runner make ----------------------------------------

TEST_P(MetadataStoreConformance, RepositoriesWithResourceTagSpanAccounts) {
  RepositoryRecord a = repo("rt/a");
  RepositoryRecord b = repo("rt/b", kOtherAccount);
  RepositoryRecord off = repo("rt/off");
  RepositoryRecord other_key = repo("rt/key");
  using Tags = std::vector<std::pair<std::string, std::string>>;
  ASSERT_TRUE(store().set_resource_tags(a.id, Tags{{"berth:gc-untagged", "true"}, {"team", "x"}}).is_ok());
  ASSERT_TRUE(store().set_resource_tags(b.id, Tags{{"berth:gc-untagged", "true"}}).is_ok());
  ASSERT_TRUE(store().set_resource_tags(off.id, Tags{{"berth:gc-untagged", "false"}}).is_ok());
  ASSERT_TRUE(store().set_resource_tags(other_key.id, Tags{{"true", "berth:gc-untagged"}}).is_ok());
  auto ids = [&](std::string_view k, std::string_view v) {
    std::set<RepositoryId> out;
    auto l = store().repositories_with_resource_tag(k, v);
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    if (l.is_ok()) {
      for (const auto& r : *l) out.insert(r.id);
    }
    return out;
  };
  EXPECT_EQ(ids("berth:gc-untagged", "true"), (std::set<RepositoryId>{a.id, b.id}));
  EXPECT_EQ(ids("berth:gc-untagged", "false"), std::set<RepositoryId>{off.id});
  EXPECT_TRUE(ids("team", "y").empty());
  ASSERT_TRUE(store().set_resource_tags(a.id, Tags{}).is_ok());
  EXPECT_EQ(ids("berth:gc-untagged", "true"), std::set<RepositoryId>{b.id});
}

TEST_P(MetadataStoreConformance, ListImagesReportsTheChildrenOfAnIndex) {
  RepositoryRecord r = repo("children");
  ManifestRecord amd = put_image(r, "amd");
  ManifestRecord arm = put_image(r, "arm");
  ManifestRecord index = put_index(r, "multi", {amd.digest, arm.digest}, "latest");
  auto images = store().list_images(r.id, {});
  ASSERT_TRUE(images.is_ok());
  ASSERT_EQ(images->size(), 3u);
  for (const auto& img : *images) {
    std::set<Digest> children(img.children.begin(), img.children.end());
    if (img.manifest.digest == index.digest) {
      EXPECT_EQ(children, (std::set<Digest>{amd.digest, arm.digest}));
      EXPECT_EQ(img.children.size(), 2u);
    } else {
      EXPECT_TRUE(children.empty());
    }
  }
}

// --- usage ----------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, UsageCountsSharedBlobsOncePerRepositoryAndOncePerAccount) {
  RepositoryRecord a = repo("usage/a");
  RepositoryRecord b = repo("usage/b");
  RepositoryRecord empty = repo("usage/empty");
  RepositoryRecord foreign = repo("usage/a", kOtherAccount);
  const Digest shared = Digest::of("shared layer");
  const Digest only_a = Digest::of("layer of a");
  const Digest only_b = Digest::of("layer of b");
  ASSERT_TRUE(store().link_blob(a.id, shared, 100, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(a.id, shared, 100, kNow + 1).is_ok());  // relinked: still once
  ASSERT_TRUE(store().link_blob(a.id, only_a, 200, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(b.id, shared, 100, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(b.id, only_b, 50, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(foreign.id, Digest::of("foreign layer"), 1000, kNow).is_ok());
  const std::string body = "a manifest of 27 bytes.....";
  ASSERT_EQ(body.size(), 27u);
  ManifestRecord m = manifest(body);
  ASSERT_TRUE(store().put_manifest(request(a, m, "v1", {shared})).is_ok());
  ASSERT_TRUE(store().put_manifest(request(b, m, "v1", {shared})).is_ok());

  auto per_repo = store().repository_usage(kAccount);
  ASSERT_TRUE(per_repo.is_ok()) << per_repo.status().to_string();
  std::map<std::string, int64_t> got;
  for (const auto& u : *per_repo) got[u.name] = u.bytes;
  EXPECT_EQ(got, (std::map<std::string, int64_t>{{"usage/a", 100 + 200 + 27},
                                                 {"usage/b", 100 + 50 + 27},
                                                 {"usage/empty", 0}}));
  EXPECT_EQ(per_repo->size(), 3u);
  auto total = store().account_usage(kAccount);
  ASSERT_TRUE(total.is_ok()) << total.status().to_string();
  EXPECT_EQ(*total, 100 + 200 + 50 + 27);
  EXPECT_EQ(store().account_usage(kOtherAccount).value(), 1000);
  EXPECT_EQ(store().account_usage("333333333333").value(), 0);
  EXPECT_TRUE(store().repository_usage("333333333333")->empty());
  (void)empty;

  // Unlinking and deleting take their bytes away.
  ASSERT_TRUE(store().unlink_blob(a.id, only_a).is_ok());
  ASSERT_TRUE(store().delete_manifest(b.id, m.digest).is_ok());
  EXPECT_EQ(store().account_usage(kAccount).value(), 100 + 50 + 27);
}

// --- garbage collection ----------------------------------------------------------------

TEST_P(MetadataStoreConformance, LinkingQueuesACandidateOnceAtTheFirstLinkTime) {
  RepositoryRecord r = repo("gc/link");
  const Digest d = linked_blob(r, "a new layer");
  ASSERT_TRUE(store().link_blob(r.id, d, 11, kNow + 50).is_ok());
  auto before = store().gc_candidates(kNow, 100);
  ASSERT_TRUE(before.is_ok());
  EXPECT_FALSE(gc_helpers::has_candidate(*before, d)) << "queued_before is exclusive";
  auto got = store().gc_candidates(kNow + 1, 100);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].digest, d);
  EXPECT_EQ((*got)[0].since, kNow);
}

TEST_P(MetadataStoreConformance, GcEnqueueIsIdempotentAndCandidatesHonourTheLimit) {
  std::vector<Digest> ds;
  for (int i = 0; i < 5; ++i) ds.push_back(Digest::of("stored " + std::to_string(i)));
  ASSERT_TRUE(store().gc_enqueue(ds, kNow).is_ok());
  ASSERT_TRUE(store().gc_enqueue({ds[0], ds[1]}, kNow + 10).is_ok());
  ASSERT_TRUE(store().gc_enqueue({}, kNow).is_ok());
  auto all = store().gc_candidates(kNow + 100, 100);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 5u);
  for (const auto& c : *all) EXPECT_EQ(c.since, kNow) << c.digest.str();
  auto two = store().gc_candidates(kNow + 100, 2);
  ASSERT_TRUE(two.is_ok());
  EXPECT_EQ(two->size(), 2u);
  EXPECT_TRUE(store().gc_candidates(kNow, 100)->empty());
}

// Calls that take no time (unlink_blob, delete_manifest, expire_manifest,
// delete_repository) queue candidates as of time 0, which every pass sees,
// whatever its clock says.
TEST_P(MetadataStoreConformance, WhatGoesQueuesItsBlobsAtTimeZero) {
  RepositoryRecord r = repo("gc/goes");
  RepositoryRecord holder = repo("gc/holder");
  ManifestRecord deleted = put_image(r, "deleted");
  ManifestRecord expired = put_image(r, "expired");
  put_image(holder, "unlinked");  // keeps the blob referenced while it is linked in r too
  const Digest unlinked = Digest::of("config of unlinked");
  ASSERT_TRUE(store().link_blob(r.id, unlinked, 18, kNow).is_ok());
  RepositoryRecord doomed = repo("gc/doomed");
  put_image(doomed, "in doomed");
  // Drain the queue: everything queued so far is referenced.
  auto drained = store().gc_drop_referenced([&] {
    std::vector<Digest> all;
    for (const auto& c : gc_helpers::candidates(store())) all.push_back(c.digest);
    return all;
  }());
  ASSERT_TRUE(drained.is_ok());
  ASSERT_TRUE(gc_helpers::candidates(store()).empty());

  ASSERT_TRUE(store().delete_manifest(r.id, deleted.digest).is_ok());
  ASSERT_TRUE(store().expire_manifest(r.id, expired.digest, {}).is_ok());
  ASSERT_TRUE(store().unlink_blob(r.id, unlinked).is_ok());
  ASSERT_TRUE(store().delete_repository(doomed.id, true).is_ok());
  auto seen = store().gc_candidates(1, 100);
  ASSERT_TRUE(seen.is_ok());
  for (const Digest& d : {Digest::of("config of deleted"), Digest::of("config of expired"), unlinked,
                          Digest::of("config of in doomed")}) {
    EXPECT_TRUE(gc_helpers::has_candidate(*seen, d)) << d.str();
  }
  for (const auto& c : *seen) EXPECT_EQ(c.since, 0) << c.digest.str();
}

TEST_P(MetadataStoreConformance, ClaimKeepsABlobAnyManifestRefersTo) {
  RepositoryRecord a = repo("gc/ref-a");
  RepositoryRecord b = repo("gc/ref-b");
  ManifestRecord m = put_image(b, "image in b");
  const Digest cfg = Digest::of("config of image in b");
  ASSERT_TRUE(store().link_blob(a.id, cfg, 20, kNow).is_ok());  // linked, unreferenced, in a
  EXPECT_EQ(gc_helpers::claim_now(store(), cfg), std::nullopt);
  EXPECT_TRUE(gc_helpers::linked(store(), a, cfg));
  EXPECT_TRUE(gc_helpers::linked(store(), b, cfg));
  EXPECT_FALSE(gc_helpers::is_candidate(store(), cfg)) << "a referenced blob stops being a candidate";
  EXPECT_FALSE(gc_helpers::is_pending(store(), cfg));
  (void)m;
}

TEST_P(MetadataStoreConformance, ClaimLeavesYoungLinksAloneAndKeepsThemQueued) {
  RepositoryRecord r = repo("gc/young");
  const Digest d = linked_blob(r, "young layer");  // linked at kNow
  auto young = store().gc_claim(d, kNow, kNow + 1'000'000, false, kNow);
  ASSERT_TRUE(young.is_ok());
  EXPECT_EQ(*young, std::nullopt) << "linked at linked_before counts as young";
  EXPECT_TRUE(gc_helpers::linked(store(), r, d));
  EXPECT_TRUE(gc_helpers::is_candidate(store(), d)) << "it must be looked at again once its grace ends";
  auto old = store().gc_claim(d, kNow + 1, kNow + 1'000'000, false, kNow);
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(*old, std::optional<int64_t>(11));
}

TEST_P(MetadataStoreConformance, ClaimTakesAnUnreferencedOldBlobFromEveryRepository) {
  RepositoryRecord a = repo("gc/old-a");
  RepositoryRecord b = repo("gc/old-b");
  const Digest d = Digest::of("orphaned layer");
  ASSERT_TRUE(store().link_blob(a.id, d, 14, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(b.id, d, 14, kNow).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(14));
  EXPECT_FALSE(gc_helpers::linked(store(), a, d));
  EXPECT_FALSE(gc_helpers::linked(store(), b, d));
  EXPECT_FALSE(gc_helpers::is_candidate(store(), d));
  EXPECT_TRUE(gc_helpers::is_pending(store(), d));
  EXPECT_TRUE(store().repositories_with_blob(kAccount, d)->empty());

  // While pending deletion, nothing may bring it back.
  EXPECT_EQ(store().link_blob(a.id, d, 14, kNow + 1).code(), Code::kUnavailable);
  EXPECT_EQ(store().begin_blob_write(d, kNow + 1).code(), Code::kUnavailable);
  ASSERT_TRUE(store().create_upload(UploadRecord{"while-pending", a.id, kNow}).is_ok());
  EXPECT_EQ(store().complete_upload(a.id, d, 14, "while-pending", kNow + 1).code(), Code::kUnavailable);
  EXPECT_TRUE(store().get_upload("while-pending").is_ok()) << "a refused complete_upload changes nothing";
  EXPECT_FALSE(gc_helpers::linked(store(), a, d));

  // Released, the digest is an ordinary one again.
  ASSERT_TRUE(store().gc_release(d).is_ok());
  EXPECT_FALSE(gc_helpers::is_pending(store(), d));
  EXPECT_TRUE(store().gc_release(d).is_ok()) << "releasing twice is fine";
  EXPECT_TRUE(store().link_blob(a.id, d, 14, kNow + 2).is_ok());
  EXPECT_TRUE(store().begin_blob_write(d, kNow + 2).is_ok());
  EXPECT_TRUE(store().end_blob_write(d).is_ok());
}

TEST_P(MetadataStoreConformance, ClaimOfAnUnlinkedCandidateReturnsZero) {
  const Digest d = Digest::of("stored but never linked");
  ASSERT_TRUE(store().gc_enqueue({d}, kNow).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(0));
  EXPECT_TRUE(gc_helpers::is_pending(store(), d));
}

TEST_P(MetadataStoreConformance, AClaimRecordsTheCallersTimeNotTheWallClock) {
  RepositoryRecord r = repo("gc/when");
  const Digest d = linked_blob(r, "claimed at a fixed time");
  ASSERT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(23));
  auto pending = store().gc_pending();
  ASSERT_TRUE(pending.is_ok()) << pending.status().to_string();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].digest, d);
  EXPECT_EQ((*pending)[0].claimed_at, gc_helpers::kClaimTime);
}

TEST_P(MetadataStoreConformance, DryRunClaimReportsButChangesNothing) {
  RepositoryRecord r = repo("gc/dry");
  const Digest d = linked_blob(r, "dry layer");
  EXPECT_EQ(gc_helpers::claim_now(store(), d, /*dry_run=*/true), std::optional<int64_t>(9));
  EXPECT_TRUE(gc_helpers::linked(store(), r, d));
  EXPECT_TRUE(gc_helpers::is_candidate(store(), d));
  EXPECT_FALSE(gc_helpers::is_pending(store(), d));
  EXPECT_TRUE(store().link_blob(r.id, d, 9, kNow).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(9));
}

TEST_P(MetadataStoreConformance, OnlyACandidateCanBeClaimed) {
  RepositoryRecord r = repo("gc/once");
  const Digest d = linked_blob(r, "claimed once");
  ASSERT_EQ(gc_helpers::claim_now(store(), d), std::optional<int64_t>(12));
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::nullopt) << "already claimed";
  ASSERT_TRUE(store().gc_release(d).is_ok());
  EXPECT_EQ(gc_helpers::claim_now(store(), d), std::nullopt) << "released and never queued again";
}

TEST_P(MetadataStoreConformance, ConcurrentClaimsOfOneCandidateHaveExactlyOneWinner) {
  constexpr int kBlobs = 16;
  constexpr int kThreads = 6;
  RepositoryRecord r = repo("gc/raced");
  std::vector<Digest> ds;
  for (int i = 0; i < kBlobs; ++i) ds.push_back(linked_blob(r, "raced layer " + std::to_string(i)));
  std::vector<std::vector<std::optional<int64_t>>> got(kBlobs, std::vector<std::optional<int64_t>>(kThreads));
  std::atomic<int> errors{0};
  gc_helpers::race(kThreads, [&](int t) {
    for (int i = 0; i < kBlobs; ++i) {
      auto c = store().gc_claim(ds[i], kNow + 1, kNow + 1, false, kNow);
      if (!c.is_ok()) {
        ++errors;
        continue;
      }
      got[i][t] = *c;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kBlobs; ++i) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (got[i][t]) {
        ++winners;
        EXPECT_EQ(*got[i][t], static_cast<int64_t>(("raced layer " + std::to_string(i)).size()));
      }
    }
    EXPECT_EQ(winners, 1) << "blob " << i;
    EXPECT_TRUE(gc_helpers::is_pending(store(), ds[i]));
  }
}

TEST_P(MetadataStoreConformance, BlobWritesProtectADigestUntilTheLastOneEnds) {
  RepositoryRecord r = repo("gc/writes");
  const Digest d = Digest::of("being written");
  ASSERT_TRUE(store().gc_enqueue({d}, kNow - 100).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());  // a second writer of the same digest
  auto claim = [&] { return store().gc_claim(d, kNow + 1'000, kNow, false, kNow); };
  EXPECT_EQ(claim().value(), std::nullopt) << "written since writes_after";
  EXPECT_TRUE(gc_helpers::is_candidate(store(), d)) << "a blob being written stays queued";
  ASSERT_TRUE(store().end_blob_write(d).is_ok());
  EXPECT_EQ(claim().value(), std::nullopt) << "the other writer has not finished";
  ASSERT_TRUE(store().end_blob_write(d).is_ok());
  EXPECT_EQ(claim().value(), std::optional<int64_t>(0));
  (void)r;
}

TEST_P(MetadataStoreConformance, AStaleBlobWriteNoLongerProtects) {
  const Digest d = Digest::of("abandoned write");
  ASSERT_TRUE(store().gc_enqueue({d}, kNow - 100).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow - 50).is_ok());  // its writer crashed
  EXPECT_EQ(store().gc_claim(d, kNow, kNow - 50, false, kNow).value(), std::nullopt);
  EXPECT_EQ(store().gc_claim(d, kNow, kNow - 49, false, kNow).value(), std::optional<int64_t>(0));
}

TEST_P(MetadataStoreConformance, GcDropReferencedDropsExactlyTheReferencedCandidates) {
  RepositoryRecord r = repo("gc/drop");
  put_image(r, "kept image");
  const Digest referenced = Digest::of("config of kept image");
  const Digest loose = linked_blob(r, "loose layer");
  const Digest never_queued = Digest::of("never queued");
  auto dropped = store().gc_drop_referenced({referenced, loose, never_queued});
  ASSERT_TRUE(dropped.is_ok()) << dropped.status().to_string();
  EXPECT_EQ(*dropped, std::vector<Digest>{referenced});
  EXPECT_FALSE(gc_helpers::is_candidate(store(), referenced));
  EXPECT_TRUE(gc_helpers::is_candidate(store(), loose));
  EXPECT_TRUE(gc_helpers::linked(store(), r, referenced)) << "dropping a candidate touches no link";
  auto again = store().gc_drop_referenced({referenced});
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->empty()) << "no longer a candidate";
}

// --- complete_upload ---------------------------------------------------------------------

TEST_P(MetadataStoreConformance, CompleteUploadLinksEndsTheWriteAndDeletesTheUpload) {
  RepositoryRecord r = repo("complete");
  const Digest d = Digest::of("uploaded bytes");
  ASSERT_TRUE(store().create_upload(UploadRecord{"up-1", r.id, kNow}).is_ok());
  ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());
  ASSERT_TRUE(store().complete_upload(r.id, d, 14, "up-1", kNow + 5).is_ok());
  auto link = store().get_blob_link(r.id, d);
  ASSERT_TRUE(link.is_ok());
  EXPECT_EQ(link->size, 14);
  EXPECT_EQ(store().get_upload("up-1").status().code(), Code::kBlobUploadUnknown);
  // Linked at kNow+5: young before that, and queued.
  EXPECT_EQ(store().gc_claim(d, kNow + 5, 0, true, kNow).value(), std::nullopt);
  EXPECT_TRUE(gc_helpers::is_candidate(store(), d));
  // The write ended: with the grace over, only the write could protect it.
  EXPECT_EQ(store().gc_claim(d, kNow + 6, 0, false, kNow).value(), std::optional<int64_t>(14));
}

TEST_P(MetadataStoreConformance, ConcurrentCompleteUploadsOfOneDigestLeaveOneLink) {
  constexpr int kThreads = 6;
  RepositoryRecord r = repo("complete/raced");
  const Digest d = Digest::of("same bytes from every client");
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(store().create_upload(UploadRecord{"same-" + std::to_string(t), r.id, kNow}).is_ok());
    ASSERT_TRUE(store().begin_blob_write(d, kNow).is_ok());
  }
  std::vector<Code> codes(kThreads, Code::kInternal);
  gc_helpers::race(kThreads, [&](int t) {
    codes[t] = store().complete_upload(r.id, d, 28, "same-" + std::to_string(t), kNow).code();
  });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(codes[t], Code::kOk) << t;
    EXPECT_EQ(store().get_upload("same-" + std::to_string(t)).status().code(), Code::kBlobUploadUnknown);
  }
  EXPECT_EQ(store().repositories_with_blob(kAccount, d).value(), std::vector<RepositoryId>{r.id});
  // Every announced write ended.
  EXPECT_EQ(store().gc_claim(d, kNow + 1, 0, false, kNow).value(), std::optional<int64_t>(28));
}

// complete_upload and a claim of the same digest serialise: either the upload
// finished first (young link, claim refused) or the claim did (upload refused
// with kUnavailable and left in place, nothing linked). Never both, never a
// link to a blob pending deletion.
TEST_P(MetadataStoreConformance, CompleteUploadAndClaimOfOneDigestSerialise) {
  constexpr int kRounds = 24;
  RepositoryRecord r = repo("complete/vs-gc");
  int upload_first = 0;
  int claim_first = 0;
  for (int i = 0; i < kRounds; ++i) {
    const Digest d = Digest::of("contended " + std::to_string(i));
    const std::string id = "contended-" + std::to_string(i);
    ASSERT_TRUE(store().create_upload(UploadRecord{id, r.id, kNow}).is_ok());
    ASSERT_TRUE(store().gc_enqueue({d}, kNow - 10).is_ok());  // e.g. found by a full scan
    Status completed;
    Result<std::optional<int64_t>> claimed = std::optional<int64_t>();
    gc_helpers::race(2, [&](int t) {
      if (t == 0) {
        completed = store().complete_upload(r.id, d, 5, id, kNow);
      } else {
        claimed = store().gc_claim(d, kNow, kNow + 1'000, false, kNow);
      }
    });
    ASSERT_TRUE(claimed.is_ok()) << claimed.status().to_string();
    if (completed.is_ok()) {
      ++upload_first;
      EXPECT_EQ(*claimed, std::nullopt) << i;
      EXPECT_TRUE(gc_helpers::linked(store(), r, d)) << i;
      EXPECT_FALSE(gc_helpers::is_pending(store(), d)) << i;
      EXPECT_EQ(store().get_upload(id).status().code(), Code::kBlobUploadUnknown) << i;
    } else {
      ++claim_first;
      EXPECT_EQ(completed.code(), Code::kUnavailable) << completed.to_string();
      EXPECT_TRUE(claimed->has_value()) << i;
      EXPECT_FALSE(gc_helpers::linked(store(), r, d)) << i;
      EXPECT_TRUE(gc_helpers::is_pending(store(), d)) << i;
      EXPECT_TRUE(store().get_upload(id).is_ok()) << i;
    }
  }
  EXPECT_EQ(upload_first + claim_first, kRounds);
}

}  // namespace berth::conformance
