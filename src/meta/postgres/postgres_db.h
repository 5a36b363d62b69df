// A thin RAII layer over libpq: a bounded pool of connections, each with its
// own prepared statements, and transactions that retry on serialization
// failures. Used only by the PostgreSQL stores.
//
// Error mapping (pg_error): a lost or refused connection, a server shutting
// down or out of connections, and a transaction that kept failing to
// serialize are kUnavailable (the APIs answer 503, clients retry); a full disk
// is kStorageFull; a unique violation is kAlreadyExists; anything else
// (constraint violations included, as SQLite's store reports them) kInternal.
// Messages never contain the password.
#pragma once

#include <postgresql/libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
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

namespace berth::pg {

class Statement;

// One connection. Not thread-safe; the pool hands it to one thread at a time.
class Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (one or more statements, no parameters) as a simple query.
  Status exec(std::string_view sql);
  // A statement prepared on this connection the first time `sql` (a string
  // that lives as long as the process: a literal or a static) is seen here,
  // with no parameters bound. Parameters are $1, $2, ... .
  Result<Statement> prepare(const char* sql);
  // False once the server is gone, or when a transaction was left open: the
  // pool then drops the connection.
  bool healthy() const {
    return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }
  // The SQLSTATE of the last failed command ("" when it had none).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  friend class Statement;
  // Records the failure of `res` (may be null) and returns it as a Status.
  Status fail(PGresult* res, std::string_view what);

  PGconn* conn_;
  std::unordered_map<const char*, std::string> prepared_;  // sql -> statement name
  std::string last_sqlstate_;
};

// A prepared statement with its parameters and, once run, its rows. Values go
// and come in PostgreSQL's text format (bytea: bind_blob / bytes).
class Statement {
 public:
  Statement(Connection* conn, const std::string* name) : conn_(conn), name_(name) {}
  ~Statement();
  Statement(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Parameter i is $i (1-based).
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_blob(int i, std::string_view v);
  Statement& bind_null(int i);
  Statement& bind(int i, const std::optional<int64_t>& v);
  Statement& bind(int i, const std::optional<std::string>& v);

  // Runs the statement on the first call; then true while a row is
  // available (the current row), false after the last.
  Result<bool> step();
  template <class T, class Read>
  Result<std::vector<T>> collect(Read read) {
    std::vector<T> out;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, step());
      if (!row) return out;
      out.push_back(read(*this));
    }
  }
  // Runs the statement, ignoring any rows.
  Status run();
  // Rows the statement inserted, updated or deleted (after run or step).
  int64_t affected() const;

  int64_t int64(int col) const;
  bool is_null(int col) const;
  std::string text(int col) const;
  // A bytea column's bytes.
  std::string bytes(int col) const;
  std::optional<int64_t> opt_int64(int col) const;

 private:
  Status execute();

  Connection* conn_;
  const std::string* name_;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
  PGresult* result_ = nullptr;
  int row_ = -1;
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

// At most `max_connections` connections, opened on demand and kept while
// idle; a connection the server dropped is discarded on release and the next
// acquire opens a new one. Thread-safe.
class Pool {
 public:
  struct Options {
    std::string dsn;       // a libpq connection string or URI
    std::string password;  // overrides the DSN's and PGPASSWORD when not empty
    size_t max_connections = 16;
    // How long acquire waits for a free connection before kUnavailable.
    std::chrono::milliseconds acquire_timeout{10000};
  };
  // Connects once to check the database is reachable: kUnavailable, naming
  // the DSN without its password, when it is not.
  static Result<std::unique_ptr<Pool>> open(Options opts);
  ~Pool();

  // kUnavailable when no connection frees up within acquire_timeout or the
  // server cannot be reached.
  Result<Lease> acquire();
  void release(std::unique_ptr<Connection> c);

  // How long a commit waits for the disk.
  enum class Commit {
    kDurable,  // synchronous_commit as the server has it
    kVisible,  // synchronous_commit=off for this transaction: visible to every
               // connection at once, crash-safe, but the last moments may be
               // lost on a server crash (state that only coordinates live
               // processes, as for SQLite's kVisible)
  };
  // Runs `fn` in a SERIALIZABLE transaction on a leased connection; when it
  // returns an error, the transaction rolls back and that error is returned.
  // Serialization failures and deadlocks run `fn` again in a new transaction
  // (a few dozen times, then kUnavailable), so `fn` must reset whatever it
  // reports on each run. SERIALIZABLE gives every write the outcome it would
  // have had alone, which SQLite's store gets from its single writer.
  Status write(const std::function<Status(Connection&)>& fn, Commit commit = Commit::kDurable);
  // Runs `fn` in a REPEATABLE READ READ ONLY transaction: several reads that
  // see one snapshot.
  Status read(const std::function<Status(Connection&)>& fn);

  // The DSN with its password replaced by "********", for messages.
  const std::string& redacted_dsn() const { return redacted_; }

 private:
  explicit Pool(Options opts);
  Result<std::unique_ptr<Connection>> connect();
  Status transaction(const char* begin, const std::function<Status(Connection&)>& fn, bool retry);

  Options opts_;
  std::string redacted_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  size_t open_ = 0;                                // connections idle or leased; guarded by mu_
};

// `dsn` with its password (in either form) shown as "********"; other
// parameters as written. An unparsable DSN comes back as "<unparsable dsn>".
std::string redact_dsn(const std::string& dsn);

// `dsn` naming database `dbname` instead (for tests and tools that make
// databases); key=value form.
Result<std::string> dsn_with_database(const std::string& dsn, const std::string& dbname);

// Quotes an identifier for SQL ("name" with inner quotes doubled).
std::string quote_identifier(std::string_view name);

}  // namespace berth::pg
