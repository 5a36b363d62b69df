#include "postgres_test_db.h"

#include <gtest/gtest.h>
#include <postgresql/libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

namespace berth::testing_pg {

namespace {

Status run_on(const std::string& dsn, const std::string& sql) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = error(Code::kUnavailable,
                     fmt::format("connect {}: {}", pg::redact_dsn(dsn), PQerrorMessage(conn)));
    PQfinish(conn);
    return s;
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(res);
  Status out = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                   ? Status::ok()
                   : error(Code::kInternal, fmt::format("{}: {}", sql, PQresultErrorMessage(res)));
  PQclear(res);
  PQfinish(conn);
  return out;
}

}  // namespace

std::string base_dsn() {
  const char* dsn = std::getenv("BERTH_TEST_POSTGRES_DSN");
  return dsn != nullptr ? dsn : "";
}

void skip_without_postgres() {
  GTEST_SKIP() << kPostgresSkipMessage;
}

std::shared_ptr<TestDatabase> TestDatabase::create() {
  static std::atomic<int> counter{0};
  const std::string base = base_dsn();
  if (base.empty()) {
    ADD_FAILURE() << kPostgresSkipMessage;
    return nullptr;
  }
  std::random_device rd;
  const std::string name =
      fmt::format("berth_t_{}_{}_{:08x}", ::getpid(), counter.fetch_add(1), rd());
  if (Status s = run_on(base, fmt::format("CREATE DATABASE {} TEMPLATE template0", name));
      !s.is_ok()) {
    ADD_FAILURE() << s.to_string();
    return nullptr;
  }
  auto dsn = pg::dsn_with_database(base, name);
  if (!dsn) {
    ADD_FAILURE() << dsn.status().to_string();
    return nullptr;
  }
  return std::shared_ptr<TestDatabase>(new TestDatabase(name, std::move(dsn).value()));
}

TestDatabase::~TestDatabase() {
  (void)run_on(base_dsn(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
}

Status TestDatabase::exec(const std::string& sql) const {
  return run_on(dsn_, sql);
}

}  // namespace berth::testing_pg
