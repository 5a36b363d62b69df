// The MetadataStore conformance suite: what every MetadataStore implementation
// must do, written against the interface only (meta/metadata_store.h).
//
// To run it for an implementation, add one line to
// metadata_store_conformance.cc:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, MetadataStoreConformance,
//                            ::testing::Values(MetadataStoreFactory{"postgres", make_pg}),
//                            MetadataStoreFactory::Name);
//
// The factory is called once per test with a fresh, empty scratch directory
// that the suite removes afterwards; it must return a fresh, empty store.
//
// This header defines the tests themselves, so include it from exactly one
// translation unit of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "meta/metadata_store.h"

namespace berth::conformance {

struct MetadataStoreFactory {
  std::string name;  // a gtest name: letters, digits and '_'
  std::function<std::unique_ptr<MetadataStore>(const std::filesystem::path& scratch_dir)> make;

  static std::string Name(const ::testing::TestParamInfo<MetadataStoreFactory>& info) {
    return info.param.name;
  }
};

inline void PrintTo(const MetadataStoreFactory& f, std::ostream* os) { *os << f.name; }

class MetadataStoreConformance : public ::testing::TestWithParam<MetadataStoreFactory> {
 protected:
  static constexpr const char* kAccount = "111111111111";
  static constexpr const char* kOtherAccount = "222222222222";
  static constexpr int64_t kNow = 1'700'000'000;

  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-meta-conformance-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
    store_ = GetParam().make(scratch_);
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  MetadataStore& store() { return *store_; }

  RepositoryRecord repo(std::string_view name, std::string_view account = kAccount) {
    auto r = store().ensure_repository(account, name, kNow);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : RepositoryRecord{};
  }

  // A blob linked to `r` whose digest is that of `content`.
  Digest linked_blob(const RepositoryRecord& r, std::string_view content) {
    const Digest d = Digest::of(content);
    Status s = store().link_blob(r.id, d, static_cast<int64_t>(content.size()), kNow);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return d;
  }

  // A manifest record whose bytes are `body` (the store does not parse them).
  static ManifestRecord manifest(std::string body, std::string media_type =
                                                       "application/vnd.oci.image.manifest.v1+json") {
    ManifestRecord m;
    m.digest = Digest::of(body);
    m.media_type = std::move(media_type);
    m.artifact_type = "application/vnd.oci.image.config.v1+json";
    m.annotations_json = "{}";
    m.bytes = std::move(body);
    m.image_size = 1234;
    m.pushed_at_ms = kNow * 1000;
    return m;
  }

  static PutManifestRequest request(const RepositoryRecord& r, ManifestRecord m,
                                    std::optional<std::string> tag = std::nullopt,
                                    std::vector<Digest> blobs = {},
                                    std::vector<Digest> children = {}) {
    PutManifestRequest req;
    req.repository = r.id;
    req.manifest = std::move(m);
    req.tag = std::move(tag);
    req.references.blobs = std::move(blobs);
    req.references.manifests = std::move(children);
    return req;
  }

  // Puts an image manifest `body` (referring to one fresh linked blob) into `r`.
  ManifestRecord put_image(const RepositoryRecord& r, const std::string& body,
                           std::optional<std::string> tag = std::nullopt) {
    ManifestRecord m = manifest(body);
    const Digest blob = linked_blob(r, "config of " + body);
    Status s = store().put_manifest(request(r, m, std::move(tag), {blob}));
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return m;
  }

  ManifestRecord put_index(const RepositoryRecord& r, const std::string& body,
                           const std::vector<Digest>& children,
                           std::optional<std::string> tag = std::nullopt) {
    ManifestRecord m = manifest(body, "application/vnd.oci.image.index.v1+json");
    m.artifact_type = "";
    Status s = store().put_manifest(request(r, m, std::move(tag), {}, children));
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return m;
  }

  std::vector<std::string> tags(const RepositoryRecord& r, PageRequest page = {}) {
    auto t = store().list_tags(r.id, page);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return t.is_ok() ? *t : std::vector<std::string>{};
  }

  std::vector<std::string> repo_names(std::string_view account, PageRequest page = {}) {
    auto l = store().list_repositories(account, page);
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    std::vector<std::string> out;
    if (l.is_ok()) {
      for (const auto& r : *l) out.push_back(r.name);
    }
    return out;
  }

  Code manifest_code(const RepositoryRecord& r, const Digest& d) {
    return store().get_manifest(r.id, d).status().code();
  }

  std::filesystem::path scratch_;
  std::unique_ptr<MetadataStore> store_;
};

// --- repositories -----------------------------------------------------------------

TEST_P(MetadataStoreConformance, CreateAndGetRepository) {
  RepositoryRecord in;
  in.account_id = kAccount;
  in.name = "team/app";
  in.created_at = kNow - 100;
  in.tag_mutability = "IMMUTABLE";
  in.tag_mutability_exclusions_json = R"([{"filterType":"WILDCARD","filter":"dev-*"}])";
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
  EXPECT_EQ(got->tag_mutability_exclusions_json, in.tag_mutability_exclusions_json);
  EXPECT_TRUE(got->scan_on_push);
  EXPECT_EQ(got->encryption_type, "KMS");
  EXPECT_EQ(got->kms_key, in.kms_key);
}

TEST_P(MetadataStoreConformance, CreateDuplicateIsAlreadyExists) {
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

TEST_P(MetadataStoreConformance, RepositoriesArePerAccount) {
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

TEST_P(MetadataStoreConformance, GetUnknownRepositoryIsNameUnknown) {
  auto r = store().get_repository(kAccount, "nope");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNameUnknown);
}

TEST_P(MetadataStoreConformance, EnsureRepositoryCreatesOnceWithDefaults) {
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

TEST_P(MetadataStoreConformance, EnsureRepositoryRacesEndWithOneRepository) {
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

TEST_P(MetadataStoreConformance, ListRepositoriesInLexicalOrderWithPaging) {
  std::vector<std::string> names = {"zeta", "alpha", "team/b", "team/a", "beta-2", "beta",
                                    "a0",   "m/n/o", "team",   "team-x"};
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
TEST_P(MetadataStoreConformance, RepositoriesAndTagsPageInByteOrder) {
  const std::vector<std::string> in_byte_order = {"Beta", "Zeta", "_under", "alpha", "zulu",
                                                  "\xc3\xa9lan" /* élan */, "\xe6\x97\xa5" /* 日 */};
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
    ASSERT_TRUE(store().put_manifest(request(r, m, t, {Digest::of("config of byte order")})).is_ok());
  }
  EXPECT_EQ(tags(r), in_byte_order);
  EXPECT_EQ(tags(r, {"_under", 3}), (std::vector<std::string>{"alpha", "zulu", "\xc3\xa9lan"}));
  auto for_manifest = store().tags_for_manifest(r.id, m.digest);
  ASSERT_TRUE(for_manifest.is_ok());
  EXPECT_EQ(*for_manifest, in_byte_order);
}

TEST_P(MetadataStoreConformance, UpdateRepositoryReplacesSettings) {
  RepositoryRecord r = repo("settings");
  r.tag_mutability = "IMMUTABLE_WITH_EXCLUSION";
  r.tag_mutability_exclusions_json = R"([{"filterType":"WILDCARD","filter":"latest"}])";
  r.scan_on_push = true;
  ASSERT_TRUE(store().update_repository(r).is_ok());
  auto got = store().get_repository(kAccount, "settings");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->id, r.id);
  EXPECT_EQ(got->name, "settings");
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->tag_mutability, "IMMUTABLE_WITH_EXCLUSION");
  EXPECT_EQ(got->tag_mutability_exclusions_json, r.tag_mutability_exclusions_json);
  EXPECT_TRUE(got->scan_on_push);

  r.tag_mutability = "MUTABLE";
  r.tag_mutability_exclusions_json = "[]";
  r.scan_on_push = false;
  ASSERT_TRUE(store().update_repository(r).is_ok());
  got = store().get_repository(kAccount, "settings");
  EXPECT_EQ(got->tag_mutability, "MUTABLE");
  EXPECT_EQ(got->tag_mutability_exclusions_json, "[]");
  EXPECT_FALSE(got->scan_on_push);
}

TEST_P(MetadataStoreConformance, UpdateUnknownRepositoryIsNameUnknown) {
  RepositoryRecord ghost;
  ghost.id = 987654;
  ghost.account_id = kAccount;
  ghost.name = "ghost";
  EXPECT_EQ(store().update_repository(ghost).code(), Code::kNameUnknown);
  EXPECT_EQ(store().get_repository(kAccount, "ghost").status().code(), Code::kNameUnknown);
}

TEST_P(MetadataStoreConformance, DeleteEmptyRepository) {
  RepositoryRecord r = repo("empty");
  // Links and uploads alone do not make a repository "not empty".
  linked_blob(r, "orphan layer");
  ASSERT_TRUE(store().create_upload(UploadRecord{"upload-empty-1", r.id, kNow}).is_ok());
  ASSERT_TRUE(store().delete_repository(r.id, false).is_ok());
  EXPECT_EQ(store().get_repository(kAccount, "empty").status().code(), Code::kNameUnknown);
  EXPECT_EQ(store().get_upload("upload-empty-1").status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(store().delete_repository(r.id, false).code(), Code::kNameUnknown);
}

TEST_P(MetadataStoreConformance, DeleteRepositoryWithImagesNeedsForce) {
  RepositoryRecord r = repo("full");
  ManifestRecord child = put_image(r, "child image");
  put_index(r, "the index", {child.digest}, "latest");
  ASSERT_TRUE(store().create_upload(UploadRecord{"upload-full-1", r.id, kNow}).is_ok());

  Status s = store().delete_repository(r.id, false);
  EXPECT_EQ(s.code(), Code::kRepositoryNotEmpty) << s.to_string();
  ASSERT_TRUE(store().get_repository(kAccount, "full").is_ok());
  EXPECT_EQ(tags(r), std::vector<std::string>{"latest"});

  ASSERT_TRUE(store().delete_repository(r.id, true).is_ok());
  EXPECT_EQ(store().get_repository(kAccount, "full").status().code(), Code::kNameUnknown);
  EXPECT_EQ(store().get_upload("upload-full-1").status().code(), Code::kBlobUploadUnknown);
  auto with_blob = store().repositories_with_blob(kAccount, Digest::of("config of child image"));
  ASSERT_TRUE(with_blob.is_ok());
  EXPECT_TRUE(with_blob->empty());

  // A new repository of the same name starts empty.
  RepositoryRecord again = repo("full");
  EXPECT_TRUE(tags(again).empty());
  EXPECT_EQ(manifest_code(again, child.digest), Code::kManifestUnknown);
  EXPECT_EQ(store().get_blob_link(again.id, Digest::of("config of child image")).status().code(),
            Code::kBlobUnknown);
  auto images = store().list_images(again.id, {});
  ASSERT_TRUE(images.is_ok());
  EXPECT_TRUE(images->empty());
}

TEST_P(MetadataStoreConformance, DeletingOneRepositoryLeavesOthersAlone) {
  RepositoryRecord a = repo("keep");
  RepositoryRecord b = repo("drop");
  ManifestRecord ma = put_image(a, "same image", "v1");
  ManifestRecord mb = put_image(b, "same image", "v1");
  ASSERT_TRUE(store().delete_repository(b.id, true).is_ok());
  auto got = store().get_manifest_by_tag(a.id, "v1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->digest, ma.digest);
  EXPECT_TRUE(store().get_blob_link(a.id, Digest::of("config of same image")).is_ok());
}

// --- blob links ----------------------------------------------------------------------

TEST_P(MetadataStoreConformance, BlobLinks) {
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
TEST_P(MetadataStoreConformance, LinkedBlobsListsEveryLinkedDigestOnceInDigestOrder) {
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

TEST_P(MetadataStoreConformance, RepositoriesWithBlobAreThoseOfTheAccount) {
  RepositoryRecord a = repo("with/a");
  RepositoryRecord b = repo("with/b");
  RepositoryRecord c = repo("with/c");
  RepositoryRecord foreign = repo("with/a", kOtherAccount);
  const Digest d = Digest::of("shared layer");
  for (const auto* r : {&a, &c, &foreign}) ASSERT_TRUE(store().link_blob(r->id, d, 12, kNow).is_ok());

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

// --- uploads --------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, Uploads) {
  RepositoryRecord r = repo("uploads");
  ASSERT_TRUE(store().create_upload(UploadRecord{"u-old", r.id, kNow - 100}).is_ok());
  ASSERT_TRUE(store().create_upload(UploadRecord{"u-mid", r.id, kNow - 50}).is_ok());
  ASSERT_TRUE(store().create_upload(UploadRecord{"u-new", r.id, kNow}).is_ok());

  auto got = store().get_upload("u-mid");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, "u-mid");
  EXPECT_EQ(got->repository, r.id);
  EXPECT_EQ(got->started_at, kNow - 50);
  EXPECT_EQ(store().get_upload("u-none").status().code(), Code::kBlobUploadUnknown);

  auto ids = [&](int64_t when) {
    auto before = store().uploads_started_before(when);
    EXPECT_TRUE(before.is_ok());
    std::set<std::string> out;
    for (const auto& u : *before) out.insert(u.id);
    return out;
  };
  EXPECT_EQ(ids(kNow - 100), std::set<std::string>{});  // strictly before
  EXPECT_EQ(ids(kNow - 99), std::set<std::string>{"u-old"});
  EXPECT_EQ(ids(kNow), (std::set<std::string>{"u-old", "u-mid"}));
  EXPECT_EQ(ids(kNow + 1), (std::set<std::string>{"u-old", "u-mid", "u-new"}));

  ASSERT_TRUE(store().delete_upload("u-mid").is_ok());
  EXPECT_EQ(store().get_upload("u-mid").status().code(), Code::kBlobUploadUnknown);
  EXPECT_EQ(ids(kNow + 1), (std::set<std::string>{"u-old", "u-new"}));
  EXPECT_TRUE(store().get_upload("u-old").is_ok());
}

// --- manifests -------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, PutAndGetManifest) {
  RepositoryRecord r = repo("manifests");
  const Digest config = linked_blob(r, "config");
  const Digest layer = linked_blob(r, "layer");
  ManifestRecord m = manifest(std::string("{\"exact\":  \"bytes\"}\n\xe2\x9c\x93"));
  m.artifact_type = "application/vnd.example.thing";
  m.subject = Digest::of("some subject");
  m.annotations_json = R"({"org.opencontainers.image.created":"2024-01-01T00:00:00Z"})";
  m.image_size = 987654321;
  m.pushed_at_ms = (kNow + 5) * 1000 + 250;
  ASSERT_TRUE(store().put_manifest(request(r, m, "v1", {config, layer})).is_ok());

  for (auto got : {store().get_manifest(r.id, m.digest), store().get_manifest_by_tag(r.id, "v1")}) {
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(got->digest, m.digest);
    EXPECT_EQ(got->bytes, m.bytes);
    EXPECT_EQ(got->media_type, m.media_type);
    EXPECT_EQ(got->artifact_type, "application/vnd.example.thing");
    ASSERT_TRUE(got->subject.has_value());
    EXPECT_EQ(*got->subject, Digest::of("some subject"));
    EXPECT_EQ(got->annotations_json, m.annotations_json);
    EXPECT_EQ(got->image_size, 987654321);
    EXPECT_EQ(got->pushed_at_ms, (kNow + 5) * 1000 + 250);
    EXPECT_FALSE(got->last_pulled_at_ms.has_value());
  }
  EXPECT_EQ(tags(r), std::vector<std::string>{"v1"});
}

TEST_P(MetadataStoreConformance, ManifestsArePerRepository) {
  RepositoryRecord a = repo("iso/a");
  RepositoryRecord b = repo("iso/b");
  ManifestRecord m = put_image(a, "isolated", "t");
  EXPECT_EQ(manifest_code(b, m.digest), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(b.id, "t").status().code(), Code::kManifestUnknown);
  EXPECT_TRUE(tags(b).empty());
}

TEST_P(MetadataStoreConformance, ResolveManifestByNameTellsTheErrorsApart) {
  RepositoryRecord r = repo("resolve/app");
  RepositoryRecord other = repo("resolve/app", kOtherAccount);
  ManifestRecord m = put_image(r, "resolved image", "v1");
  ManifestRecord untagged = put_image(r, "untagged image");

  auto by_tag = store().resolve_manifest(kAccount, "resolve/app", nullptr, "v1");
  ASSERT_TRUE(by_tag.is_ok()) << by_tag.status().to_string();
  EXPECT_EQ(by_tag->repository, r.id);
  EXPECT_EQ(by_tag->manifest.digest, m.digest);
  EXPECT_EQ(by_tag->manifest.bytes, m.bytes);
  EXPECT_EQ(by_tag->manifest.media_type, m.media_type);

  auto by_digest = store().resolve_manifest(kAccount, "resolve/app", &untagged.digest, "");
  ASSERT_TRUE(by_digest.is_ok()) << by_digest.status().to_string();
  EXPECT_EQ(by_digest->repository, r.id);
  EXPECT_EQ(by_digest->manifest.digest, untagged.digest);
  EXPECT_EQ(by_digest->manifest.bytes, untagged.bytes);

  // The same name in another account is another repository, and empty.
  EXPECT_EQ(store().resolve_manifest(kOtherAccount, "resolve/app", nullptr, "v1").status().code(),
            Code::kManifestUnknown);
  EXPECT_EQ(store().resolve_manifest(kOtherAccount, "resolve/app", &m.digest, "").status().code(),
            Code::kManifestUnknown);
  EXPECT_NE(other.id, r.id);
  EXPECT_EQ(store().resolve_manifest(kAccount, "resolve/app", nullptr, "v2").status().code(),
            Code::kManifestUnknown);
  EXPECT_EQ(store().resolve_manifest(kAccount, "resolve/none", nullptr, "v1").status().code(),
            Code::kNameUnknown);
  EXPECT_EQ(store().resolve_manifest(kAccount, "resolve/none", &m.digest, "").status().code(),
            Code::kNameUnknown);

  // A deleted tag no longer resolves; the digest still does.
  ASSERT_TRUE(store().delete_tag(r.id, "v1").is_ok());
  EXPECT_EQ(store().resolve_manifest(kAccount, "resolve/app", nullptr, "v1").status().code(),
            Code::kManifestUnknown);
  EXPECT_TRUE(store().resolve_manifest(kAccount, "resolve/app", &m.digest, "").is_ok());
}

TEST_P(MetadataStoreConformance, PutWithoutTag) {
  RepositoryRecord r = repo("untagged");
  ManifestRecord m = put_image(r, "no tag");
  EXPECT_TRUE(store().get_manifest(r.id, m.digest).is_ok());
  EXPECT_TRUE(tags(r).empty());
}

TEST_P(MetadataStoreConformance, MissingBlobIsManifestBlobUnknownAndStoresNothing) {
  RepositoryRecord r = repo("missing-blob");
  RepositoryRecord other = repo("has-the-blob");
  const Digest present = linked_blob(r, "present");
  const Digest elsewhere = linked_blob(other, "elsewhere");  // linked, but not in r
  ManifestRecord m = manifest("needs blobs");
  Status s = store().put_manifest(request(r, m, "latest", {present, elsewhere}));
  EXPECT_EQ(s.code(), Code::kManifestBlobUnknown) << s.to_string();
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
  EXPECT_TRUE(tags(r).empty());
}

TEST_P(MetadataStoreConformance, MissingChildManifestIsManifestUnknownAndStoresNothing) {
  RepositoryRecord r = repo("missing-child");
  RepositoryRecord other = repo("has-the-child");
  ManifestRecord here = put_image(r, "child here");
  ManifestRecord there = put_image(other, "child there");
  ManifestRecord index = manifest("index", "application/vnd.oci.image.index.v1+json");
  Status s = store().put_manifest(request(r, index, "multi", {}, {here.digest, there.digest}));
  EXPECT_EQ(s.code(), Code::kManifestUnknown) << s.to_string();
  EXPECT_EQ(manifest_code(r, index.digest), Code::kManifestUnknown);
  EXPECT_TRUE(tags(r).empty());
}

TEST_P(MetadataStoreConformance, RePutIsIdempotent) {
  RepositoryRecord r = repo("reput");
  const Digest blob = linked_blob(r, "cfg");
  ManifestRecord m = manifest("same manifest");
  ASSERT_TRUE(store().put_manifest(request(r, m, "a", {blob})).is_ok());
  ASSERT_TRUE(store().put_manifest(request(r, m, "a", {blob})).is_ok());
  ASSERT_TRUE(store().put_manifest(request(r, m, std::nullopt, {blob})).is_ok());
  ASSERT_TRUE(store().put_manifest(request(r, m, "b", {blob})).is_ok());
  auto images = store().list_images(r.id, {});
  ASSERT_TRUE(images.is_ok());
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].manifest.digest, m.digest);
  EXPECT_EQ(tags(r), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(store().get_manifest(r.id, m.digest)->bytes, "same manifest");
}

TEST_P(MetadataStoreConformance, TagMovesToTheNewManifest) {
  RepositoryRecord r = repo("moves");
  ManifestRecord first = put_image(r, "first", "latest");
  ManifestRecord second = put_image(r, "second", "latest");
  auto got = store().get_manifest_by_tag(r.id, "latest");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->digest, second.digest);
  // The old manifest stays, untagged.
  EXPECT_TRUE(store().get_manifest(r.id, first.digest).is_ok());
  EXPECT_EQ(tags(r), std::vector<std::string>{"latest"});
  // And the tag can move back.
  ASSERT_TRUE(store().put_manifest(request(r, first, "latest", {Digest::of("config of first")})).is_ok());
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "latest")->digest, first.digest);
}

TEST_P(MetadataStoreConformance, ImmutableTagCannotMoveButSameDigestIsFine) {
  RepositoryRecord r = repo("immutable");
  ManifestRecord first = put_image(r, "first", "v1");
  const Digest blob = linked_blob(r, "cfg2");
  ManifestRecord second = manifest("second");

  PutManifestRequest move = request(r, second, "v1", {blob});
  move.tag_immutable = true;
  Status s = store().put_manifest(move);
  EXPECT_EQ(s.code(), Code::kTagImmutable) << s.to_string();
  // Nothing changed: the tag stays and the new manifest was not stored.
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "v1")->digest, first.digest);
  EXPECT_EQ(manifest_code(r, second.digest), Code::kManifestUnknown);

  // Re-pushing the digest the tag already has is allowed.
  PutManifestRequest same = request(r, first, "v1", {Digest::of("config of first")});
  same.tag_immutable = true;
  EXPECT_TRUE(store().put_manifest(same).is_ok());
  // A new tag is allowed too.
  PutManifestRequest fresh = request(r, second, "v2", {blob});
  fresh.tag_immutable = true;
  EXPECT_TRUE(store().put_manifest(fresh).is_ok());
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "v2")->digest, second.digest);
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "v1")->digest, first.digest);
}

TEST_P(MetadataStoreConformance, GetUnknownManifestOrTag) {
  RepositoryRecord r = repo("unknowns");
  EXPECT_EQ(manifest_code(r, Digest::of("nothing")), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "nothing").status().code(), Code::kManifestUnknown);
}

TEST_P(MetadataStoreConformance, DeleteManifestTakesItsTags) {
  RepositoryRecord r = repo("delete");
  ManifestRecord m = put_image(r, "doomed", "a");
  ASSERT_TRUE(store().put_manifest(request(r, m, "b", {Digest::of("config of doomed")})).is_ok());
  ManifestRecord keep = put_image(r, "kept", "c");
  ASSERT_TRUE(store().delete_manifest(r.id, m.digest).is_ok());
  EXPECT_EQ(manifest_code(r, m.digest), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "a").status().code(), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "b").status().code(), Code::kManifestUnknown);
  EXPECT_EQ(tags(r), std::vector<std::string>{"c"});
  EXPECT_EQ(store().delete_manifest(r.id, m.digest).code(), Code::kManifestUnknown);
  // Blob links stay: they are garbage collection's business.
  EXPECT_TRUE(store().get_blob_link(r.id, Digest::of("config of doomed")).is_ok());
  EXPECT_TRUE(store().get_manifest(r.id, keep.digest).is_ok());
}

TEST_P(MetadataStoreConformance, DeleteManifestListedByAnIndexIsManifestReferenced) {
  RepositoryRecord r = repo("referenced");
  ManifestRecord amd = put_image(r, "amd64");
  ManifestRecord arm = put_image(r, "arm64");
  ManifestRecord index = put_index(r, "index", {amd.digest, arm.digest}, "latest");

  Status s = store().delete_manifest(r.id, amd.digest);
  EXPECT_EQ(s.code(), Code::kManifestReferenced) << s.to_string();
  EXPECT_TRUE(store().get_manifest(r.id, amd.digest).is_ok());

  ASSERT_TRUE(store().delete_manifest(r.id, index.digest).is_ok());
  EXPECT_TRUE(tags(r).empty());
  EXPECT_TRUE(store().delete_manifest(r.id, amd.digest).is_ok());
  EXPECT_TRUE(store().delete_manifest(r.id, arm.digest).is_ok());
}

TEST_P(MetadataStoreConformance, AnIndexInAnotherRepositoryDoesNotPinAManifest) {
  RepositoryRecord a = repo("pin/a");
  RepositoryRecord b = repo("pin/b");
  ManifestRecord in_a = put_image(a, "shared child");
  ManifestRecord in_b = put_image(b, "shared child");
  ASSERT_EQ(in_a.digest, in_b.digest);
  put_index(b, "index in b", {in_b.digest});
  EXPECT_TRUE(store().delete_manifest(a.id, in_a.digest).is_ok());
  EXPECT_EQ(store().delete_manifest(b.id, in_b.digest).code(), Code::kManifestReferenced);
}

TEST_P(MetadataStoreConformance, DeleteTagKeepsTheManifest) {
  RepositoryRecord r = repo("untag");
  ManifestRecord m = put_image(r, "image", "one");
  ASSERT_TRUE(store().put_manifest(request(r, m, "two", {Digest::of("config of image")})).is_ok());
  ASSERT_TRUE(store().delete_tag(r.id, "one").is_ok());
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "one").status().code(), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "two")->digest, m.digest);
  EXPECT_TRUE(store().get_manifest(r.id, m.digest).is_ok());
  EXPECT_EQ(tags(r), std::vector<std::string>{"two"});
  EXPECT_EQ(store().delete_tag(r.id, "one").code(), Code::kManifestUnknown);
  EXPECT_EQ(store().delete_tag(r.id, "never").code(), Code::kManifestUnknown);
}

TEST_P(MetadataStoreConformance, ListTagsInLexicalOrderWithPaging) {
  RepositoryRecord r = repo("tags");
  ManifestRecord m = put_image(r, "tagged");
  std::vector<std::string> names = {"v2",  "latest", "V1", "1.0", "_x",    "v10",
                                    "v1",  "a-b",    "a.b", "a_b", "stable", "Z"};
  std::shuffle(names.begin(), names.end(), std::mt19937(42));
  for (const auto& t : names) {
    ASSERT_TRUE(store().put_manifest(request(r, m, t, {Digest::of("config of tagged")})).is_ok());
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());  // byte order
  EXPECT_EQ(tags(r), sorted);

  for (size_t n : {1u, 2u, 5u, 12u, 13u}) {
    std::vector<std::string> paged;
    PageRequest page{"", n};
    for (int guard = 0; guard < 20; ++guard) {
      std::vector<std::string> got = tags(r, page);
      ASSERT_LE(got.size(), n);
      paged.insert(paged.end(), got.begin(), got.end());
      if (got.size() < n) break;
      page.after = got.back();
    }
    EXPECT_EQ(paged, sorted) << "page size " << n;
  }
  EXPECT_EQ(tags(r, {"v10", 0}), std::vector<std::string>{"v2"});
  EXPECT_TRUE(tags(r, {"v2", 0}).empty());
}

TEST_P(MetadataStoreConformance, ListReferrers) {
  RepositoryRecord r = repo("referrers");
  RepositoryRecord other = repo("referrers-other");
  ManifestRecord subject = put_image(r, "the subject");

  auto put_referrer = [&](const RepositoryRecord& repo_rec, const std::string& body,
                          const std::string& artifact_type, const Digest& subj) {
    ManifestRecord m = manifest(body);
    m.artifact_type = artifact_type;
    m.subject = subj;
    m.annotations_json = R"({"org.example.kind":")" + body + "\"}";
    Status s = store().put_manifest(request(repo_rec, m));
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return m;
  };
  const std::string kSbom = "application/vnd.example.sbom.v1+json";
  const std::string kSig = "application/vnd.example.signature.v1";
  ManifestRecord sbom1 = put_referrer(r, "sbom one", kSbom, subject.digest);
  ManifestRecord sig = put_referrer(r, "signature", kSig, subject.digest);
  ManifestRecord sbom2 = put_referrer(r, "sbom two", kSbom, subject.digest);
  put_referrer(r, "refers elsewhere", kSbom, Digest::of("another subject"));
  put_referrer(other, "other repo", kSbom, subject.digest);

  auto all = store().list_referrers(r.id, subject.digest, std::nullopt);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  std::vector<Digest> want = {sbom1.digest, sig.digest, sbom2.digest};
  std::sort(want.begin(), want.end());
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*all)[i].digest, want[i]) << i;
  for (const ReferrerRecord& ref : *all) {
    const ManifestRecord& src = ref.digest == sig.digest ? sig
                                : ref.digest == sbom1.digest ? sbom1
                                                             : sbom2;
    EXPECT_EQ(ref.media_type, src.media_type);
    EXPECT_EQ(ref.artifact_type, src.artifact_type);
    EXPECT_EQ(ref.size, static_cast<int64_t>(src.bytes.size()));
    EXPECT_EQ(ref.annotations_json, src.annotations_json);
  }

  auto sboms = store().list_referrers(r.id, subject.digest, std::string_view(kSbom));
  ASSERT_TRUE(sboms.is_ok());
  std::vector<Digest> want_sbom = {sbom1.digest, sbom2.digest};
  std::sort(want_sbom.begin(), want_sbom.end());
  ASSERT_EQ(sboms->size(), 2u);
  EXPECT_EQ((*sboms)[0].digest, want_sbom[0]);
  EXPECT_EQ((*sboms)[1].digest, want_sbom[1]);

  auto none = store().list_referrers(r.id, subject.digest, std::string_view("application/x-none"));
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());

  // A subject need not exist, and an unknown one simply has no referrers.
  auto unknown = store().list_referrers(r.id, Digest::of("no such subject"), std::nullopt);
  ASSERT_TRUE(unknown.is_ok());
  EXPECT_TRUE(unknown->empty());
  auto dangling = store().list_referrers(r.id, Digest::of("another subject"), std::nullopt);
  ASSERT_TRUE(dangling.is_ok());
  EXPECT_EQ(dangling->size(), 1u);

  // Deleting a referrer removes it from the list.
  ASSERT_TRUE(store().delete_manifest(r.id, sig.digest).is_ok());
  auto after = store().list_referrers(r.id, subject.digest, std::nullopt);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->size(), 2u);
}

TEST_P(MetadataStoreConformance, ListImagesWithTags) {
  RepositoryRecord r = repo("images");
  RepositoryRecord other = repo("images-other");
  ManifestRecord a = put_image(r, "image a", "a1");
  ASSERT_TRUE(store().put_manifest(request(r, a, "a2", {Digest::of("config of image a")})).is_ok());
  ManifestRecord b = put_image(r, "image b");
  ManifestRecord c = put_image(r, "image c", "c1");
  put_image(other, "image a", "other-tag");

  auto images = store().list_images(r.id, {});
  ASSERT_TRUE(images.is_ok()) << images.status().to_string();
  ASSERT_EQ(images->size(), 3u);
  std::vector<Digest> want = {a.digest, b.digest, c.digest};
  std::sort(want.begin(), want.end());
  for (size_t i = 0; i < 3; ++i) {
    const ImageRecord& img = (*images)[i];
    EXPECT_EQ(img.manifest.digest, want[i]) << i;
    EXPECT_TRUE(img.manifest.bytes.empty()) << "list calls leave bytes empty";
    EXPECT_EQ(img.manifest.image_size, 1234);
    EXPECT_EQ(img.manifest.media_type, "application/vnd.oci.image.manifest.v1+json");
    std::set<std::string> got_tags(img.tags.begin(), img.tags.end());
    EXPECT_EQ(got_tags.size(), img.tags.size()) << "duplicate tags";
    if (img.manifest.digest == a.digest) {
      EXPECT_EQ(got_tags, (std::set<std::string>{"a1", "a2"}));
    } else if (img.manifest.digest == b.digest) {
      EXPECT_TRUE(got_tags.empty());
    } else {
      EXPECT_EQ(got_tags, std::set<std::string>{"c1"});
    }
  }

  // Paged by digest, one at a time, tags intact on every page.
  std::vector<Digest> paged;
  PageRequest page{"", 1};
  for (int guard = 0; guard < 10; ++guard) {
    auto got = store().list_images(r.id, page);
    ASSERT_TRUE(got.is_ok());
    if (got->empty()) break;
    ASSERT_EQ(got->size(), 1u);
    const ImageRecord& img = (*got)[0];
    paged.push_back(img.manifest.digest);
    if (img.manifest.digest == a.digest) {
      EXPECT_EQ(img.tags.size(), 2u);
    }
    if (img.manifest.digest == c.digest) {
      EXPECT_EQ(img.tags, std::vector<std::string>{"c1"});
    }
    page.after = img.manifest.digest.str();
  }
  EXPECT_EQ(paged, want);
}

TEST_P(MetadataStoreConformance, TagsForManifest) {
  RepositoryRecord r = repo("tags-for");
  RepositoryRecord other = repo("tags-for-other");
  ManifestRecord m = put_image(r, "tagged image", "zulu");
  for (const char* t : {"alpha", "Mike", "1.0"}) {
    ASSERT_TRUE(store().put_manifest(request(r, m, t, {Digest::of("config of tagged image")})).is_ok());
  }
  ManifestRecord untagged = put_image(r, "untagged image");
  put_image(other, "tagged image", "elsewhere");

  auto got = store().tags_for_manifest(r.id, m.digest);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  std::vector<std::string> want = {"zulu", "alpha", "Mike", "1.0"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*got, want);

  auto none = store().tags_for_manifest(r.id, untagged.digest);
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());

  // A tag that moves away is no longer listed.
  put_image(r, "another image", "alpha");
  got = store().tags_for_manifest(r.id, m.digest);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(std::count(got->begin(), got->end(), "alpha"), 0);
  EXPECT_EQ(got->size(), 3u);
}

TEST_P(MetadataStoreConformance, ResourceTags) {
  RepositoryRecord r = repo("resource-tags");
  RepositoryRecord other = repo("resource-tags-other");
  auto empty = store().get_resource_tags(r.id);
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_TRUE(empty->empty());

  using Tags = std::vector<std::pair<std::string, std::string>>;
  ASSERT_TRUE(store().set_resource_tags(r.id, Tags{{"team", "payments"}, {"env", "prod"}, {"Cost", ""}}).is_ok());
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
  ASSERT_TRUE(store().delete_repository(r.id, false).is_ok());
  RepositoryRecord again = repo("resource-tags");
  EXPECT_TRUE(store().get_resource_tags(again.id)->empty());
}

// Manifests pushed within one millisecond keep their push order: the store's
// push sequence grows with each new manifest, whatever the digests.
TEST_P(MetadataStoreConformance, PushSequenceFollowsPushOrder) {
  RepositoryRecord r = repo("sequence");
  std::vector<ManifestRecord> pushed;
  for (const char* body : {"zzz third digest order", "aaa", "mmm", "bbb"}) pushed.push_back(put_image(r, body));
  std::vector<int64_t> seq;
  for (const auto& m : pushed) {
    auto got = store().get_manifest(r.id, m.digest);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->pushed_at_ms, kNow * 1000);
    seq.push_back(got->push_sequence);
  }
  for (size_t i = 1; i < seq.size(); ++i) EXPECT_LT(seq[i - 1], seq[i]) << "push " << i;
  auto images = store().list_images(r.id, {});
  ASSERT_TRUE(images.is_ok());
  for (const auto& img : *images) {
    for (size_t i = 0; i < pushed.size(); ++i) {
      if (img.manifest.digest == pushed[i].digest) {
        EXPECT_EQ(img.manifest.push_sequence, seq[i]);
      }
    }
  }
}

TEST_P(MetadataStoreConformance, RecordPull) {
  RepositoryRecord r = repo("pulls");
  ManifestRecord m = put_image(r, "pulled", "t");
  ManifestRecord untouched = put_image(r, "never pulled");
  ASSERT_TRUE(store().record_pull(r.id, m.digest, kNow + 100).is_ok());
  auto got = store().get_manifest(r.id, m.digest);
  ASSERT_TRUE(got.is_ok());
  ASSERT_TRUE(got->last_pulled_at_ms.has_value());
  EXPECT_EQ(*got->last_pulled_at_ms, kNow + 100);
  EXPECT_FALSE(store().get_manifest(r.id, untouched.digest)->last_pulled_at_ms.has_value());

  // A later pull moves the time forward; an older report does not move it back.
  ASSERT_TRUE(store().record_pull(r.id, m.digest, kNow + 200).is_ok());
  EXPECT_EQ(store().get_manifest(r.id, m.digest)->last_pulled_at_ms, kNow + 200);
  ASSERT_TRUE(store().record_pull(r.id, m.digest, kNow + 150).is_ok());
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "t")->last_pulled_at_ms, kNow + 200);

  auto images = store().list_images(r.id, {});
  ASSERT_TRUE(images.is_ok());
  for (const auto& img : *images) {
    if (img.manifest.digest == m.digest) {
      EXPECT_EQ(img.manifest.last_pulled_at_ms, kNow + 200);
    }
  }
}

// --- concurrency ------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, ConcurrentPutsIntoOneRepositoryStayConsistent) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  RepositoryRecord r = repo("busy");
  const Digest blob = linked_blob(r, "shared config");

  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ManifestRecord m = manifest("thread " + std::to_string(t) + " image " + std::to_string(i));
        const std::string own = "t" + std::to_string(t) + "-" + std::to_string(i);
        for (const std::optional<std::string>& tag :
             {std::optional<std::string>(own), std::optional<std::string>("latest"),
              std::optional<std::string>("shared-" + std::to_string(i % 3))}) {
          Status s = store().put_manifest(request(r, m, tag, {blob}));
          if (!s.is_ok()) {
            ++failures;
            errors[t] = s.to_string();
          }
        }
        // Reads interleave with the writes of the other threads.
        auto back = store().get_manifest_by_tag(r.id, own);
        if (!back.is_ok() || back->digest != m.digest) {
          ++failures;
          errors[t] = "read-back of " + own + " failed";
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(errors[t].empty()) << "thread " << t << ": " << errors[t];
  ASSERT_EQ(failures.load(), 0);

  auto images = store().list_images(r.id, {});
  ASSERT_TRUE(images.is_ok());
  ASSERT_EQ(images->size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<Digest> all;
  size_t tag_count = 0;
  for (const auto& img : *images) {
    all.insert(img.manifest.digest);
    tag_count += img.tags.size();
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));

  std::vector<std::string> listed = tags(r);
  EXPECT_EQ(listed.size(), static_cast<size_t>(kThreads * kPerThread + 1 + 3));
  EXPECT_EQ(tag_count, listed.size()) << "each tag points at exactly one image";
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string own = "t" + std::to_string(t) + "-" + std::to_string(i);
      auto got = store().get_manifest_by_tag(r.id, own);
      ASSERT_TRUE(got.is_ok()) << own;
      EXPECT_EQ(got->digest, Digest::of("thread " + std::to_string(t) + " image " + std::to_string(i)));
    }
  }
  auto latest = store().get_manifest_by_tag(r.id, "latest");
  ASSERT_TRUE(latest.is_ok());
  EXPECT_TRUE(all.count(latest->digest));
  for (int k = 0; k < 3; ++k) {
    auto shared = store().get_manifest_by_tag(r.id, "shared-" + std::to_string(k));
    ASSERT_TRUE(shared.is_ok());
    EXPECT_TRUE(all.count(shared->digest));
  }
}

}  // namespace berth::conformance
