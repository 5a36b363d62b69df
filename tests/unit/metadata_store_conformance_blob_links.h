// The BlobLinkStore conformance suite: which repository sees which blob. Written against the role
// interface (meta/blob_link_store.h): the role under test is store(); the other roles only arrange
// state. Include it from exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(BlobLinkStoreConformance, BlobLinks) {
  RepositoryRecord a = repo("links/a");
  RepositoryRecord b = repo("links/b");
  const Digest d = Digest::of("a layer");
  EXPECT_EQ(store().get_blob_link(a.id, d).status().code(), Code::kBlobUnknown);

  ASSERT_TRUE(store().link_blob(a.id, d, 7, kNow).is_ok());
  auto link = store().get_blob_link(a.id, d);
  ASSERT_TRUE(link.is_ok()) << link.status().to_string();
  EXPECT_EQ(link->digest, d);
  EXPECT_EQ(link->size, 7);
  // Visibility is per repository.
  EXPECT_EQ(store().get_blob_link(b.id, d).status().code(), Code::kBlobUnknown);

  // Linking again is fine and keeps one link.
  ASSERT_TRUE(store().link_blob(a.id, d, 7, kNow + 10).is_ok());
  EXPECT_EQ(store().get_blob_link(a.id, d)->size, 7);

  ASSERT_TRUE(store().unlink_blob(a.id, d).is_ok());
  EXPECT_EQ(store().get_blob_link(a.id, d).status().code(), Code::kBlobUnknown);
  EXPECT_EQ(store().unlink_blob(a.id, d).code(), Code::kBlobUnknown);
  EXPECT_EQ(store().unlink_blob(b.id, d).code(), Code::kBlobUnknown);
}

// linked_blobs: every linked digest once, across repositories and accounts,
// in digest order, with the largest recorded size; unlinked digests are gone.
TEST_P(BlobLinkStoreConformance, LinkedBlobsListsEveryLinkedDigestOnceInDigestOrder) {
  auto empty = store().linked_blobs();
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_TRUE(empty->empty());

  RepositoryRecord a = repo("linked/a");
  RepositoryRecord b = repo("linked/b");
  RepositoryRecord foreign = repo("linked/a", kOtherAccount);
  const Digest shared = Digest::of("linked: shared layer");
  const Digest disagree = Digest::of("linked: sizes disagree");
  const Digest other_account = Digest::of("linked: other account");
  const Digest gone = Digest::of("linked: unlinked again");
  ASSERT_TRUE(store().link_blob(a.id, shared, 7, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(b.id, shared, 7, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(a.id, disagree, 5, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(b.id, disagree, 9, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(foreign.id, other_account, 12, kNow).is_ok());
  ASSERT_TRUE(store().link_blob(a.id, gone, 3, kNow).is_ok());
  ASSERT_TRUE(store().unlink_blob(a.id, gone).is_ok());

  std::map<std::string, int64_t> expected{
      {shared.str(), 7}, {disagree.str(), 9}, {other_account.str(), 12}};
  auto listed = store().linked_blobs();
  ASSERT_TRUE(listed.is_ok()) << listed.status().to_string();
  std::vector<std::string> order;
  std::map<std::string, int64_t> got;
  for (const BlobLink& l : *listed) {
    order.push_back(l.digest.str());
    EXPECT_TRUE(got.emplace(l.digest.str(), l.size).second) << "listed twice: " << l.digest.str();
  }
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << "not in digest order";
}

TEST_P(BlobLinkStoreConformance, RepositoriesWithBlobAreThoseOfTheAccount) {
  RepositoryRecord a = repo("with/a");
  RepositoryRecord b = repo("with/b");
  RepositoryRecord c = repo("with/c");
  RepositoryRecord foreign = repo("with/a", kOtherAccount);
  const Digest d = Digest::of("shared layer");
  for (const auto* r : {&a, &c, &foreign})
    ASSERT_TRUE(store().link_blob(r->id, d, 12, kNow).is_ok());

  auto repos = store().repositories_with_blob(kAccount, d);
  ASSERT_TRUE(repos.is_ok());
  std::set<RepositoryId> got(repos->begin(), repos->end());
  EXPECT_EQ(got, (std::set<RepositoryId>{a.id, c.id}));
  EXPECT_EQ(repos->size(), 2u);
  (void)b;

  auto other = store().repositories_with_blob(kOtherAccount, d);
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(*other, std::vector<RepositoryId>{foreign.id});
  auto none = store().repositories_with_blob(kAccount, Digest::of("nowhere"));
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace berth::conformance
