// A thin RAII layer over the SQLite C API: a pool of connections with cached
// prepared statements. Used only by the SQLite stores.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
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
    kDurable,  // the configured mode (FULL by default): survives power loss once COMMIT returns
    kVisible,  // synchronous=NORMAL for this one transaction: at once visible to every
               // connection and process and crash-safe, but power loss may roll it back
               // (never corrupts: WAL checkpoints still sync). For state that only
               // coordinates live processes or describes work not yet acknowledged as
               // stored; the next durable commit makes it durable too.
  };
  // Runs `fn` inside a transaction (BEGIN IMMEDIATE ... COMMIT) on a leased
  // connection; when `fn` returns an error its changes are rolled back and
  // that error returned. Returns only once the commit is done (durable for
  // kDurable). Writers are serialised in-process first, so SQLite's busy
  // handler only arbitrates between processes.
  //
  // Group commit: writers that arrive while a commit is in progress wait,
  // and the first of them then runs all of their `fn`s, in arrival order,
  // in one transaction with one COMMIT (one fsync for all): each `fn` in its
  // own SAVEPOINT, so a failing one is rolled back alone and sees only the
  // earlier members' changes, as if they had committed just before. Every
  // writer gets its own result. The group commits durably when any member
  // asked for kDurable. Should SQLite abort the whole transaction under a
  // member (a full disk, an I/O error), the members applied before it get
  // that error too, and the rest go on in a new transaction.
  Status write(const std::function<Status(Connection&)>& fn, Commit commit = Commit::kDurable);

  // For tests and metrics: COMMITs run so far, and writers now waiting for
  // a group to take them.
  uint64_t commits() const { return commits_.load(); }
  size_t waiting() {
    std::lock_guard lock(group_mu_);
    return waiting_.size();
  }

 private:
  struct Pending;  // one writer waiting in the group commit queue
  // At most this many writers share one commit.
  static constexpr size_t kMaxGroup = 64;

  explicit Pool(Options opts) : opts_(std::move(opts)) {}
  Result<std::unique_ptr<Connection>> connect();
  // Runs `group` (the leader holds the write turn) and sets each result.
  void run_group(const std::vector<Pending*>& group);

  Options opts_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::mutex group_mu_;
  std::condition_variable group_cv_;
  std::deque<Pending*> waiting_;  // guarded by group_mu_
  bool leading_ = false;          // a leader is running a group; guarded by group_mu_
  std::atomic<uint64_t> commits_{0};
};

Status sqlite_error(sqlite3* db, std::string_view what);

}  // namespace berth::sqlite
