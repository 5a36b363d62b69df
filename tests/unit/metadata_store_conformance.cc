// Runs the MetadataStore conformance suites (metadata_store_conformance*.h),
// one per role interface, for every MetadataStore implementation: one
// INSTANTIATE line per suite and implementation.
#include "metadata_store_conformance.h"
#include "metadata_store_conformance_advisories.h"
#include "metadata_store_conformance_blob_links.h"
#include "metadata_store_conformance_events.h"
#include "metadata_store_conformance_gc.h"
#include "metadata_store_conformance_images.h"
#include "metadata_store_conformance_lifecycle.h"
#include "metadata_store_conformance_manifests.h"
#include "metadata_store_conformance_policies.h"
#include "metadata_store_conformance_repositories.h"
#include "metadata_store_conformance_resource_tags.h"
#include "metadata_store_conformance_scans.h"
#include "metadata_store_conformance_uploads.h"
#include "metadata_store_conformance_usage.h"

#include <sqlite3.h>

#include "meta/postgres/postgres_metadata_store.h"
#include "meta/sqlite/migrations.h"
#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "postgres_test_db.h"

namespace berth::conformance {
namespace {

// SqliteMetadataStore plays every role in one class, on one database.
std::function<MetadataRoles(const std::filesystem::path&)> sqlite_store(bool synchronous_full) {
  return [synchronous_full](const std::filesystem::path& scratch_dir) -> MetadataRoles {
    auto store = SqliteMetadataStore::open((scratch_dir / "meta.db").string(), synchronous_full);
    EXPECT_TRUE(store.is_ok()) << store.status().to_string();
    if (!store.is_ok()) return MetadataRoles{};
    return MetadataRoles::of(std::shared_ptr<MetadataStore>(std::move(store).value()));
  };
}

template <class Role>
std::vector<RoleFactory<Role>> sqlite_factories() {
  return {RoleFactory<Role>{"sqlite_sync_full", sqlite_store(true)},
          RoleFactory<Role>{"sqlite_sync_normal", sqlite_store(false)}};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, RepositoryStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<RepositoryStore>()),
                         RoleFactory<RepositoryStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, BlobLinkStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<BlobLinkStore>()),
                         RoleFactory<BlobLinkStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, UploadStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<UploadStore>()),
                         RoleFactory<UploadStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, ResourceTagStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<ResourceTagStore>()),
                         RoleFactory<ResourceTagStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, LifecycleStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<LifecycleStore>()),
                         RoleFactory<LifecycleStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, UsageStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<UsageStore>()),
                         RoleFactory<UsageStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, ManifestStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<ManifestStore>()),
                         RoleFactory<ManifestStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, GcStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<GcStore>()),
                         RoleFactory<GcStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, EventOutboxStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<EventOutboxStore>()),
                         RoleFactory<EventOutboxStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, PolicyStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<PolicyStore>()),
                         RoleFactory<PolicyStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, AdvisoryStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<AdvisoryStore>()),
                         RoleFactory<AdvisoryStore>::Name);
INSTANTIATE_TEST_SUITE_P(Sqlite, ScanStoreConformance,
                         ::testing::ValuesIn(sqlite_factories<ScanStore>()),
                         RoleFactory<ScanStore>::Name);

// PostgresMetadataStore plays every role in one class, each test on a fresh
// database of the server BERTH_TEST_POSTGRES_DSN names (skipped without it).
MetadataRoles postgres_store(const std::filesystem::path&) {
  if (testing_pg::base_dsn().empty()) {
    testing_pg::skip_without_postgres();
    return MetadataRoles{};
  }
  struct Owner {
    std::shared_ptr<testing_pg::TestDatabase> db;
    std::unique_ptr<PostgresMetadataStore> store;  // closes before the database is dropped
  };
  auto owner = std::make_shared<Owner>();
  owner->db = testing_pg::TestDatabase::create();
  if (!owner->db) return MetadataRoles{};
  auto store = PostgresMetadataStore::open(owner->db->options(16));
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  if (!store.is_ok()) return MetadataRoles{};
  owner->store = std::move(store).value();
  return MetadataRoles::of(std::shared_ptr<MetadataStore>(owner, owner->store.get()));
}

template <class Role>
std::vector<RoleFactory<Role>> postgres_factories() {
  return {RoleFactory<Role>{"postgres", postgres_store}};
}

INSTANTIATE_TEST_SUITE_P(Postgres, RepositoryStoreConformance,
                         ::testing::ValuesIn(postgres_factories<RepositoryStore>()),
                         RoleFactory<RepositoryStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, BlobLinkStoreConformance,
                         ::testing::ValuesIn(postgres_factories<BlobLinkStore>()),
                         RoleFactory<BlobLinkStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, UploadStoreConformance,
                         ::testing::ValuesIn(postgres_factories<UploadStore>()),
                         RoleFactory<UploadStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, ResourceTagStoreConformance,
                         ::testing::ValuesIn(postgres_factories<ResourceTagStore>()),
                         RoleFactory<ResourceTagStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, LifecycleStoreConformance,
                         ::testing::ValuesIn(postgres_factories<LifecycleStore>()),
                         RoleFactory<LifecycleStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, UsageStoreConformance,
                         ::testing::ValuesIn(postgres_factories<UsageStore>()),
                         RoleFactory<UsageStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, ManifestStoreConformance,
                         ::testing::ValuesIn(postgres_factories<ManifestStore>()),
                         RoleFactory<ManifestStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, GcStoreConformance,
                         ::testing::ValuesIn(postgres_factories<GcStore>()),
                         RoleFactory<GcStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, PolicyStoreConformance,
                         ::testing::ValuesIn(postgres_factories<PolicyStore>()),
                         RoleFactory<PolicyStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, EventOutboxStoreConformance,
                         ::testing::ValuesIn(postgres_factories<EventOutboxStore>()),
                         RoleFactory<EventOutboxStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, AdvisoryStoreConformance,
                         ::testing::ValuesIn(postgres_factories<AdvisoryStore>()),
                         RoleFactory<AdvisoryStore>::Name);
INSTANTIATE_TEST_SUITE_P(Postgres, ScanStoreConformance,
                         ::testing::ValuesIn(postgres_factories<ScanStore>()),
                         RoleFactory<ScanStore>::Name);

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
        "UPDATE schema_version SET version=1; PRAGMA user_version=0;";
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

// The typed fields are stored as every berth wrote them, so databases written
// before they were typed read the same.
TEST(SqliteMetadataStoreTest, TypedFieldsKeepTheirStorageFormat) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-sqlite-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string path = (dir / "meta.db").string();
  auto column = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::string out;
    sqlite3_exec(
        db, sql.c_str(),
        [](void* acc, int, char** cols, char**) {
          *static_cast<std::string*>(acc) = cols[0] ? cols[0] : "NULL";
          return 0;
        },
        &out, nullptr);
    sqlite3_close(db);
    return out;
  };
  {
    auto store = SqliteMetadataStore::open(path);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    RepositoryRecord r;
    r.account_id = "111111111111";
    r.name = "typed";
    r.tag_mutability = "IMMUTABLE_WITH_EXCLUSION";
    r.tag_mutability_exclusions = {"dev-*", "rc-?"};
    auto repo = (*store)->create_repository(r);
    ASSERT_TRUE(repo.is_ok());
    ManifestRecord m;
    m.digest = Digest::of("typed manifest");
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.annotations = {{"org.b", "2"}, {"org.a", "1"}};
    m.bytes = "typed manifest";
    PutManifestRequest req;
    req.repository = repo->id;
    req.manifest = m;
    ASSERT_TRUE((*store)->put_manifest(req).is_ok());
    LifecyclePreviewRecord p{
        "{}", "COMPLETE", {LifecyclePreviewResult{"sha256:aa", {"v1"}, 1234, 2}}, 5};
    ASSERT_TRUE((*store)->put_lifecycle_preview(repo->id, p).is_ok());
  }
  EXPECT_EQ(column("SELECT tag_mutability_exclusions FROM repositories"), R"(["dev-*","rc-?"])");
  EXPECT_EQ(column("SELECT annotations FROM manifests"), R"({"org.a":"1","org.b":"2"})");
  EXPECT_EQ(column("SELECT results FROM lifecycle_previews"),
            R"([{"digest":"sha256:aa","tags":["v1"],"pushed_at_ms":1234,"rule":2}])");
  // A preview from before milliseconds kept "pushed_at" in seconds.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(
          db,
          R"(UPDATE lifecycle_previews SET results='[{"digest":"sha256:bb","tags":[],"pushed_at":7,"rule":1}]')",
          nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  {
    auto store = SqliteMetadataStore::open(path);
    ASSERT_TRUE(store.is_ok());
    auto repo = (*store)->get_repository("111111111111", "typed");
    ASSERT_TRUE(repo.is_ok());
    EXPECT_EQ(repo->tag_mutability_exclusions, (std::vector<std::string>{"dev-*", "rc-?"}));
    auto got = (*store)->get_manifest(repo->id, Digest::of("typed manifest"));
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->annotations,
              (std::map<std::string, std::string>{{"org.a", "1"}, {"org.b", "2"}}));
    auto preview = (*store)->get_lifecycle_preview(repo->id);
    ASSERT_TRUE(preview.is_ok());
    EXPECT_EQ(preview->results, (std::vector<LifecyclePreviewResult>{{"sha256:bb", {}, 7000, 1}}));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// --- schema versions ---------------------------------------------------------------

class SqliteMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-migrate-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A database at `version`: the migration list cut after `version` steps.
  std::string database_at(int64_t version, const std::string& name) {
    const std::string path = (dir_ / name).string();
    auto pool = sqlite::Pool::open({path, true});
    EXPECT_TRUE(pool.is_ok()) << pool.status().to_string();
    if (!pool.is_ok()) return path;
    auto report = sqlite_meta::migrate(**pool, path, version);
    EXPECT_TRUE(report.is_ok()) << report.status().to_string();
    if (report.is_ok()) {
      EXPECT_EQ(report->to, version);
    }
    return path;
  }

  static void exec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << "\n"
        << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // Every schema object's SQL and the version: what a migration must reproduce.
  static std::string schema_of(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::string out;
    sqlite3_exec(
        db,
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, "
        "name",
        [](void* acc, int n, char** cols, char**) {
          auto* s = static_cast<std::string*>(acc);
          for (int i = 0; i < n; ++i) *s += (cols[i] ? cols[i] : "NULL") + std::string("|");
          *s += "\n";
          return 0;
        },
        &out, nullptr);
    sqlite3_exec(
        db, "PRAGMA user_version",
        [](void* acc, int, char** cols, char**) {
          *static_cast<std::string*>(acc) += std::string("user_version=") + cols[0];
          return 0;
        },
        &out, nullptr);
    sqlite3_close(db);
    return out;
  }

  std::filesystem::path dir_;
};

// Rows as each version wrote them; after migrating to the latest, each must
// read back as the latest berth writes it.
void insert_rows_of_version(const std::string& path, int64_t version,
                            void (*exec)(const std::string&, const std::string&)) {
  if (version < 1) return;  // version 0 is an empty database
  const std::string digest = Digest::of("manifest").str();
  const std::string blob = Digest::of("cfg").str();
  // Version 1 kept push and pull times in whole seconds.
  exec(path,
       "INSERT INTO repositories (id, account_id, name, created_at, tag_mutability, "
       "tag_mutability_exclusions) "
       "VALUES (7, '111111111111', 'old', 100, 'IMMUTABLE_WITH_EXCLUSION', '[\"dev-*\"]');"
       "INSERT INTO blob_links (repo_id, digest, size, linked_at) VALUES (7, '" +
           blob +
           "', 3, 100);"
           "INSERT INTO manifests (id, repo_id, digest, media_type, artifact_type, annotations, "
           "bytes, image_size, "
           "pushed_at, last_pulled_at) VALUES (1, 7, '" +
           digest +
           "', 'application/vnd.oci.image.manifest.v1+json', "
           "'', '{}', 'manifest', 3, " +
           (version == 1 ? "1700000000, 1700000100" : "1700000000123, 1700000100456") +
           ");"
           "INSERT INTO manifest_refs (manifest_id, repo_id, kind, digest) VALUES (1, 7, 0, '" +
           blob +
           "');"
           "INSERT INTO tags (repo_id, name, manifest_id, updated_at) VALUES (7, 'v1', 1, "
           "1700000000);"
           "INSERT INTO uploads (id, repo_id, started_at) VALUES ('u-1', 7, 100);"
           "INSERT INTO resource_tags (repo_id, key, value) VALUES (7, 'team', 'core');");
}

TEST_F(SqliteMigrationTest, EveryEarlierVersionMigratesToTheLatestWithItsRows) {
  const int64_t latest = sqlite_meta::latest_schema_version();
  ASSERT_GE(latest, 2);
  const std::string fresh = database_at(latest, "fresh.db");
  const std::string want_schema = schema_of(fresh);
  ASSERT_NE(want_schema.find("user_version=" + std::to_string(latest)), std::string::npos)
      << want_schema;
  for (int64_t k = 0; k < latest; ++k) {
    SCOPED_TRACE("from version " + std::to_string(k));
    const std::string path = database_at(k, "v" + std::to_string(k) + ".db");
    insert_rows_of_version(path, k, exec);
    sqlite_meta::MigrationReport report;
    auto store = SqliteMetadataStore::open(path, true, &report);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    EXPECT_EQ(report.from, k);
    EXPECT_EQ(report.to, latest);
    if (k >= 1) {
      auto repo = (*store)->get_repository("111111111111", "old");
      ASSERT_TRUE(repo.is_ok()) << repo.status().to_string();
      EXPECT_EQ(repo->tag_mutability, "IMMUTABLE_WITH_EXCLUSION");
      auto got = (*store)->get_manifest_by_tag(repo->id, "v1");
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      // Rows of version 1 had whole seconds; later versions keep the milliseconds given.
      EXPECT_EQ(got->pushed_at_ms, k == 1 ? 1'700'000'000'000 : 1'700'000'000'123);
      EXPECT_EQ(got->last_pulled_at_ms, k == 1 ? 1'700'000'100'000 : 1'700'000'100'456);
      EXPECT_EQ(got->bytes, "manifest");
      EXPECT_TRUE((*store)->get_blob_link(repo->id, Digest::of("cfg")).is_ok());
      EXPECT_TRUE((*store)->get_upload("u-1").is_ok());
      auto tags = (*store)->get_resource_tags(repo->id);
      ASSERT_TRUE(tags.is_ok());
      EXPECT_EQ(tags->size(), 1u);
    }
    store->reset();
    EXPECT_EQ(schema_of(path), want_schema);
  }
}

TEST_F(SqliteMigrationTest, Version4GainsTheAdvisoryTablesAndKeepsItsRows) {
  const std::string path = database_at(4, "v4.db");
  insert_rows_of_version(path, 4, exec);
  sqlite_meta::MigrationReport report;
  auto store = SqliteMetadataStore::open(path, true, &report);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(report.from, 4);
  EXPECT_EQ(report.to, sqlite_meta::latest_schema_version());
  auto none = (*store)->latest_advisory_import();
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_FALSE(none->has_value());
  auto imported = (*store)->import_advisories(
      {advisory("CVE-1", {affected_entry("Debian:12", "openssl", "3.0.1-1")})}, 1, "test", 2);
  ASSERT_TRUE(imported.is_ok()) << imported.status().to_string();
  EXPECT_EQ(imported->version, 1);
  EXPECT_EQ((*store)->advisories_for("Debian:12", {"openssl"})->size(), 1u);
  EXPECT_TRUE((*store)->get_repository("111111111111", "old").is_ok());
}

// The groups schema arrives beside identity tables a server already filled:
// their users keep their policies and may join groups, and group policy
// writes move the identity generation those tables keep.
TEST_F(SqliteMigrationTest, AnUpgradedDatabaseKeepsItsUsersAndGainsGroupsAndUserTags) {
  constexpr int64_t kBeforeGroups = 7;
  constexpr const char* kAccount = "111111111111";
  const std::string path = database_at(kBeforeGroups, "groups.db");
  {
    auto pool = sqlite::Pool::open({path, true});
    ASSERT_TRUE(pool.is_ok()) << pool.status().to_string();
    auto identity = SqliteIdentityStore::open(**pool);
    ASSERT_TRUE(identity.is_ok()) << identity.status().to_string();
    ASSERT_TRUE((*identity)->create_account(AccountRecord{kAccount, "a", 1}).is_ok());
    ASSERT_TRUE((*identity)->create_user(UserRecord{kAccount, "dev", false, 1}).is_ok());
  }
  exec(path,
       "INSERT INTO user_policies (account_id, user_name, policy_name, policy_text) VALUES "
       "('111111111111', 'dev', 'own', '{}')");
  sqlite_meta::MigrationReport report;
  auto store = SqliteMetadataStore::open(path, true, &report);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(report.from, kBeforeGroups);
  EXPECT_EQ(report.to, sqlite_meta::latest_schema_version());
  auto identity = SqliteIdentityStore::open((*store)->pool());
  ASSERT_TRUE(identity.is_ok()) << identity.status().to_string();
  IdentityStore& ids = **identity;
  EXPECT_EQ((*store)->list_user_policies(kAccount, "dev")->size(), 1u);
  ASSERT_TRUE(ids.create_group(GroupRecord{kAccount, "devs", 2}).is_ok());
  ASSERT_TRUE(ids.add_user_to_group(kAccount, "devs", "dev").is_ok());
  ASSERT_TRUE(ids.tag_user(kAccount, "dev", {{"team", "core"}}).is_ok());
  const int64_t generation = *ids.identity_generation();
  ASSERT_TRUE((*store)->put_group_policy(kAccount, "devs", "p", "{}").is_ok());
  EXPECT_GT(*ids.identity_generation(), generation);
  EXPECT_EQ(*ids.list_groups_for_user(kAccount, "dev"), std::vector<std::string>{"devs"});
  EXPECT_EQ(ids.delete_user(kAccount, "dev", false).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(ids.delete_user(kAccount, "dev", true).is_ok());
  EXPECT_TRUE((*store)->list_user_policies(kAccount, "dev")->empty());
}

TEST_F(SqliteMigrationTest, MigratingAgainChangesNothing) {
  const int64_t latest = sqlite_meta::latest_schema_version();
  const std::string path = database_at(1, "again.db");
  insert_rows_of_version(path, 1, exec);
  for (int round = 0; round < 2; ++round) {
    sqlite_meta::MigrationReport report;
    auto store = SqliteMetadataStore::open(path, true, &report);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    EXPECT_EQ(report.from, round == 0 ? 1 : latest);
    auto got =
        (*store)->get_manifest_by_tag((*store)->get_repository("111111111111", "old")->id, "v1");
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->pushed_at_ms, 1'700'000'000'000) << "round " << round;
  }
}

TEST_F(SqliteMigrationTest, ADatabaseNewerThanTheBinaryIsRefusedNamingBothVersions) {
  const int64_t latest = sqlite_meta::latest_schema_version();
  const std::string path = database_at(latest, "newer.db");
  exec(path, "PRAGMA user_version=" + std::to_string(latest + 1));
  auto store = SqliteMetadataStore::open(path);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kFailedPrecondition);
  const std::string& message = store.status().message();
  EXPECT_NE(message.find("schema version " + std::to_string(latest + 1)), std::string::npos)
      << message;
  EXPECT_NE(message.find("newer than the " + std::to_string(latest) + " this berth knows"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

}  // namespace
}  // namespace berth::conformance
