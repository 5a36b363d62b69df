// A thin RAII layer over the SQLite C API: a pool of connections with cached
// prepared statements. Used only by the SQLite stores.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace berth::sqlite {

class Statement;

// One connection. Not thread-safe; the pool hands it to one thread at a time.
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }
  Status exec(std::string_view sql);
  // A cached prepared statement, reset and with bindings cleared.
  Result<Statement> prepare(const char* sql);
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// A borrowed cached statement; resets itself when destroyed.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  ~Statement();
  Statement(Statement&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_blob(int i, std::string_view v);
  Statement& bind_null(int i);
  Statement& bind(int i, const std::optional<int64_t>& v);
  Statement& bind(int i, const std::optional<std::string>& v);

  // Steps once: true when a row is available, false when done.
  Result<bool> step();
  // Steps to the end, making one T of each row with `read(*this)`.
  template <class T, class Read>
  Result<std::vector<T>> collect(Read read) {
    std::vector<T> out;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, step());
      if (!row) return out;
      out.push_back(read(*this));
    }
  }
  // Steps to completion, expecting no rows.
  Status run();

  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::optional<int64_t> opt_int64(int col) const;

 private:
  sqlite3_stmt* s_;
};

class Pool;

// A connection borrowed from a pool for one scope.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), conn_(std::move(c)) {}
  ~Lease();
  Lease(Lease&&) = default;
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

// Opens connections on demand (WAL mode, foreign keys, busy timeout) and keeps
// idle ones. Thread-safe.
class Pool {
 public:
  struct Options {
    std::string path;              // a file path, or ":memory:"-like URI for tests
    bool synchronous_full = true;  // FULL: every commit is durable; NORMAL: crash-safe only
  };
  static Result<std::unique_ptr<Pool>> open(Options opts);

  Result<Lease> acquire();
  void release(std::unique_ptr<Connection> c);

  // How long a commit waits for the disk.
  enum class Commit {
    kDurable,   // the configured mode (FULL by default): survives power loss once COMMIT returns
    kVisible,   // synchronous=NORMAL for this one transaction: at once visible to every
                // connection and process and crash-safe, but power loss may roll it back
                // (never corrupts: WAL checkpoints still sync). For state that only
                // coordinates live processes or describes work not yet acknowledged as
                // stored; the next durable commit makes it durable too.
  };
  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT on a leased connection, rolling
  // back when it returns an error. Writers are serialised in-process first, so
  // SQLite's busy handler only arbitrates between processes.
  Status write(const std::function<Status(Connection&)>& fn, Commit commit = Commit::kDurable);

 private:
  explicit Pool(Options opts) : opts_(std::move(opts)) {}
  Result<std::unique_ptr<Connection>> connect();

  Options opts_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::mutex write_mu_;
};

Status sqlite_error(sqlite3* db, std::string_view what);

}  // namespace berth::sqlite
