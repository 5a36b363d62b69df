// The RepositoryStore conformance suite: repositories and their settings. Written against the role
// interface (meta/repository_store.h): the role under test is store(); the other roles only arrange
// state. Include it from exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(RepositoryStoreConformance, CreateAndGetRepository) {
  RepositoryRecord in;
  in.account_id = kAccount;
  in.name = "team/app";
  in.created_at = kNow - 100;
  in.tag_mutability = "IMMUTABLE";
  in.tag_mutability_exclusions = {"dev-*", "rel-\"quoted\"", "caf\xc3\xa9"};
  in.scan_on_push = true;
  in.encryption_type = "KMS";
  in.kms_key = "arn:aws:kms:us-east-1:111111111111:key/abc";
  auto created = store().create_repository(in);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_NE(created->id, 0);
  EXPECT_EQ(created->name, "team/app");

  auto got = store().get_repository(kAccount, "team/app");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, created->id);
  EXPECT_EQ(got->account_id, kAccount);
  EXPECT_EQ(got->name, "team/app");
  EXPECT_EQ(got->created_at, kNow - 100);
  EXPECT_EQ(got->tag_mutability, "IMMUTABLE");
  EXPECT_EQ(got->tag_mutability_exclusions, in.tag_mutability_exclusions);
  EXPECT_TRUE(got->scan_on_push);
  EXPECT_EQ(got->encryption_type, "KMS");
  EXPECT_EQ(got->kms_key, in.kms_key);
}

TEST_P(RepositoryStoreConformance, CreateDuplicateIsAlreadyExists) {
  RepositoryRecord in;
  in.account_id = kAccount;
  in.name = "dup";
  in.created_at = kNow;
  ASSERT_TRUE(store().create_repository(in).is_ok());
  in.scan_on_push = true;
  auto again = store().create_repository(in);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_FALSE(store().get_repository(kAccount, "dup")->scan_on_push);  // untouched
}

TEST_P(RepositoryStoreConformance, RepositoriesArePerAccount) {
  RepositoryRecord a = repo("shared/name", kAccount);
  RepositoryRecord b = repo("shared/name", kOtherAccount);
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(store().get_repository(kOtherAccount, "shared/name")->id, b.id);
  EXPECT_EQ(store().get_repository("333333333333", "shared/name").status().code(),
            Code::kNameUnknown);
  repo("only-in-a", kAccount);
  EXPECT_EQ(repo_names(kAccount), (std::vector<std::string>{"only-in-a", "shared/name"}));
  EXPECT_EQ(repo_names(kOtherAccount), (std::vector<std::string>{"shared/name"}));
  EXPECT_TRUE(repo_names("333333333333").empty());
}

TEST_P(RepositoryStoreConformance, GetUnknownRepositoryIsNameUnknown) {
  auto r = store().get_repository(kAccount, "nope");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNameUnknown);
}

TEST_P(RepositoryStoreConformance, GetRepositoryById) {
  auto created = store().ensure_repository(kAccount, "team/by-id", 100);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  auto got = store().get_repository_by_id(created->id);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->name, "team/by-id");
  EXPECT_EQ(got->account_id, kAccount);
  EXPECT_EQ(store().get_repository_by_id(created->id + 1000).status().code(), Code::kNameUnknown);
}

TEST_P(RepositoryStoreConformance, EnsureRepositoryCreatesOnceWithDefaults) {
  auto first = store().ensure_repository(kAccount, "ensured", kNow);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->name, "ensured");
  EXPECT_EQ(first->account_id, kAccount);
  EXPECT_EQ(first->created_at, kNow);
  EXPECT_EQ(first->tag_mutability, "MUTABLE");
  EXPECT_FALSE(first->scan_on_push);

  auto second = store().ensure_repository(kAccount, "ensured", kNow + 500);
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->created_at, kNow);  // the existing one, not a new one
  EXPECT_EQ(repo_names(kAccount).size(), 1u);
}

TEST_P(RepositoryStoreConformance, EnsureRepositoryRacesEndWithOneRepository) {
  constexpr int kThreads = 8;
  std::vector<RepositoryId> ids(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = store().ensure_repository(kAccount, "raced", kNow + t);
      if (r.is_ok()) ids[t] = r->id;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(ids[t], ids[0]) << t;
  EXPECT_NE(ids[0], 0);
  EXPECT_EQ(repo_names(kAccount), std::vector<std::string>{"raced"});
}

TEST_P(RepositoryStoreConformance, ListRepositoriesInLexicalOrderWithPaging) {
  std::vector<std::string> names = {"zeta", "alpha", "team/b", "team/a", "beta-2",
                                    "beta", "a0",    "m/n/o",  "team",   "team-x"};
  for (const auto& n : names) repo(n);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(repo_names(kAccount), sorted);

  // Page through three at a time.
  std::vector<std::string> paged;
  PageRequest page{"", 3};
  while (true) {
    std::vector<std::string> got = repo_names(kAccount, page);
    ASSERT_LE(got.size(), 3u);
    paged.insert(paged.end(), got.begin(), got.end());
    if (got.size() < 3) break;
    page.after = got.back();
  }
  EXPECT_EQ(paged, sorted);

  EXPECT_EQ(repo_names(kAccount, {"team", 0}),
            (std::vector<std::string>{"team-x", "team/a", "team/b", "zeta"}));
  EXPECT_EQ(repo_names(kAccount, {"teal", 1}), std::vector<std::string>{"team"});
  EXPECT_TRUE(repo_names(kAccount, {"zeta", 0}).empty());
  EXPECT_TRUE(repo_names(kAccount, {"zz", 5}).empty());
}

// Byte order, not a locale's: upper case before '_' before lower case before
// any non-ASCII letter (UTF-8 lead bytes are above 0x7f).
TEST_P(RepositoryStoreConformance, RepositoriesAndTagsPageInByteOrder) {
  const std::vector<std::string> in_byte_order = {
      "Beta", "Zeta", "_under", "alpha", "zulu", "\xc3\xa9lan" /* élan */, "\xe6\x97\xa5" /* 日 */};
  std::vector<std::string> shuffled = in_byte_order;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  for (const auto& n : shuffled) repo(n);
  EXPECT_EQ(repo_names(kAccount), in_byte_order);
  EXPECT_EQ(repo_names(kAccount, {"Zeta", 2}), (std::vector<std::string>{"_under", "alpha"}));
  EXPECT_EQ(repo_names(kAccount, {"zulu", 0}),
            (std::vector<std::string>{"\xc3\xa9lan", "\xe6\x97\xa5"}));

  RepositoryRecord r = repo("tags-in-byte-order", kOtherAccount);
  ManifestRecord m = put_image(r, "byte order");
  for (const auto& t : shuffled) {
    ASSERT_TRUE(
        manifests().put_manifest(request(r, m, t, {Digest::of("config of byte order")})).is_ok());
  }
  EXPECT_EQ(tags(r), in_byte_order);
  EXPECT_EQ(tags(r, {"_under", 3}), (std::vector<std::string>{"alpha", "zulu", "\xc3\xa9lan"}));
  auto for_manifest = manifests().tags_for_manifest(r.id, m.digest);
  ASSERT_TRUE(for_manifest.is_ok());
  EXPECT_EQ(*for_manifest, in_byte_order);
}

TEST_P(RepositoryStoreConformance, UpdateRepositoryReplacesSettings) {
  RepositoryRecord r = repo("settings");
  r.tag_mutability = "IMMUTABLE_WITH_EXCLUSION";
  r.tag_mutability_exclusions = {"latest"};
  r.scan_on_push = true;
  ASSERT_TRUE(store().update_repository(r).is_ok());
  auto got = store().get_repository(kAccount, "settings");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->id, r.id);
  EXPECT_EQ(got->name, "settings");
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->tag_mutability, "IMMUTABLE_WITH_EXCLUSION");
  EXPECT_EQ(got->tag_mutability_exclusions, r.tag_mutability_exclusions);
  EXPECT_TRUE(got->scan_on_push);

  r.tag_mutability = "MUTABLE";
  r.tag_mutability_exclusions.clear();
  r.scan_on_push = false;
  ASSERT_TRUE(store().update_repository(r).is_ok());
  got = store().get_repository(kAccount, "settings");
  EXPECT_EQ(got->tag_mutability, "MUTABLE");
  EXPECT_TRUE(got->tag_mutability_exclusions.empty());
  EXPECT_FALSE(got->scan_on_push);
}

TEST_P(RepositoryStoreConformance, UpdateUnknownRepositoryIsNameUnknown) {
  RepositoryRecord ghost;
  ghost.id = 987654;
  ghost.account_id = kAccount;
  ghost.name = "ghost";
  EXPECT_EQ(store().update_repository(ghost).code(), Code::kNameUnknown);
  EXPECT_EQ(store().get_repository(kAccount, "ghost").status().code(), Code::kNameUnknown);
}

TEST_P(RepositoryStoreConformance, DeleteEmptyRepository) {
  RepositoryRecord r = repo("empty");
  // Links and uploads alone do not make a repository "not empty".
  linked_blob(r, "orphan layer");
  ASSERT_TRUE(uploads().create_upload(UploadRecord{"upload-empty-1", r.id, kNow}).is_ok());
  ASSERT_TRUE(store().delete_repository(r.id, false).is_ok());
  EXPECT_EQ(store().get_repository(kAccount, "empty").status().code(), Code::kNameUnknown);
  EXPECT_EQ(uploads().get_upload("upload-empty-1").status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().delete_repository(r.id, false).code(), Code::kNameUnknown);
}

TEST_P(RepositoryStoreConformance, DeleteRepositoryWithImagesNeedsForce) {
  RepositoryRecord r = repo("full");
  ManifestRecord child = put_image(r, "child image");
  put_index(r, "the index", {child.digest}, "latest");
  ASSERT_TRUE(uploads().create_upload(UploadRecord{"upload-full-1", r.id, kNow}).is_ok());

  Status s = store().delete_repository(r.id, false);
  EXPECT_EQ(s.code(), Code::kRepositoryNotEmpty) << s.to_string();
  ASSERT_TRUE(store().get_repository(kAccount, "full").is_ok());
  EXPECT_EQ(tags(r), std::vector<std::string>{"latest"});

  ASSERT_TRUE(store().delete_repository(r.id, true).is_ok());
  EXPECT_EQ(store().get_repository(kAccount, "full").status().code(), Code::kNameUnknown);
  EXPECT_EQ(uploads().get_upload("upload-full-1").status().code(), Code::kBlobUploadUnknown);
  auto with_blob =
      blob_links().repositories_with_blob(kAccount, Digest::of("config of child image"));
  ASSERT_TRUE(with_blob.is_ok());
  EXPECT_TRUE(with_blob->empty());

  // A new repository of the same name starts empty.
  RepositoryRecord again = repo("full");
  EXPECT_TRUE(tags(again).empty());
  EXPECT_EQ(manifest_code(again, child.digest), Code::kManifestUnknown);
  EXPECT_EQ(
      blob_links().get_blob_link(again.id, Digest::of("config of child image")).status().code(),
      Code::kBlobUnknown);
  auto images = manifests().list_images(again.id, {});
  ASSERT_TRUE(images.is_ok());
  EXPECT_TRUE(images->empty());
}

TEST_P(RepositoryStoreConformance, DeletingOneRepositoryLeavesOthersAlone) {
  RepositoryRecord a = repo("keep");
  RepositoryRecord b = repo("drop");
  ManifestRecord ma = put_image(a, "same image", "v1");
  ManifestRecord mb = put_image(b, "same image", "v1");
  ASSERT_TRUE(store().delete_repository(b.id, true).is_ok());
  auto got = manifests().get_manifest_by_tag(a.id, "v1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->digest, ma.digest);
  EXPECT_TRUE(blob_links().get_blob_link(a.id, Digest::of("config of same image")).is_ok());
}

}  // namespace berth::conformance
