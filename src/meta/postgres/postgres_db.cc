#include "meta/postgres/postgres_db.h"

#include <charconv>
#include <random>
#include <thread>

#include <fmt/format.h>

namespace berth::pg {

namespace {

// SQLSTATEs, by class (PostgreSQL's errcodes appendix).
bool is_connection_trouble(std::string_view state) {
  return state.rfind("08", 0) == 0 ||  // connection exception
         state == "57P01" || state == "57P02" ||
         state == "57P03" ||  // shutdown, crash, cannot connect now
         state == "53300";    // too many connections
}

bool is_retryable(std::string_view state) {
  return state == "40001" || state == "40P01";  // serialization failure, deadlock
}

// `answered`: the server sent an error (rather than the connection failing).
Code code_of(std::string_view state, bool answered) {
  if (!answered || is_connection_trouble(state) || is_retryable(state)) return Code::kUnavailable;
  if (state == "53100") return Code::kStorageFull;  // disk full
  if (state == "23505") return Code::kAlreadyExists;
  return Code::kInternal;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs the parse of `dsn` through libpq: each set option once, in libpq's order.
std::vector<std::pair<std::string, std::string>> parse_dsn(const std::string& dsn, bool* ok) {
  std::vector<std::pair<std::string, std::string>> out;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    if (err != nullptr) PQfreemem(err);
    *ok = false;
    return out;
  }
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(opts);
  *ok = true;
  return out;
}

// A value in a key=value connection string: quoted, backslashes and quotes escaped.
std::string quote_value(std::string_view v) {
  std::string out = "'";
  for (char ch : v) {
    if (ch == '\'' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "'";
}

std::string join_dsn(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) out += (out.empty() ? "" : " ") + k + "=" + quote_value(v);
  return out;
}

}  // namespace

std::string redact_dsn(const std::string& dsn) {
  bool ok = false;
  auto kv = parse_dsn(dsn, &ok);
  if (!ok) return "<unparsable dsn>";
  for (auto& [k, v] : kv) {
    if (k == "password") v = "********";
  }
  return join_dsn(kv);
}

Result<std::string> dsn_with_database(const std::string& dsn, const std::string& dbname) {
  bool ok = false;
  auto kv = parse_dsn(dsn, &ok);
  if (!ok)
    return error(Code::kInvalidArgument, fmt::format("invalid postgres dsn {}", redact_dsn(dsn)));
  bool set = false;
  for (auto& [k, v] : kv) {
    if (k == "dbname") {
      v = dbname;
      set = true;
    }
  }
  if (!set) kv.emplace_back("dbname", dbname);
  return join_dsn(kv);
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

Connection::~Connection() {
  PQfinish(conn_);
}

Status Connection::fail(PGresult* res, std::string_view what) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state != nullptr ? state : "";
  const bool connection_ok = PQstatus(conn_) == CONNECTION_OK;
  std::string msg =
      trim(res != nullptr && PQresultErrorMessage(res)[0] != '\0' ? PQresultErrorMessage(res)
                                                                  : PQerrorMessage(conn_));
  Code code = code_of(last_sqlstate_, connection_ok && res != nullptr);
  return error(
      code,
      fmt::format("postgres {}: {}{}", what, msg,
                  last_sqlstate_.empty() ? "" : fmt::format(" (SQLSTATE {})", last_sqlstate_)));
}

Status Connection::exec(std::string_view sql) {
  std::string s(sql);
  PGresult* res = PQexec(conn_, s.c_str());
  const ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    PQclear(res);
    last_sqlstate_.clear();
    return Status::ok();
  }
  Status out = fail(res, "exec");
  PQclear(res);
  return out;
}

Result<Statement> Connection::prepare(const char* sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("s{}", prepared_.size());
    PGresult* res = PQprepare(conn_, name.c_str(), sql, 0, nullptr);
    if (res == nullptr || PQresultStatus(res) != PGRES_COMMAND_OK) {
      Status out = fail(res, "prepare");
      PQclear(res);
      return out;
    }
    PQclear(res);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return Statement(this, &it->second);
}

Statement::~Statement() {
  PQclear(result_);
}

Statement::Statement(Statement&& o) noexcept
    : conn_(o.conn_),
      name_(o.name_),
      values_(std::move(o.values_)),
      formats_(std::move(o.formats_)),
      result_(o.result_),
      row_(o.row_) {
  o.result_ = nullptr;
}

namespace {

template <class V>
void put(std::vector<std::optional<std::string>>& values, std::vector<int>& formats, int i, V v,
         int format) {
  const size_t n = static_cast<size_t>(i);
  if (values.size() < n) {
    values.resize(n);
    formats.resize(n, 0);
  }
  values[n - 1] = std::move(v);
  formats[n - 1] = format;
}

}  // namespace

Statement& Statement::bind(int i, int64_t v) {
  put(values_, formats_, i, std::optional<std::string>(std::to_string(v)), 0);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  put(values_, formats_, i, std::optional<std::string>(std::string(v)), 0);
  return *this;
}
Statement& Statement::bind_blob(int i, std::string_view v) {
  put(values_, formats_, i, std::optional<std::string>(std::string(v)), 1);
  return *this;
}
Statement& Statement::bind_null(int i) {
  put(values_, formats_, i, std::optional<std::string>(), 0);
  return *this;
}
Statement& Statement::bind(int i, const std::optional<int64_t>& v) {
  return v ? bind(i, *v) : bind_null(i);
}
Statement& Statement::bind(int i, const std::optional<std::string>& v) {
  return v ? bind(i, std::string_view(*v)) : bind_null(i);
}

Status Statement::execute() {
  std::vector<const char*> values(values_.size());
  std::vector<int> lengths(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    values[i] = values_[i] ? values_[i]->data() : nullptr;
    lengths[i] = values_[i] ? static_cast<int>(values_[i]->size()) : 0;
  }
  result_ = PQexecPrepared(conn_->conn_, name_->c_str(), static_cast<int>(values_.size()),
                           values.data(), lengths.data(), formats_.data(), 0);
  const ExecStatusType st = result_ != nullptr ? PQresultStatus(result_) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    conn_->last_sqlstate_.clear();
    return Status::ok();
  }
  Status out = conn_->fail(result_, "query");
  PQclear(result_);
  result_ = nullptr;
  return out;
}

Result<bool> Statement::step() {
  if (result_ == nullptr) {
    BERTH_RETURN_IF_ERROR(execute());
  }
  ++row_;
  return row_ < PQntuples(result_);
}

Status Statement::run() {
  if (result_ == nullptr) return execute();
  return Status::ok();
}

int64_t Statement::affected() const {
  if (result_ == nullptr) return 0;
  const char* n = PQcmdTuples(result_);
  int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

int64_t Statement::int64(int col) const {
  const char* p = PQgetvalue(result_, row_, col);
  const int n = PQgetlength(result_, row_, col);
  int64_t v = 0;
  std::from_chars(p, p + n, v);
  return v;
}

bool Statement::is_null(int col) const {
  return PQgetisnull(result_, row_, col) != 0;
}

std::string Statement::text(int col) const {
  return std::string(PQgetvalue(result_, row_, col),
                     static_cast<size_t>(PQgetlength(result_, row_, col)));
}

std::string Statement::bytes(int col) const {
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row_, col)), &n);
  if (raw == nullptr) return std::string();
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

std::optional<int64_t> Statement::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

Lease::~Lease() {
  if (conn_) pool_->release(std::move(conn_));
}

Pool::Pool(Options opts) : opts_(std::move(opts)), redacted_(redact_dsn(opts_.dsn)) {}

Pool::~Pool() = default;

Result<std::unique_ptr<Pool>> Pool::open(Options opts) {
  if (opts.max_connections == 0)
    return error(Code::kInvalidArgument, "postgres: max-connections must be at least 1");
  bool ok = false;
  parse_dsn(opts.dsn, &ok);
  if (!ok)
    return error(Code::kInvalidArgument,
                 "postgres: the dsn does not parse (libpq connection string or URI)");
  std::unique_ptr<Pool> pool(new Pool(std::move(opts)));
  BERTH_ASSIGN_OR_RETURN(auto lease, pool->acquire());
  return pool;
}

Result<std::unique_ptr<Connection>> Pool::connect() {
  // Order matters: later entries override earlier ones, so the DSN may set
  // its own connect_timeout, and a configured password overrides the DSN's.
  std::vector<const char*> keys = {"connect_timeout", "application_name", "dbname"};
  std::vector<const char*> values = {"5", "berth", opts_.dsn.c_str()};
  if (!opts_.password.empty()) {
    keys.push_back("password");
    values.push_back(opts_.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr) return error(Code::kUnavailable, "postgres: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = error(Code::kUnavailable, fmt::format("postgres: cannot connect to {}: {}",
                                                     redacted_, trim(PQerrorMessage(conn))));
    PQfinish(conn);
    return s;
  }
  // Notices ("relation ... already exists, skipping") are not for berth's
  // stderr, which carries its JSON log lines.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto c = std::make_unique<Connection>(conn);
  // Names, tags and JSON go in and out as UTF-8 whatever the server's default.
  BERTH_RETURN_IF_ERROR(c->exec("SET client_encoding TO 'UTF8'"));
  return c;
}

Result<Lease> Pool::acquire() {
  {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + opts_.acquire_timeout;
    while (idle_.empty() && open_ >= opts_.max_connections) {
      if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= opts_.max_connections) {
        return error(Code::kUnavailable, fmt::format("postgres: all {} connections busy; try again",
                                                     opts_.max_connections));
      }
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;  // reserve the slot while connecting outside the lock
  }
  auto c = connect();
  if (!c) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
    return c.status();
  }
  return Lease(this, std::move(c).value());
}

void Pool::release(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (c->healthy()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // the server dropped it; the next acquire opens a fresh one
  }
  freed_.notify_one();
}

Status Pool::transaction(const char* begin, const std::function<Status(Connection&)>& fn,
                         bool retry) {
  constexpr int kAttempts = 40;
  thread_local std::minstd_rand jitter(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto lease, acquire());
    Connection& c = *lease;
    Status st = c.exec(begin);
    if (!st.is_ok()) {
      // An idle connection the server has since dropped: once, try a new one.
      if (!c.healthy() && attempt == 1) continue;
      return st;
    }
    st = fn(c);
    std::string state = c.last_sqlstate();
    if (st.is_ok()) {
      st = c.exec("COMMIT");
      if (st.is_ok()) return st;
      state = c.last_sqlstate();
    }
    (void)c.exec("ROLLBACK");  // after a failed COMMIT or a lost connection, harmless
    if (!retry || !is_retryable(state)) return st;
    if (attempt == kAttempts) {
      return error(Code::kUnavailable,
                   "postgres: the transaction kept conflicting with others; try again");
    }
    // Back off a little, more with each attempt, so that the conflicting
    // transactions spread out.
    std::this_thread::sleep_for(std::chrono::microseconds(
        std::uniform_int_distribution<int>(100, 500 * std::min(attempt, 20))(jitter)));
  }
}

Status Pool::write(const std::function<Status(Connection&)>& fn, Commit commit) {
  return transaction(commit == Commit::kVisible
                         ? "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL synchronous_commit TO off"
                         : "BEGIN ISOLATION LEVEL SERIALIZABLE",
                     fn, true);
}

Status Pool::read(const std::function<Status(Connection&)>& fn) {
  return transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn, false);
}

}  // namespace berth::pg
