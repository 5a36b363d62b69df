// SqliteMetadataStore: the AdvisoryStore role (meta/advisory_store.h).
#include <fmt/format.h>

#include "meta/advisory_rows.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "meta/stored_formats.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;
using stored_formats::strings_from_json;
using stored_formats::strings_to_json;

namespace {

constexpr const char* kImportColumns =
    "SELECT version, produced_at_ms, imported_at_ms, sources, advisories, affected "
    "FROM advisory_imports ORDER BY version DESC LIMIT 1";

AdvisoryImportRecord read_import(const Statement& q) {
  AdvisoryImportRecord r;
  r.version = q.int64(0);
  r.produced_at_ms = q.int64(1);
  r.imported_at_ms = q.int64(2);
  r.sources = q.text(3);
  r.advisories = q.int64(4);
  r.affected = q.int64(5);
  return r;
}

Result<std::optional<AdvisoryImportRecord>> latest_import(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(auto q, c.prepare(kImportColumns));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return std::optional<AdvisoryImportRecord>();
  return std::optional<AdvisoryImportRecord>(read_import(q));
}

}  // namespace

Result<AdvisoryImportRecord> SqliteMetadataStore::import_advisories(
    const std::vector<scan::Advisory>& advisories, int64_t produced_at_ms, std::string_view sources,
    int64_t now_ms) {
  const advisory_rows::ImportRows rows = advisory_rows::lay_out(advisories);
  AdvisoryImportRecord record;
  // One transaction of prepared statements: the whole import or nothing.
  Status st = pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto before, latest_import(c));
    record = AdvisoryImportRecord{};
    record.version = (before ? before->version : 0) + 1;
    record.produced_at_ms = produced_at_ms;
    record.imported_at_ms = now_ms;
    record.sources = std::string(sources);
    record.advisories = static_cast<int64_t>(rows.advisories.size());
    record.affected = static_cast<int64_t>(rows.affected.size());
    for (const scan::Advisory& a : rows.advisories) {
      BERTH_ASSIGN_OR_RETURN(
          auto s,
          c.prepare("INSERT INTO advisories (id, aliases, description, uri, severity, cvss_score, "
                    "cvss_vector, import_version) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) "
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
      s.bind(1, std::string_view(a.id))
          .bind(2, std::string_view(strings_to_json(a.aliases)))
          .bind(3, std::string_view(a.description))
          .bind(4, std::string_view(a.uri))
          .bind(5, std::string_view(scan::severity_name(a.severity)))
          .bind(6, advisory_rows::cvss_text(a.cvss_score))
          .bind(7, std::string_view(a.cvss_vector))
          .bind(8, record.version);
      BERTH_RETURN_IF_ERROR(s.run());
    }
    for (const advisory_rows::ImportRows::Key& k : rows.keys) {
      BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM advisory_affected WHERE "
                                               "advisory_id=?1 AND ecosystem=?2 AND package=?3"));
      d.bind(1, std::string_view(k.id))
          .bind(2, std::string_view(k.ecosystem))
          .bind(3, std::string_view(k.package));
      BERTH_RETURN_IF_ERROR(d.run());
    }
    for (const advisory_rows::AffectedRow& r : rows.affected) {
      BERTH_ASSIGN_OR_RETURN(
          auto s, c.prepare("INSERT INTO advisory_affected (advisory_id, ecosystem, package, seq, "
                            "introduced, fixed, versions, not_affected, import_version) "
                            "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"));
      s.bind(1, std::string_view(r.advisory_id))
          .bind(2, std::string_view(r.entry->ecosystem))
          .bind(3, std::string_view(r.entry->package))
          .bind(4, r.seq)
          .bind(5, std::string_view(r.entry->introduced))
          .bind(6, std::string_view(r.entry->fixed))
          .bind(7, std::string_view(strings_to_json(r.entry->versions)))
          .bind(8, int64_t{r.entry->not_affected ? 1 : 0})
          .bind(9, record.version);
      BERTH_RETURN_IF_ERROR(s.run());
    }
    BERTH_ASSIGN_OR_RETURN(
        auto i, c.prepare("INSERT INTO advisory_imports (version, produced_at_ms, imported_at_ms, "
                          "sources, advisories, affected) VALUES (?1,?2,?3,?4,?5,?6)"));
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

Result<std::optional<AdvisoryImportRecord>> SqliteMetadataStore::latest_advisory_import() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return latest_import(*lease);
}

Result<std::vector<scan::Advisory>> SqliteMetadataStore::advisories_for(
    std::string_view ecosystem, const std::vector<std::string>& packages) {
  std::vector<scan::Advisory> out;
  if (packages.empty()) return out;
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  // The packages go as one JSON array; the index on (ecosystem, package) finds each.
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare(
          "SELECT a.id, a.aliases, a.description, a.uri, a.severity, a.cvss_score, a.cvss_vector, "
          "f.ecosystem, f.package, f.introduced, f.fixed, f.versions, f.not_affected "
          "FROM advisory_affected f JOIN advisories a ON a.id=f.advisory_id "
          "WHERE f.ecosystem=?1 AND f.package IN (SELECT value FROM json_each(?2)) "
          "ORDER BY a.id, f.package, f.seq"));
  q.bind(1, ecosystem).bind(2, std::string_view(strings_to_json(packages)));
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
