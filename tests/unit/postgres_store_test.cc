// PostgreSQL store specifics the conformance suites leave open: connection
// trouble as kUnavailable, the DSN's password kept out of messages, bounded
// connections, schema versions, and identity changes reaching another node
// on the same database within the recheck interval. Tests that need a server
// use BERTH_TEST_POSTGRES_DSN (skipped without it; scripts/test.sh sets it).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "core/base64.h"
#include "core/clock.h"
#include "identity/identity_service.h"
#include "meta/postgres/migrations.h"
#include "meta/postgres/postgres_db.h"
#include "meta/postgres/postgres_identity_store.h"
#include "meta/postgres/postgres_metadata_store.h"
#include "meta/sqlite/migrations.h"
#include "postgres_test_db.h"

namespace berth {
namespace {

using testing_pg::TestDatabase;

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(PostgresStoreTest, UnreachableDatabaseIsUnavailableAndItsPasswordStaysOut) {
  pg::Pool::Options opts;
  opts.dsn = "host=127.0.0.1 port=" + std::to_string(closed_port()) +
             " user=berth password=hunter2secret dbname=registry connect_timeout=2";
  auto store = PostgresMetadataStore::open(opts);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  const std::string msg = store.status().message();
  EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
  EXPECT_NE(msg.find("********"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2secret"), std::string::npos) << msg;
}

TEST(PostgresStoreTest, RedactedDsnHidesThePasswordInEitherForm) {
  for (const std::string dsn : {"postgresql://berth:hunter2secret@db.example:5432/registry",
                                "host=db.example password='hunter2secret' dbname=registry"}) {
    const std::string r = pg::redact_dsn(dsn);
    EXPECT_EQ(r.find("hunter2secret"), std::string::npos) << r;
    EXPECT_NE(r.find("db.example"), std::string::npos) << r;
    EXPECT_NE(r.find("********"), std::string::npos) << r;
  }
  EXPECT_EQ(pg::redact_dsn("host=x password='unterminated"), "<unparsable dsn>");
}

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing_pg::base_dsn().empty()) GTEST_SKIP() << testing_pg::kPostgresSkipMessage;
    db_ = TestDatabase::create();
    ASSERT_NE(db_, nullptr);
  }
  std::shared_ptr<TestDatabase> db_;
};

TEST_F(PostgresDatabaseTest, ConnectionsAreBoundedByMaxConnections) {
  auto opts = db_->options(2);
  opts.acquire_timeout = std::chrono::milliseconds(200);
  auto pool = pg::Pool::open(opts);
  ASSERT_TRUE(pool.is_ok()) << pool.status().to_string();
  auto a = (*pool)->acquire();
  auto b = (*pool)->acquire();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto c = (*pool)->acquire();
  EXPECT_EQ(c.status().code(), Code::kUnavailable);
  { auto released = std::move(b).value(); }
  EXPECT_TRUE((*pool)->acquire().is_ok());
}

TEST_F(PostgresDatabaseTest, ANewDatabaseGetsTheLatestVersionAndANewerOneIsRefused) {
  pg_meta::MigrationReport report;
  {
    auto store = PostgresMetadataStore::open(db_->options(), &report);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    EXPECT_EQ(report.from, 0);
    EXPECT_EQ(report.to, pg_meta::latest_schema_version());
    // In step with SQLite's list: the same versions, whichever store.
    EXPECT_EQ(report.to, sqlite_meta::latest_schema_version());
  }
  {
    auto again = PostgresMetadataStore::open(db_->options(), &report);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(report.from, pg_meta::latest_schema_version());
    EXPECT_EQ(report.to, pg_meta::latest_schema_version());
  }
  {
    // The shared query (migrate and the readiness probe) reads what migrate wrote.
    auto pool = pg::Pool::open(db_->options());
    ASSERT_TRUE(pool.is_ok());
    auto lease = (*pool)->acquire();
    ASSERT_TRUE(lease.is_ok());
    auto version = pg_meta::schema_version(**lease);
    ASSERT_TRUE(version.is_ok()) << version.status().to_string();
    EXPECT_EQ(*version, pg_meta::latest_schema_version());
    ASSERT_TRUE(db_->exec("UPDATE schema_version SET version=99").is_ok());
    version = pg_meta::schema_version(**lease);
    ASSERT_TRUE(version.is_ok()) << version.status().to_string();
    EXPECT_EQ(*version, 99);
  }
  auto newer = PostgresMetadataStore::open(db_->options());
  ASSERT_FALSE(newer.is_ok());
  EXPECT_EQ(newer.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("schema version 99, newer than the " +
                                          std::to_string(pg_meta::latest_schema_version())),
            std::string::npos)
      << newer.status().message();
}

TEST_F(PostgresDatabaseTest, Version4GainsTheAdvisoryTablesAndKeepsItsRows) {
  {
    auto pool = pg::Pool::open(db_->options());
    ASSERT_TRUE(pool.is_ok());
    auto v4 = pg_meta::migrate(**pool, "test", 4);
    ASSERT_TRUE(v4.is_ok()) << v4.status().to_string();
    ASSERT_EQ(v4->to, 4);
  }
  ASSERT_TRUE(db_->exec("INSERT INTO repositories (account_id, name, created_at) VALUES "
                        "('111111111111', 'old', 1)")
                  .is_ok());
  pg_meta::MigrationReport report;
  auto store = PostgresMetadataStore::open(db_->options(), &report);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(report.from, 4);
  EXPECT_EQ(report.to, pg_meta::latest_schema_version());
  auto none = (*store)->latest_advisory_import();
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_FALSE(none->has_value());
  scan::Advisory a;
  a.id = "CVE-1";
  a.affected.push_back(scan::AffectedPackage{"Debian:12", "openssl", "", "3.0.1-1", {}, false});
  auto imported = (*store)->import_advisories({a}, 1, "test", 2);
  ASSERT_TRUE(imported.is_ok()) << imported.status().to_string();
  EXPECT_EQ(imported->version, 1);
  EXPECT_EQ((*store)->advisories_for("Debian:12", {"openssl"})->size(), 1u);
  EXPECT_TRUE((*store)->get_repository("111111111111", "old").is_ok());
}

TEST_F(PostgresDatabaseTest, Version6GainsTheWebhookRetrySchedulesAndKeepsItsEvents) {
  {
    auto pool = pg::Pool::open(db_->options());
    ASSERT_TRUE(pool.is_ok());
    auto v6 = pg_meta::migrate(**pool, "test", 6);
    ASSERT_TRUE(v6.is_ok()) << v6.status().to_string();
    ASSERT_EQ(v6->to, 6);
  }
  ASSERT_TRUE(db_->exec("INSERT INTO event_outbox (id, detail_type, account_id, repository, "
                        "detail, created_at) VALUES ('e1', 'ECR Image Action', '111111111111', "
                        "'old', '{}', 1)")
                  .is_ok());
  pg_meta::MigrationReport report;
  auto store = PostgresMetadataStore::open(db_->options(), &report);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(report.from, 6);
  EXPECT_EQ(report.to, pg_meta::latest_schema_version());
  auto events = (*store)->undelivered_events("hook", 0, 10);
  ASSERT_TRUE(events.is_ok()) << events.status().to_string();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, "e1");
  ASSERT_TRUE((*store)->set_webhook_backoff("hook", {"111111111111/old", 5, 1}).is_ok());
  auto saved = (*store)->webhook_backoffs("hook");
  ASSERT_TRUE(saved.is_ok()) << saved.status().to_string();
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].delay_ms, 1);
}

// The groups schema arrives beside identity tables a server already filled:
// their users keep their policies and may join groups, and group policy
// writes move the identity generation those tables keep.
TEST_F(PostgresDatabaseTest, Version7GainsGroupsAndUserTagsAndKeepsItsUsers) {
  constexpr const char* kAccount = "111111111111";
  {
    auto pool = pg::Pool::open(db_->options());
    ASSERT_TRUE(pool.is_ok());
    auto v7 = pg_meta::migrate(**pool, "test", 7);
    ASSERT_TRUE(v7.is_ok()) << v7.status().to_string();
    ASSERT_EQ(v7->to, 7);
    auto identity = PostgresIdentityStore::open(**pool);
    ASSERT_TRUE(identity.is_ok()) << identity.status().to_string();
    ASSERT_TRUE((*identity)->create_account(AccountRecord{kAccount, "a", 1}).is_ok());
    ASSERT_TRUE((*identity)->create_user(UserRecord{kAccount, "dev", false, 1}).is_ok());
  }
  ASSERT_TRUE(db_->exec("INSERT INTO user_policies (account_id, user_name, policy_name, "
                        "policy_text) VALUES ('111111111111', 'dev', 'own', '{}')")
                  .is_ok());
  pg_meta::MigrationReport report;
  auto store = PostgresMetadataStore::open(db_->options(), &report);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(report.from, 7);
  EXPECT_EQ(report.to, pg_meta::latest_schema_version());
  auto identity = PostgresIdentityStore::open((*store)->pool());
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

TEST_F(PostgresDatabaseTest, Version1TimesBecomeMilliseconds) {
  {
    auto pool = pg::Pool::open(db_->options());
    ASSERT_TRUE(pool.is_ok());
    auto v1 = pg_meta::migrate(**pool, "test", 1);
    ASSERT_TRUE(v1.is_ok()) << v1.status().to_string();
    ASSERT_EQ(v1->to, 1);
  }
  ASSERT_TRUE(
      db_->exec(
             "INSERT INTO repositories (account_id, name, created_at) VALUES ('111111111111', "
             "'old', 1);"
             "INSERT INTO manifests (repo_id, digest, media_type, artifact_type, annotations, "
             "bytes, "
             "image_size, pushed_at, last_pulled_at) SELECT id, 'sha256:" +
             std::string(64, 'a') +
             "', 'application/vnd.oci.image.manifest.v1+json', '', '{}', '\\x7b7d', 2, 1700000000, "
             "1700000001 FROM repositories")
          .is_ok());
  pg_meta::MigrationReport report;
  auto store = PostgresMetadataStore::open(db_->options(), &report);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(report.from, 1);
  EXPECT_EQ(report.to, pg_meta::latest_schema_version());
  auto repo = (*store)->get_repository("111111111111", "old");
  ASSERT_TRUE(repo.is_ok());
  auto m =
      (*store)->get_manifest(repo->id, Digest::parse("sha256:" + std::string(64, 'a')).value());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->pushed_at_ms, 1700000000000);
  EXPECT_EQ(m->last_pulled_at_ms, std::optional<int64_t>(1700000001000));
  EXPECT_EQ(m->bytes, "{}");
}

TEST_F(PostgresDatabaseTest, ADroppedConnectionIsUnavailableOnceThenReplaced) {
  auto store = PostgresMetadataStore::open(db_->options(1));
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE((*store)->ensure_repository("111111111111", "r", 1).is_ok());
  // The server ends every session of the store (as on a restart or failover).
  ASSERT_TRUE(db_->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "datname=current_database() "
                        "AND pid<>pg_backend_pid()")
                  .is_ok());
  auto lost = (*store)->get_repository("111111111111", "r");
  ASSERT_FALSE(lost.is_ok());
  EXPECT_EQ(lost.status().code(), Code::kUnavailable) << lost.status().to_string();
  auto again = (*store)->get_repository("111111111111", "r");
  EXPECT_TRUE(again.is_ok()) << again.status().to_string();
}

TEST_F(PostgresDatabaseTest, AWriteAfterTheServerDroppedTheConnectionGoesThroughOnANewOne) {
  auto store = PostgresMetadataStore::open(db_->options(1));
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE((*store)->ensure_repository("111111111111", "r", 1).is_ok());
  ASSERT_TRUE(db_->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "datname=current_database() "
                        "AND pid<>pg_backend_pid()")
                  .is_ok());
  // Nothing of the write ran on the dead connection, so it runs on a new one.
  RepositoryRecord r;
  r.account_id = "111111111111";
  r.name = "after";
  r.created_at = 2;
  auto created = (*store)->create_repository(r);
  EXPECT_TRUE(created.is_ok()) << created.status().to_string();
}

// berth's stderr carries its JSON log lines; the server's notices (such as
// "relation ... already exists, skipping" when the tables are there) stay out.
TEST_F(PostgresDatabaseTest, OpeningAnExistingDatabasePrintsNothing) {
  ASSERT_TRUE(PostgresMetadataStore::open(db_->options()).is_ok());
  ::testing::internal::CaptureStderr();
  {
    auto again = PostgresMetadataStore::open(db_->options());
    ASSERT_TRUE(again.is_ok());
    ASSERT_TRUE(PostgresIdentityStore::open((*again)->pool()).is_ok());
    ASSERT_TRUE(PostgresIdentityStore::open((*again)->pool()).is_ok());
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// Two nodes, each with its own pool, identity store and IdentityService, on
// one database: a key disabled on one stops working on the other within the
// recheck interval (1 s).
TEST_F(PostgresDatabaseTest, ADisabledKeyStopsWorkingOnAnotherNodeWithinOneSecond) {
  struct Node {
    std::unique_ptr<PostgresMetadataStore> meta;
    std::unique_ptr<PostgresIdentityStore> identity;
    std::unique_ptr<identity::IdentityService> service;
  };
  FakeClock clock;
  auth::SecretBoxKey master{};
  master.fill(7);
  auto open_node = [&](Node& n) {
    auto meta = PostgresMetadataStore::open(db_->options());
    ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
    n.meta = std::move(meta).value();
    auto identity = PostgresIdentityStore::open(n.meta->pool());
    ASSERT_TRUE(identity.is_ok()) << identity.status().to_string();
    n.identity = std::move(identity).value();
    identity::IdentityOptions options;  // the default recheck interval, 1 s
    ASSERT_EQ(options.recheck_interval_ms, 1000);
    auto service = identity::IdentityService::open(*n.identity, master, clock, options);
    ASSERT_TRUE(service.is_ok()) << service.status().to_string();
    n.service = std::move(service).value();
  };
  Node a, b;
  ASSERT_NO_FATAL_FAILURE(open_node(a));
  ASSERT_NO_FATAL_FAILURE(open_node(b));
  auto boot = a.service->bootstrap(std::nullopt);
  ASSERT_TRUE(boot.is_ok() && boot->admin_key.has_value());
  auto key = a.service->create_access_key("000000000000", "admin");
  ASSERT_TRUE(key.is_ok()) << key.status().to_string();
  auth::Principal p;
  p.authenticated = true;
  p.account_id = "000000000000";
  p.user_name = "admin";
  p.access_key_id = key->access_key_id;
  auto token = a.service->issue_token(p);
  ASSERT_TRUE(token.is_ok());
  const std::string header = "Basic " + base64_encode("AWS:" + token->password);
  ASSERT_TRUE(b.service->authenticate_registry(header).is_ok());  // node b now has the key cached
  ASSERT_TRUE(b.service->authenticate_registry(header).is_ok());

  ASSERT_TRUE(a.service->set_access_key_active(key->access_key_id, false).is_ok());
  clock.advance_seconds(1);
  EXPECT_EQ(b.service->authenticate_registry(header).status().code(), Code::kTokenExpired);
}

}  // namespace
}  // namespace berth
