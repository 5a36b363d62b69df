// The ManifestStore conformance suite: manifests, tags, referrers, images and pull times. Written
// against the role interface (meta/manifest_store.h): the role under test is store(); the other
// roles only arrange state. Include it from exactly one translation unit, after
// metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(ManifestStoreConformance, PutAndGetManifest) {
  RepositoryRecord r = repo("manifests");
  const Digest config = linked_blob(r, "config");
  const Digest layer = linked_blob(r, "layer");
  ManifestRecord m = manifest(std::string("{\"exact\":  \"bytes\"}\n\xe2\x9c\x93"));
  m.artifact_type = "application/vnd.example.thing";
  m.subject = Digest::of("some subject");
  m.annotations = {{"org.opencontainers.image.created", "2024-01-01T00:00:00Z"},
                   {"org.example.note", "a \"b\" \xc3\xa9"}};
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
    EXPECT_EQ(got->annotations, m.annotations);
    EXPECT_EQ(got->image_size, 987654321);
    EXPECT_EQ(got->pushed_at_ms, (kNow + 5) * 1000 + 250);
    EXPECT_FALSE(got->last_pulled_at_ms.has_value());
  }
  EXPECT_EQ(tags(r), std::vector<std::string>{"v1"});
}

TEST_P(ManifestStoreConformance, ManifestsArePerRepository) {
  RepositoryRecord a = repo("iso/a");
  RepositoryRecord b = repo("iso/b");
  ManifestRecord m = put_image(a, "isolated", "t");
  EXPECT_EQ(manifest_code(b, m.digest), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(b.id, "t").status().code(), Code::kManifestUnknown);
  EXPECT_TRUE(tags(b).empty());
}

TEST_P(ManifestStoreConformance, ResolveManifestByNameTellsTheErrorsApart) {
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

TEST_P(ManifestStoreConformance, PutWithoutTag) {
  RepositoryRecord r = repo("untagged");
  ManifestRecord m = put_image(r, "no tag");
  EXPECT_TRUE(store().get_manifest(r.id, m.digest).is_ok());
  EXPECT_TRUE(tags(r).empty());
}

TEST_P(ManifestStoreConformance, MissingBlobIsManifestBlobUnknownAndStoresNothing) {
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

TEST_P(ManifestStoreConformance, MissingChildManifestIsManifestUnknownAndStoresNothing) {
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

TEST_P(ManifestStoreConformance, RePutIsIdempotent) {
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

TEST_P(ManifestStoreConformance, TagMovesToTheNewManifest) {
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
  ASSERT_TRUE(
      store().put_manifest(request(r, first, "latest", {Digest::of("config of first")})).is_ok());
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "latest")->digest, first.digest);
}

TEST_P(ManifestStoreConformance, ImmutableTagCannotMoveButSameDigestIsFine) {
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

TEST_P(ManifestStoreConformance, GetUnknownManifestOrTag) {
  RepositoryRecord r = repo("unknowns");
  EXPECT_EQ(manifest_code(r, Digest::of("nothing")), Code::kManifestUnknown);
  EXPECT_EQ(store().get_manifest_by_tag(r.id, "nothing").status().code(), Code::kManifestUnknown);
}

TEST_P(ManifestStoreConformance, DeleteManifestTakesItsTags) {
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
  EXPECT_TRUE(blob_links().get_blob_link(r.id, Digest::of("config of doomed")).is_ok());
  EXPECT_TRUE(store().get_manifest(r.id, keep.digest).is_ok());
}

TEST_P(ManifestStoreConformance, DeleteManifestListedByAnIndexIsManifestReferenced) {
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

TEST_P(ManifestStoreConformance, AnIndexInAnotherRepositoryDoesNotPinAManifest) {
  RepositoryRecord a = repo("pin/a");
  RepositoryRecord b = repo("pin/b");
  ManifestRecord in_a = put_image(a, "shared child");
  ManifestRecord in_b = put_image(b, "shared child");
  ASSERT_EQ(in_a.digest, in_b.digest);
  put_index(b, "index in b", {in_b.digest});
  EXPECT_TRUE(store().delete_manifest(a.id, in_a.digest).is_ok());
  EXPECT_EQ(store().delete_manifest(b.id, in_b.digest).code(), Code::kManifestReferenced);
}

TEST_P(ManifestStoreConformance, DeleteTagKeepsTheManifest) {
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

TEST_P(ManifestStoreConformance, ListTagsInLexicalOrderWithPaging) {
  RepositoryRecord r = repo("tags");
  ManifestRecord m = put_image(r, "tagged");
  std::vector<std::string> names = {"v2", "latest", "V1",  "1.0", "_x",     "v10",
                                    "v1", "a-b",    "a.b", "a_b", "stable", "Z"};
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

TEST_P(ManifestStoreConformance, ListReferrers) {
  RepositoryRecord r = repo("referrers");
  RepositoryRecord other = repo("referrers-other");
  ManifestRecord subject = put_image(r, "the subject");

  auto put_referrer = [&](const RepositoryRecord& repo_rec, const std::string& body,
                          const std::string& artifact_type, const Digest& subj) {
    ManifestRecord m = manifest(body);
    m.artifact_type = artifact_type;
    m.subject = subj;
    m.annotations = {{"org.example.kind", body}};
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
    const ManifestRecord& src = ref.digest == sig.digest     ? sig
                                : ref.digest == sbom1.digest ? sbom1
                                                             : sbom2;
    EXPECT_EQ(ref.media_type, src.media_type);
    EXPECT_EQ(ref.artifact_type, src.artifact_type);
    EXPECT_EQ(ref.size, static_cast<int64_t>(src.bytes.size()));
    EXPECT_EQ(ref.annotations, src.annotations);
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

TEST_P(ManifestStoreConformance, ListImagesWithTags) {
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

TEST_P(ManifestStoreConformance, TagsForManifest) {
  RepositoryRecord r = repo("tags-for");
  RepositoryRecord other = repo("tags-for-other");
  ManifestRecord m = put_image(r, "tagged image", "zulu");
  for (const char* t : {"alpha", "Mike", "1.0"}) {
    ASSERT_TRUE(
        store().put_manifest(request(r, m, t, {Digest::of("config of tagged image")})).is_ok());
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

// Manifests pushed within one millisecond keep their push order: the store's
// push sequence grows with each new manifest, whatever the digests.
TEST_P(ManifestStoreConformance, PushSequenceFollowsPushOrder) {
  RepositoryRecord r = repo("sequence");
  std::vector<ManifestRecord> pushed;
  for (const char* body : {"zzz third digest order", "aaa", "mmm", "bbb"})
    pushed.push_back(put_image(r, body));
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

TEST_P(ManifestStoreConformance, RecordPull) {
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

TEST_P(ManifestStoreConformance, ConcurrentPutsIntoOneRepositoryStayConsistent) {
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
  for (int t = 0; t < kThreads; ++t)
    EXPECT_TRUE(errors[t].empty()) << "thread " << t << ": " << errors[t];
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
      EXPECT_EQ(got->digest,
                Digest::of("thread " + std::to_string(t) + " image " + std::to_string(i)));
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

TEST_P(ManifestStoreConformance, ListImagesReportsTheChildrenOfAnIndex) {
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

}  // namespace berth::conformance
