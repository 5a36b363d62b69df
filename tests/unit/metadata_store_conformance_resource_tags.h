// The ResourceTagStore conformance suite: ECR resource tags. Written against the role interface
// (meta/resource_tag_store.h): the role under test is store(); the other roles only arrange state.
// Include it from exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(ResourceTagStoreConformance, ResourceTags) {
  RepositoryRecord r = repo("resource-tags");
  RepositoryRecord other = repo("resource-tags-other");
  auto empty = store().get_resource_tags(r.id);
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_TRUE(empty->empty());

  using Tags = std::vector<std::pair<std::string, std::string>>;
  ASSERT_TRUE(
      store()
          .set_resource_tags(r.id, Tags{{"team", "payments"}, {"env", "prod"}, {"Cost", ""}})
          .is_ok());
  auto got = store().get_resource_tags(r.id);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(*got, (Tags{{"Cost", ""}, {"env", "prod"}, {"team", "payments"}}));  // sorted by key
  EXPECT_TRUE(store().get_resource_tags(other.id)->empty());

  // The set is replaced whole, not merged.
  ASSERT_TRUE(store().set_resource_tags(r.id, Tags{{"owner", "me"}}).is_ok());
  EXPECT_EQ(*store().get_resource_tags(r.id), (Tags{{"owner", "me"}}));
  ASSERT_TRUE(store().set_resource_tags(r.id, Tags{}).is_ok());
  EXPECT_TRUE(store().get_resource_tags(r.id)->empty());

  // They go with the repository.
  ASSERT_TRUE(store().set_resource_tags(r.id, Tags{{"k", "v"}}).is_ok());
  ASSERT_TRUE(repositories().delete_repository(r.id, false).is_ok());
  RepositoryRecord again = repo("resource-tags");
  EXPECT_TRUE(store().get_resource_tags(again.id)->empty());
}

TEST_P(ResourceTagStoreConformance, RepositoriesWithResourceTagSpanAccounts) {
  RepositoryRecord a = repo("rt/a");
  RepositoryRecord b = repo("rt/b", kOtherAccount);
  RepositoryRecord off = repo("rt/off");
  RepositoryRecord other_key = repo("rt/key");
  using Tags = std::vector<std::pair<std::string, std::string>>;
  ASSERT_TRUE(
      store().set_resource_tags(a.id, Tags{{"berth:gc-untagged", "true"}, {"team", "x"}}).is_ok());
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

TEST_P(ResourceTagStoreConformance, UpdateMergesRemovesAndRefusesOverTheLimit) {
  RepositoryRecord r = repo("resource-tags-update");
  using Tags = std::vector<std::pair<std::string, std::string>>;
  ASSERT_TRUE(store().set_resource_tags(r.id, Tags{{"a", "1"}, {"b", "2"}}).is_ok());
  // Added and replaced, the others kept.
  ASSERT_TRUE(store().update_resource_tags(r.id, Tags{{"b", "20"}, {"c", "3"}}, {}, 3).is_ok());
  EXPECT_EQ(*store().get_resource_tags(r.id), (Tags{{"a", "1"}, {"b", "20"}, {"c", "3"}}));
  // Removed (a missing key is no error).
  ASSERT_TRUE(store().update_resource_tags(r.id, {}, {"a", "zz"}, 3).is_ok());
  EXPECT_EQ(*store().get_resource_tags(r.id), (Tags{{"b", "20"}, {"c", "3"}}));
  // Over the limit: refused, nothing changed (not even the replaced value).
  auto over = store().update_resource_tags(r.id, Tags{{"b", "x"}, {"d", "4"}, {"e", "5"}}, {}, 3);
  EXPECT_EQ(over.code(), Code::kLimitExceeded) << over.to_string();
  EXPECT_EQ(*store().get_resource_tags(r.id), (Tags{{"b", "20"}, {"c", "3"}}));
  // Removals count before the limit is checked.
  ASSERT_TRUE(store().update_resource_tags(r.id, Tags{{"d", "4"}, {"e", "5"}}, {"c"}, 3).is_ok());
  EXPECT_EQ(*store().get_resource_tags(r.id), (Tags{{"b", "20"}, {"d", "4"}, {"e", "5"}}));
}

TEST_P(ResourceTagStoreConformance, ConcurrentUpdatesLoseNoKey) {
  // Each thread adds its own keys one call at a time, as concurrent TagResource calls do; a
  // read-then-replace in two transactions would drop some of the other threads' keys.
  RepositoryRecord r = repo("resource-tags-concurrent");
  constexpr int kThreads = 4;
  constexpr int kKeysEach = 10;
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int k = 0; k < kKeysEach; ++k) {
        std::vector<std::pair<std::string, std::string>> one{
            {"t" + std::to_string(t) + "-" + std::to_string(k), "v"}};
        if (!store().update_resource_tags(r.id, one, {}, 1000).is_ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = store().get_resource_tags(r.id);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->size(), static_cast<std::size_t>(kThreads * kKeysEach));
}

}  // namespace berth::conformance
