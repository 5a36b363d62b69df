#include "meta/sqlite/sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace berth::sqlite {

namespace {

// SQLite reports a full disk as SQLITE_FULL, or on some paths as an I/O
// error whose system errno is ENOSPC.
Code code_of(sqlite3* db) {
  const int rc = sqlite3_extended_errcode(db) & 0xff;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Code::kUnavailable;
  if (rc == SQLITE_FULL) return Code::kStorageFull;
  if (rc == SQLITE_IOERR) {
    const int err = sqlite3_system_errno(db);
    if (err == ENOSPC || err == EDQUOT) return Code::kStorageFull;
  }
  return Code::kInternal;
}

bool is_file_path(const std::string& path) {
  return !path.empty() && path.rfind("file:", 0) != 0 && path.front() != ':';
}

// The database, its -wal and -shm are private to berth's user: SQLite gives
// the -wal and -shm the database file's mode, so creating that one 0600 (and
// narrowing what an older berth left wider) covers all three.
Status make_private(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const Code code = errno == ENOSPC || errno == EDQUOT ? Code::kStorageFull : Code::kInternal;
    return error(code, fmt::format("open {}: {}", path, std::strerror(errno)));
  }
  const int rc = ::fchmod(fd, 0600);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return error(Code::kInternal, fmt::format("chmod {}: {}", path, std::strerror(err)));
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string p = path + suffix;
    if (::chmod(p.c_str(), 0600) != 0 && errno != ENOENT) {
      return error(Code::kInternal, fmt::format("chmod {}: {}", p, std::strerror(errno)));
    }
  }
  return Status::ok();
}

}  // namespace

Status sqlite_error(sqlite3* db, std::string_view what) {
  return error(code_of(db), fmt::format("sqlite {}: {}", what, sqlite3_errmsg(db)));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return error(code_of(db_), fmt::format("sqlite exec: {}", msg));
  }
  return Status::ok();
}

Result<Statement> Connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return sqlite_error(db_, "prepare");
  }
  cache_.emplace(sql, stmt);
  return Statement(stmt);
}

Statement::~Statement() {
  if (s_ != nullptr) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_blob(int i, std::string_view v) {
  sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}
Statement& Statement::bind(int i, const std::optional<int64_t>& v) {
  return v ? bind(i, *v) : bind_null(i);
}
Statement& Statement::bind(int i, const std::optional<std::string>& v) {
  return v ? bind(i, std::string_view(*v)) : bind_null(i);
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(s_), "step");
}

Status Statement::run() {
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status::ok();
  }
}

std::string Statement::text(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<int64_t> Statement::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

Lease::~Lease() {
  if (conn_) pool_->release(std::move(conn_));
}

Result<std::unique_ptr<Pool>> Pool::open(Options opts) {
  if (is_file_path(opts.path)) BERTH_RETURN_IF_ERROR(make_private(opts.path));
  std::unique_ptr<Pool> pool(new Pool(std::move(opts)));
  BERTH_ASSIGN_OR_RETURN(auto conn, pool->connect());
  pool->release(std::move(conn));
  return pool;
}

Result<std::unique_ptr<Connection>> Pool::connect() {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (sqlite3_open_v2(opts_.path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Status s = error(Code::kInternal, fmt::format("open {}: {}", opts_.path,
                                                  db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close_v2(db);
    return s;
  }
  auto conn = std::make_unique<Connection>(db);
  sqlite3_busy_timeout(db, 10000);
  BERTH_RETURN_IF_ERROR(conn->exec("PRAGMA journal_mode=WAL"));
  BERTH_RETURN_IF_ERROR(
      conn->exec(opts_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  BERTH_RETURN_IF_ERROR(conn->exec("PRAGMA foreign_keys=ON"));
  BERTH_RETURN_IF_ERROR(conn->exec("PRAGMA cache_size=-16000"));
  return conn;
}

Result<Lease> Pool::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
  }
  BERTH_ASSIGN_OR_RETURN(auto c, connect());
  return Lease(this, std::move(c));
}

void Pool::release(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(c));
}

struct Pool::Pending {
  const std::function<Status(Connection&)>* fn;
  Commit commit;
  Status result;
  bool done = false;  // guarded by group_mu_
};

Status Pool::write(const std::function<Status(Connection&)>& fn, Commit commit) {
  Pending me{&fn, commit, Status::ok()};
  std::unique_lock lock(group_mu_);
  waiting_.push_back(&me);
  group_cv_.wait(lock, [&] { return me.done || (!leading_ && waiting_.front() == &me); });
  if (me.done) return std::move(me.result);  // a leader committed (or failed) it
  // This writer leads: it takes everyone waiting, itself first.
  leading_ = true;
  std::vector<Pending*> group;
  while (!waiting_.empty() && group.size() < kMaxGroup) {
    group.push_back(waiting_.front());
    waiting_.pop_front();
  }
  lock.unlock();
  run_group(group);
  lock.lock();
  for (Pending* p : group) p->done = true;
  leading_ = false;
  lock.unlock();
  group_cv_.notify_all();
  return std::move(me.result);
}

void Pool::run_group(const std::vector<Pending*>& group) {
  auto lease = acquire();
  if (!lease) {
    for (Pending* p : group) p->result = lease.status();
    return;
  }
  Connection& c = **lease;
  bool durable = false;
  for (const Pending* p : group) durable = durable || p->commit == Commit::kDurable;
  const bool relaxed = !durable && opts_.synchronous_full;
  if (relaxed) {
    Status st = c.exec("PRAGMA synchronous=NORMAL");
    if (!st.is_ok()) {
      for (Pending* p : group) p->result = st;
      return;
    }
  }
  struct Restore {
    Connection& c;
    bool relaxed;
    ~Restore() {
      if (relaxed) (void)c.exec("PRAGMA synchronous=FULL");
    }
  } restore{c, relaxed};
  // A lone writer (the uncontended case) runs without a savepoint, exactly
  // as a plain transaction.
  const bool savepoints = group.size() > 1;
  size_t next = 0;
  while (next < group.size()) {
    Status begin = c.exec("BEGIN IMMEDIATE");
    if (!begin.is_ok()) {
      for (size_t i = next; i < group.size(); ++i) group[i]->result = begin;
      return;
    }
    std::vector<Pending*> applied;
    bool aborted = false;
    for (; next < group.size() && !aborted; ++next) {
      Pending* p = group[next];
      if (savepoints) {
        Status sp = c.exec("SAVEPOINT member");
        if (!sp.is_ok()) {
          p->result = sp;
          continue;
        }
      }
      Status st = (*p->fn)(c);
      if (st.is_ok()) {
        if (savepoints) (void)c.exec("RELEASE member");
        applied.push_back(p);
        continue;
      }
      p->result = st;
      if (sqlite3_get_autocommit(c.handle()) != 0) {
        // SQLite rolled the whole transaction back: the members applied so
        // far are undone too. The rest start over in a new transaction.
        for (Pending* a : applied) a->result = st;
        applied.clear();
        aborted = true;
        continue;
      }
      if (savepoints) {
        (void)c.exec("ROLLBACK TO member");
        (void)c.exec("RELEASE member");
      }
    }
    if (aborted) continue;
    if (applied.empty()) {
      (void)c.exec("ROLLBACK");
      return;
    }
    Status commit = c.exec("COMMIT");
    commits_.fetch_add(1);
    if (!commit.is_ok()) (void)c.exec("ROLLBACK");
    for (Pending* a : applied) a->result = commit;
    return;
  }
}

}  // namespace berth::sqlite
