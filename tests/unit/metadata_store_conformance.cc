// Runs the MetadataStore conformance suite (metadata_store_conformance.h) for
// every MetadataStore implementation. One INSTANTIATE line per implementation.
#include "metadata_store_conformance.h"
#include "metadata_store_conformance_gc.h"
#include "metadata_store_conformance_images.h"

#include <sqlite3.h>

#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth::conformance {
namespace {

std::function<std::unique_ptr<MetadataStore>(const std::filesystem::path&)> sqlite_store(
    bool synchronous_full) {
  return [synchronous_full](const std::filesystem::path& scratch_dir) -> std::unique_ptr<MetadataStore> {
    auto store = SqliteMetadataStore::open((scratch_dir / "meta.db").string(), synchronous_full);
    EXPECT_TRUE(store.is_ok()) << store.status().to_string();
    if (!store.is_ok()) return nullptr;
    return std::move(store).value();
  };
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MetadataStoreConformance,
                         ::testing::Values(MetadataStoreFactory{"sqlite_sync_full", sqlite_store(true)},
                                           MetadataStoreFactory{"sqlite_sync_normal",
                                                                sqlite_store(false)}),
                         MetadataStoreFactory::Name);

// SqliteMetadataStore specifics the interface leaves open.

TEST(SqliteMetadataStoreTest, ReopeningKeepsEverything) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-sqlite-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string path = (dir / "meta.db").string();
  const Digest blob = Digest::of("cfg");
  ManifestRecord m;
  m.digest = Digest::of("manifest");
  m.media_type = "application/vnd.oci.image.manifest.v1+json";
  m.annotations_json = "{}";
  m.bytes = "manifest";
  {
    auto store = SqliteMetadataStore::open(path);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    auto repo = (*store)->ensure_repository("111111111111", "persisted", 1);
    ASSERT_TRUE(repo.is_ok());
    ASSERT_TRUE((*store)->link_blob(repo->id, blob, 3, 1).is_ok());
    PutManifestRequest req;
    req.repository = repo->id;
    req.manifest = m;
    req.references.blobs = {blob};
    req.tag = "v1";
    ASSERT_TRUE((*store)->put_manifest(req).is_ok());
  }
  {
    auto store = SqliteMetadataStore::open(path);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    auto repo = (*store)->get_repository("111111111111", "persisted");
    ASSERT_TRUE(repo.is_ok());
    auto got = (*store)->get_manifest_by_tag(repo->id, "v1");
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->digest, m.digest);
    EXPECT_EQ(got->bytes, "manifest");
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// A database written by a berth that kept push and pull times in whole
// seconds (schema version 1) opens with the times in milliseconds.
TEST(SqliteMetadataStoreTest, MigratesSecondTimesToMilliseconds) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-sqlite-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string path = (dir / "meta.db").string();
  const Digest blob = Digest::of("cfg");
  ManifestRecord m;
  m.digest = Digest::of("manifest");
  m.media_type = "application/vnd.oci.image.manifest.v1+json";
  m.annotations_json = "{}";
  m.bytes = "manifest";
  m.pushed_at_ms = 1'700'000'000'123;
  {
    auto store = SqliteMetadataStore::open(path);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    auto repo = (*store)->ensure_repository("111111111111", "old", 1);
    ASSERT_TRUE(repo.is_ok());
    ASSERT_TRUE((*store)->link_blob(repo->id, blob, 3, 1).is_ok());
    PutManifestRequest req;
    req.repository = repo->id;
    req.manifest = m;
    req.references.blobs = {blob};
    req.tag = "v1";
    ASSERT_TRUE((*store)->put_manifest(req).is_ok());
  }
  {
    // Turn the file into what version 1 wrote: seconds, version 1.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* sql =
        "UPDATE manifests SET pushed_at=1700000000, last_pulled_at=1700000100; "
        "UPDATE schema_version SET version=1;";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  for (int round = 0; round < 2; ++round) {  // migrating twice would multiply twice
    auto store = SqliteMetadataStore::open(path);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    auto repo = (*store)->get_repository("111111111111", "old");
    ASSERT_TRUE(repo.is_ok());
    auto got = (*store)->get_manifest_by_tag(repo->id, "v1");
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->pushed_at_ms, 1'700'000'000'000) << "round " << round;
    EXPECT_EQ(got->last_pulled_at_ms, 1'700'000'100'000) << "round " << round;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(SqliteMetadataStoreTest, TwoHandlesOnOneFileSeeEachOther) {
  // A server and `berth gc` share one database file.
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-sqlite-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string path = (dir / "meta.db").string();
  {
    auto a = SqliteMetadataStore::open(path);
    auto b = SqliteMetadataStore::open(path);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto repo = (*a)->ensure_repository("111111111111", "shared", 1);
    ASSERT_TRUE(repo.is_ok());
    auto seen = (*b)->get_repository("111111111111", "shared");
    ASSERT_TRUE(seen.is_ok());
    EXPECT_EQ(seen->id, repo->id);
    ASSERT_TRUE((*b)->create_upload(UploadRecord{"u1", repo->id, 5}).is_ok());
    EXPECT_TRUE((*a)->get_upload("u1").is_ok());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace berth::conformance
