// Fresh PostgreSQL databases for the unit tests, on the server that
// BERTH_TEST_POSTGRES_DSN names (scripts/test.sh starts one with
// tests/infra/pg-up.sh and sets it). Without it the PostgreSQL tests skip
// with kPostgresSkipMessage, and scripts/test.sh fails on such a skip.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "meta/postgres/postgres_db.h"

namespace berth::testing_pg {

inline constexpr const char* kPostgresSkipMessage =
    "BERTH_TEST_POSTGRES_DSN is not set: no PostgreSQL to test against "
    "(DSN=$(tests/infra/pg-up.sh))";

// The DSN the tests run against, or empty.
std::string base_dsn();

// Marks the running test skipped for want of PostgreSQL (a fixture's SetUp
// then returns early; gtest runs no body after a skip in SetUp).
void skip_without_postgres();

// A new, empty database (CREATE DATABASE ... TEMPLATE template0), dropped
// when the last reference goes. Null, after recording a test failure, when it
// cannot be made.
class TestDatabase {
 public:
  static std::shared_ptr<TestDatabase> create();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& dsn() const { return dsn_; }
  const std::string& name() const { return name_; }
  pg::Pool::Options options(size_t max_connections = 8) const {
    pg::Pool::Options o;
    o.dsn = dsn_;
    o.max_connections = max_connections;
    return o;
  }
  // Runs `sql` on the database (outside any store).
  Status exec(const std::string& sql) const;

 private:
  TestDatabase(std::string name, std::string dsn) : name_(std::move(name)), dsn_(std::move(dsn)) {}
  std::string name_;
  std::string dsn_;
};

}  // namespace berth::testing_pg
