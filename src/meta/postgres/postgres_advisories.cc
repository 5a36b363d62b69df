// PostgresMetadataStore: the AdvisoryStore role (meta/advisory_store.h).
#include <fmt/format.h>

#include <algorithm>

#include "meta/advisory_rows.h"
#include "meta/postgres/postgres_metadata_store.h"
#include "meta/stored_formats.h"

namespace berth {
using pg::Connection;
using pg::Statement;
using stored_formats::strings_from_json;
using stored_formats::strings_to_json;

namespace {

// Rows go to the server in batches of this many, each batch one statement
// whose parameters are arrays (unnest): a few round trips for a whole import.
constexpr size_t kBatch = 2000;

// A PostgreSQL array literal of `values` (text format), each element quoted;
// nullopt elements are NULL.
class ArrayLiteral {
 public:
  void add(std::string_view v) {
    out_ += out_.empty() ? "{\"" : ",\"";
    for (char ch : v) {
      if (ch == '"' || ch == '\\') out_ += '\\';
      out_ += ch;
    }
    out_ += '"';
  }
  void add(const std::optional<std::string>& v) {
    if (v) return add(std::string_view(*v));
    out_ += out_.empty() ? "{NULL" : ",NULL";
  }
  void add(const std::string& v) { add(std::string_view(v)); }
  void add(int64_t v) { add(std::to_string(v)); }
  // The literal; a value (never nullopt), as Statement::bind takes text.
  std::optional<std::string> take() {
    std::string s = out_.empty() ? std::string("{}") : std::move(out_) + "}";
    out_.clear();
    return s;
  }

 private:
  std::string out_;
};

constexpr const char* kLatestImport =
    "SELECT version, produced_at_ms, imported_at_ms, sources, advisories, affected "
    "FROM advisory_imports ORDER BY version DESC LIMIT 1";

Result<std::optional<AdvisoryImportRecord>> latest_import(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(auto q, c.prepare(kLatestImport));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return std::optional<AdvisoryImportRecord>();
  AdvisoryImportRecord r;
  r.version = q.int64(0);
  r.produced_at_ms = q.int64(1);
  r.imported_at_ms = q.int64(2);
  r.sources = q.text(3);
  r.advisories = q.int64(4);
  r.affected = q.int64(5);
  return std::optional<AdvisoryImportRecord>(std::move(r));
}

Status upsert_advisories(Connection& c, const std::vector<scan::Advisory>& advisories,
                         int64_t version) {
  for (size_t from = 0; from < advisories.size(); from += kBatch) {
    const size_t to = std::min(advisories.size(), from + kBatch);
    ArrayLiteral id, aliases, description, uri, severity, score, vector;
    for (size_t i = from; i < to; ++i) {
      const scan::Advisory& a = advisories[i];
      id.add(std::string_view(a.id));
      aliases.add(strings_to_json(a.aliases));
      description.add(std::string_view(a.description));
      uri.add(std::string_view(a.uri));
      severity.add(std::string_view(scan::severity_name(a.severity)));
      score.add(advisory_rows::cvss_text(a.cvss_score));
      vector.add(std::string_view(a.cvss_vector));
    }
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("INSERT INTO advisories (id, aliases, description, uri, severity, cvss_score, "
                  "cvss_vector, import_version) "
                  "SELECT i, al, d, u, s, sc, v, $8 FROM unnest($1::text[], $2::text[], "
                  "$3::text[], $4::text[], $5::text[], $6::float8[], $7::text[]) "
                  "AS t(i, al, d, u, s, sc, v) "
                  "ON CONFLICT (id) DO UPDATE SET "
                  "aliases=CASE WHEN excluded.aliases<>'[]' THEN excluded.aliases "
                  "ELSE advisories.aliases END, "
                  "description=CASE WHEN excluded.description<>'' THEN excluded.description "
                  "ELSE advisories.description END, "
                  "uri=CASE WHEN excluded.uri<>'' THEN excluded.uri ELSE advisories.uri END, "
                  "severity=CASE WHEN excluded.severity<>'UNDEFINED' THEN excluded.severity "
                  "ELSE advisories.severity END, "
                  "cvss_score=coalesce(excluded.cvss_score, advisories.cvss_score), "
                  "cvss_vector=CASE WHEN excluded.cvss_vector<>'' THEN excluded.cvss_vector "
                  "ELSE advisories.cvss_vector END, "
                  "import_version=excluded.import_version"));
    s.bind(1, id.take())
        .bind(2, aliases.take())
        .bind(3, description.take())
        .bind(4, uri.take())
        .bind(5, severity.take())
        .bind(6, score.take())
        .bind(7, vector.take())
        .bind(8, version);
    BERTH_RETURN_IF_ERROR(s.run());
  }
  return Status::ok();
}

Status delete_replaced(Connection& c, const std::vector<advisory_rows::ImportRows::Key>& keys) {
  for (size_t from = 0; from < keys.size(); from += kBatch) {
    const size_t to = std::min(keys.size(), from + kBatch);
    ArrayLiteral id, ecosystem, package;
    for (size_t i = from; i < to; ++i) {
      id.add(std::string_view(keys[i].id));
      ecosystem.add(std::string_view(keys[i].ecosystem));
      package.add(std::string_view(keys[i].package));
    }
    BERTH_ASSIGN_OR_RETURN(
        auto d, c.prepare("DELETE FROM advisory_affected f USING unnest($1::text[], $2::text[], "
                          "$3::text[]) AS k(i, e, p) "
                          "WHERE f.advisory_id=k.i AND f.ecosystem=k.e AND f.package=k.p"));
    d.bind(1, id.take()).bind(2, ecosystem.take()).bind(3, package.take());
    BERTH_RETURN_IF_ERROR(d.run());
  }
  return Status::ok();
}

Status insert_affected(Connection& c, const std::vector<advisory_rows::AffectedRow>& rows,
                       int64_t version) {
  for (size_t from = 0; from < rows.size(); from += kBatch) {
    const size_t to = std::min(rows.size(), from + kBatch);
    ArrayLiteral id, ecosystem, package, seq, introduced, fixed, versions, not_affected;
    for (size_t i = from; i < to; ++i) {
      const advisory_rows::AffectedRow& r = rows[i];
      id.add(std::string_view(r.advisory_id));
      ecosystem.add(std::string_view(r.entry->ecosystem));
      package.add(std::string_view(r.entry->package));
      seq.add(r.seq);
      introduced.add(std::string_view(r.entry->introduced));
      fixed.add(std::string_view(r.entry->fixed));
      versions.add(strings_to_json(r.entry->versions));
      not_affected.add(int64_t{r.entry->not_affected ? 1 : 0});
    }
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("INSERT INTO advisory_affected (advisory_id, ecosystem, package, seq, "
                  "introduced, fixed, versions, not_affected, import_version) "
                  "SELECT i, e, p, q, n, f, v, na, $9 FROM unnest($1::text[], $2::text[], "
                  "$3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[]) "
                  "AS t(i, e, p, q, n, f, v, na)"));
    s.bind(1, id.take())
        .bind(2, ecosystem.take())
        .bind(3, package.take())
        .bind(4, seq.take())
        .bind(5, introduced.take())
        .bind(6, fixed.take())
        .bind(7, versions.take())
        .bind(8, not_affected.take())
        .bind(9, version);
    BERTH_RETURN_IF_ERROR(s.run());
  }
  return Status::ok();
}

}  // namespace

Result<AdvisoryImportRecord> PostgresMetadataStore::import_advisories(
    const std::vector<scan::Advisory>& advisories, int64_t produced_at_ms, std::string_view sources,
    int64_t now_ms) {
  const advisory_rows::ImportRows rows = advisory_rows::lay_out(advisories);
  AdvisoryImportRecord record;
  // One SERIALIZABLE transaction (retried whole on a serialization failure).
  Status st = pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto before, latest_import(c));
    record = AdvisoryImportRecord{};
    record.version = (before ? before->version : 0) + 1;
    record.produced_at_ms = produced_at_ms;
    record.imported_at_ms = now_ms;
    record.sources = std::string(sources);
    record.advisories = static_cast<int64_t>(rows.advisories.size());
    record.affected = static_cast<int64_t>(rows.affected.size());
    BERTH_RETURN_IF_ERROR(upsert_advisories(c, rows.advisories, record.version));
    BERTH_RETURN_IF_ERROR(delete_replaced(c, rows.keys));
    BERTH_RETURN_IF_ERROR(insert_affected(c, rows.affected, record.version));
    BERTH_ASSIGN_OR_RETURN(
        auto i, c.prepare("INSERT INTO advisory_imports (version, produced_at_ms, imported_at_ms, "
                          "sources, advisories, affected) VALUES ($1,$2,$3,$4,$5,$6)"));
    i.bind(1, record.version)
        .bind(2, record.produced_at_ms)
        .bind(3, record.imported_at_ms)
        .bind(4, std::string_view(record.sources))
        .bind(5, record.advisories)
        .bind(6, record.affected);
    return i.run();
  });
  if (!st.is_ok()) return st;
  return record;
}

Result<std::optional<AdvisoryImportRecord>> PostgresMetadataStore::latest_advisory_import() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return latest_import(*lease);
}

Result<std::vector<scan::Advisory>> PostgresMetadataStore::advisories_for(
    std::string_view ecosystem, const std::vector<std::string>& packages) {
  std::vector<scan::Advisory> out;
  if (packages.empty()) return out;
  ArrayLiteral names;
  for (const std::string& p : packages) names.add(std::string_view(p));
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare(
          "SELECT a.id, a.aliases, a.description, a.uri, a.severity, a.cvss_score, a.cvss_vector, "
          "f.ecosystem, f.package, f.introduced, f.fixed, f.versions, f.not_affected "
          "FROM advisory_affected f JOIN advisories a ON a.id=f.advisory_id "
          "WHERE f.ecosystem=$1 AND f.package=ANY($2::text[]) "
          "ORDER BY a.id, f.package, f.seq"));
  q.bind(1, ecosystem).bind(2, names.take());
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) break;
    if (out.empty() || out.back().id != q.text(0)) {
      scan::Advisory a;
      a.id = q.text(0);
      a.aliases = strings_from_json(q.text(1));
      a.description = q.text(2);
      a.uri = q.text(3);
      a.severity = advisory_rows::severity_from_text(q.text(4));
      if (!q.is_null(5)) a.cvss_score = advisory_rows::cvss_from_text(q.text(5));
      a.cvss_vector = q.text(6);
      out.push_back(std::move(a));
    }
    scan::AffectedPackage p;
    p.ecosystem = q.text(7);
    p.package = q.text(8);
    p.introduced = q.text(9);
    p.fixed = q.text(10);
    p.versions = strings_from_json(q.text(11));
    p.not_affected = q.int64(12) != 0;
    out.back().affected.push_back(std::move(p));
  }
  return out;
}

}  // namespace berth
