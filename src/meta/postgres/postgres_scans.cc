// PostgresMetadataStore: the ScanStore role (meta/scan_store.h).
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "meta/postgres/postgres_metadata_rows.h"
#include "meta/postgres/postgres_metadata_store.h"
#include "meta/stored_formats.h"

namespace berth {
using pg::Connection;
using pg::Pool;
using pg::Statement;

namespace {

// The columns read_scan reads. A macro, so that each query stays one string
// literal: the connection caches prepared statements by the text's address.
#define BERTH_SCAN_COLUMNS                                                                    \
  "s.repo_id, s.digest, s.status, s.description, s.lease_holder, s.lease_until, s.attempts, " \
  "s.requested_at, s.started_at, s.completed_at, s.vulnerability_source_updated_at, "         \
  "s.advisory_version"

ScanRecord read_scan(const Statement& r) {
  ScanRecord s;
  s.repository = r.int64(0);
  auto d = Digest::parse(r.text(1));
  if (d.is_ok()) s.manifest_digest = *d;
  s.status = r.text(2);
  s.description = r.text(3);
  s.lease_holder = r.is_null(4) ? std::string() : r.text(4);
  s.lease_until_ms = r.int64(5);
  s.attempts = r.int64(6);
  s.requested_at_ms = r.int64(7);
  s.started_at_ms = r.opt_int64(8).value_or(0);
  s.completed_at_ms = r.opt_int64(9).value_or(0);
  s.vulnerability_source_updated_at_ms = r.opt_int64(10).value_or(0);
  s.advisory_version = r.int64(11);
  return s;
}

// The id of manifest `digest` in `repo`, nullopt when absent.
Result<std::optional<int64_t>> manifest_id(Connection& c, RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto q,
                         c.prepare("SELECT id FROM manifests WHERE repo_id=$1 AND digest=$2"));
  q.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(q.int64(0));
}

std::optional<std::string> score_text(const std::optional<double>& score) {
  if (!score) return std::nullopt;
  return fmt::format("{}", *score);
}

Status store_findings(Connection& c, int64_t id, const std::vector<scan::Finding>& findings) {
  BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM scan_findings WHERE manifest_id=$1"));
  BERTH_RETURN_IF_ERROR(d.bind(1, id).run());
  int64_t ordinal = 0;
  for (const scan::Finding& f : findings) {
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("INSERT INTO scan_findings (manifest_id, ordinal, name, description, uri, "
                  "severity, package_name, package_version, fixed_version, cvss_score, "
                  "cvss_vector) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"));
    BERTH_RETURN_IF_ERROR(s.bind(1, id)
                              .bind(2, ordinal++)
                              .bind(3, std::string_view(f.name))
                              .bind(4, std::string_view(f.description))
                              .bind(5, std::string_view(f.uri))
                              .bind(6, static_cast<int64_t>(f.severity))
                              .bind(7, std::string_view(f.package_name))
                              .bind(8, std::string_view(f.package_version))
                              .bind(9, std::string_view(f.fixed_version))
                              .bind(10, score_text(f.cvss_score))
                              .bind(11, std::string_view(f.cvss_vector))
                              .run());
  }
  BERTH_ASSIGN_OR_RETURN(auto counts,
                         c.prepare("UPDATE scans SET severity_counts=$2 WHERE manifest_id=$1"));
  return counts.bind(1, id)
      .bind(2, std::string_view(stored_formats::severity_counts_text(findings)))
      .run();
}

Status store_inventory(Connection& c, int64_t id, const scan::Inventory& inv) {
  BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM image_inventories WHERE manifest_id=$1"));
  BERTH_RETURN_IF_ERROR(d.bind(1, id).run());
  BERTH_ASSIGN_OR_RETURN(
      auto i, c.prepare("INSERT INTO image_inventories (manifest_id, os_id, os_version_id, "
                        "os_codename, os_pretty_name) VALUES ($1, $2, $3, $4, $5)"));
  i.bind(1, id);
  if (inv.os) {
    i.bind(2, std::string_view(inv.os->id))
        .bind(3, std::string_view(inv.os->version_id))
        .bind(4, std::string_view(inv.os->version_codename))
        .bind(5, std::string_view(inv.os->pretty_name));
  } else {
    i.bind_null(2)
        .bind(3, std::string_view())
        .bind(4, std::string_view())
        .bind(5, std::string_view());
  }
  BERTH_RETURN_IF_ERROR(i.run());
  int64_t ordinal = 0;
  for (const scan::InstalledPackage& p : inv.packages) {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO image_inventory_packages (manifest_id, ordinal, kind, name, "
                          "version, source_name, source_version, architecture, license) VALUES "
                          "($1, $2, $3, $4, $5, $6, $7, $8, $9)"));
    BERTH_RETURN_IF_ERROR(s.bind(1, id)
                              .bind(2, ordinal++)
                              .bind(3, static_cast<int64_t>(p.kind))
                              .bind(4, std::string_view(p.name))
                              .bind(5, std::string_view(p.version))
                              .bind(6, std::string_view(p.source_name))
                              .bind(7, std::string_view(p.source_version))
                              .bind(8, std::string_view(p.architecture))
                              .bind(9, std::string_view(p.license))
                              .run());
  }
  return Status::ok();
}

Status store_outcome(Connection& c, int64_t id, const ScanOutcome& o) {
  BERTH_RETURN_IF_ERROR(store_findings(c, id, o.findings));
  if (o.inventory) BERTH_RETURN_IF_ERROR(store_inventory(c, id, *o.inventory));
  return Status::ok();
}

// Rules as stored: one line per rule, "FREQUENCY\tfilter\tfilter...".
std::string encode_rules(const std::vector<ScanningRule>& rules) {
  std::string out;
  for (const ScanningRule& r : rules) {
    out += r.scan_frequency;
    for (const std::string& f : r.repository_filters) out += "\t" + f;
    out += "\n";
  }
  return out;
}

std::vector<ScanningRule> decode_rules(std::string_view text) {
  std::vector<ScanningRule> rules;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ScanningRule r;
    bool first = true;
    while (true) {
      size_t tab = line.find('\t');
      std::string field(line.substr(0, tab));
      if (first) {
        r.scan_frequency = std::move(field);
        first = false;
      } else {
        r.repository_filters.push_back(std::move(field));
      }
      if (tab == std::string_view::npos) break;
      line = line.substr(tab + 1);
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

}  // namespace

Status PostgresMetadataStore::request_scan(RepositoryId repo, const Digest& digest, int64_t now_ms,
                                           int64_t not_since_ms) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto id, manifest_id(c, repo, digest));
    if (!id) return error(Code::kManifestUnknown, "manifest unknown to registry");
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT status, requested_at FROM scans WHERE manifest_id=$1"));
    q.bind(1, *id);
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (row) {
      const std::string status = q.text(0);
      if (status == kScanPending || status == kScanInProgress)
        return error(Code::kLimitExceeded, "a scan of this image is already in progress");
      if (q.int64(1) >= not_since_ms)
        return error(Code::kLimitExceeded, "the image was scanned too recently");
    }
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO scans (manifest_id, repo_id, digest, status, description, "
                          "lease_holder, lease_until, attempts, requested_at) VALUES "
                          "($1, $2, $3, 'PENDING', 'The scan is pending', NULL, 0, 0, $4) "
                          "ON CONFLICT (manifest_id) DO UPDATE SET status='PENDING', "
                          "description=excluded.description, lease_holder=NULL, lease_until=0, "
                          "attempts=0, requested_at=excluded.requested_at"));
    return s.bind(1, *id)
        .bind(2, repo)
        .bind(3, std::string_view(digest.str()))
        .bind(4, now_ms)
        .run();
  });
}

Result<ScanRecord> PostgresMetadataStore::get_scan(RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto q,
                         lease->prepare("SELECT " BERTH_SCAN_COLUMNS
                                        " FROM scans s WHERE s.repo_id=$1 AND s.digest=$2"));
  q.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return error(Code::kNotFound, "no scan of this image");
  return read_scan(q);
}

Result<std::optional<ScanRecord>> PostgresMetadataStore::claim_scan(std::string_view holder,
                                                                    int64_t now_ms,
                                                                    int64_t until_ms) {
  std::optional<ScanRecord> claimed;
  Status st = pool_->write(
      [&](Connection& c) -> Status {
        claimed.reset();
        BERTH_ASSIGN_OR_RETURN(auto q,
                               c.prepare("SELECT manifest_id FROM scans WHERE status='PENDING' OR "
                                         "(status='IN_PROGRESS' AND lease_until<$1) "
                                         "ORDER BY requested_at, manifest_id LIMIT 1"));
        q.bind(1, now_ms);
        BERTH_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) return Status::ok();
        const int64_t id = q.int64(0);
        BERTH_ASSIGN_OR_RETURN(
            auto u, c.prepare("UPDATE scans SET status='IN_PROGRESS', description='The scan is in "
                              "progress', lease_holder=$2, lease_until=$3, attempts=attempts+1, "
                              "started_at=$4 WHERE manifest_id=$1"));
        BERTH_RETURN_IF_ERROR(
            u.bind(1, id).bind(2, holder).bind(3, until_ms).bind(4, now_ms).run());
        BERTH_ASSIGN_OR_RETURN(
            auto r, c.prepare("SELECT " BERTH_SCAN_COLUMNS " FROM scans s WHERE s.manifest_id=$1"));
        r.bind(1, id);
        BERTH_ASSIGN_OR_RETURN(bool again, r.step());
        if (again) claimed = read_scan(r);
        return Status::ok();
      },
      Pool::Commit::kVisible);
  if (!st.is_ok()) return st;
  return claimed;
}

Status PostgresMetadataStore::renew_scan_lease(RepositoryId repo, const Digest& digest,
                                               std::string_view holder, int64_t until_ms) {
  return pool_->write(
      [&](Connection& c) -> Status {
        BERTH_ASSIGN_OR_RETURN(
            auto u, c.prepare("UPDATE scans SET lease_until=$4 WHERE repo_id=$1 AND digest=$2 AND "
                              "status='IN_PROGRESS' AND lease_holder=$3"));
        BERTH_RETURN_IF_ERROR(u.bind(1, repo)
                                  .bind(2, std::string_view(digest.str()))
                                  .bind(3, holder)
                                  .bind(4, until_ms)
                                  .run());
        if (u.affected() != 1)
          return error(Code::kFailedPrecondition, "the scan's lease is held by another worker");
        return Status::ok();
      },
      Pool::Commit::kVisible);
}

Status PostgresMetadataStore::finish_scan(RepositoryId repo, const Digest& digest,
                                          std::string_view holder, const ScanOutcome& outcome) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT manifest_id FROM scans WHERE repo_id=$1 AND digest=$2 AND "
                          "status='IN_PROGRESS' AND lease_holder=$3"));
    q.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, holder);
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return error(Code::kFailedPrecondition, "the scan's lease is held by another worker");
    const int64_t id = q.int64(0);
    BERTH_ASSIGN_OR_RETURN(
        auto u, c.prepare("UPDATE scans SET status=$2, description=$3, lease_holder=NULL, "
                          "lease_until=0, completed_at=$4, vulnerability_source_updated_at=$5, "
                          "advisory_version=$6 WHERE manifest_id=$1"));
    BERTH_RETURN_IF_ERROR(u.bind(1, id)
                              .bind(2, std::string_view(outcome.status))
                              .bind(3, std::string_view(outcome.description))
                              .bind(4, outcome.completed_at_ms)
                              .bind(5, outcome.vulnerability_source_updated_at_ms)
                              .bind(6, outcome.advisory_version)
                              .run());
    BERTH_RETURN_IF_ERROR(store_outcome(c, id, outcome));
    return pg_meta::insert_events(c, outcome.events);
  });
}

Result<std::vector<scan::Finding>> PostgresMetadataStore::scan_findings(RepositoryId repo,
                                                                        const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q, lease->prepare(
                  "SELECT f.name, f.description, f.uri, f.severity, f.package_name, "
                  "f.package_version, f.fixed_version, f.cvss_score, f.cvss_vector FROM "
                  "scan_findings f JOIN scans s ON s.manifest_id=f.manifest_id WHERE s.repo_id=$1 "
                  "AND s.digest=$2 ORDER BY f.ordinal"));
  q.bind(1, repo).bind(2, std::string_view(digest.str()));
  return q.collect<scan::Finding>([](const Statement& r) {
    scan::Finding f;
    f.name = r.text(0);
    f.description = r.text(1);
    f.uri = r.text(2);
    f.severity = static_cast<scan::Severity>(r.int64(3));
    f.package_name = r.text(4);
    f.package_version = r.text(5);
    f.fixed_version = r.text(6);
    if (!r.is_null(7)) f.cvss_score = std::strtod(r.text(7).c_str(), nullptr);
    f.cvss_vector = r.text(8);
    return f;
  });
}

Result<std::vector<ScanSummary>> PostgresMetadataStore::scan_summaries(
    RepositoryId repo, const std::vector<Digest>& digests) {
  std::vector<ScanSummary> out;
  if (digests.empty()) return out;
  std::vector<std::string> texts;
  texts.reserve(digests.size());
  for (const Digest& d : digests) texts.push_back(d.str());
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  // The digests go as one JSON array, each found by the scans_by_image index;
  // the counts are the ones store_findings keeps beside the findings.
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare("SELECT " BERTH_SCAN_COLUMNS
                     ", s.severity_counts FROM scans s WHERE s.repo_id=$1 AND s.digest IN "
                     "(SELECT value COLLATE \"C\" FROM json_array_elements_text($2::json))"));
  q.bind(1, repo).bind(2, std::string_view(stored_formats::strings_to_json(texts)));
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) break;
    out.push_back(ScanSummary{read_scan(q), stored_formats::severity_counts_from_text(q.text(12))});
  }
  return out;
}

Result<ScanQueueDepth> PostgresMetadataStore::scan_queue_depth() {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  // The condition is the scans_waiting index's own, so only waiting scans are read.
  BERTH_ASSIGN_OR_RETURN(auto q, lease->prepare("SELECT status, COUNT(*) FROM scans WHERE status "
                                                "IN ('PENDING', 'IN_PROGRESS') GROUP BY status"));
  ScanQueueDepth out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) break;
    if (q.text(0) == kScanPending) out.pending = q.int64(1);
    if (q.text(0) == kScanInProgress) out.in_progress = q.int64(1);
  }
  return out;
}

Result<std::optional<scan::Inventory>> PostgresMetadataStore::image_inventory(
    RepositoryId repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q, lease->prepare("SELECT i.manifest_id, i.os_id, i.os_version_id, i.os_codename, "
                             "i.os_pretty_name FROM image_inventories i JOIN manifests m ON "
                             "m.id=i.manifest_id WHERE m.repo_id=$1 AND m.digest=$2"));
  q.bind(1, repo).bind(2, std::string_view(digest.str()));
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return std::optional<scan::Inventory>();
  scan::Inventory inv;
  const int64_t id = q.int64(0);
  if (!q.is_null(1)) inv.os = scan::OsRelease{q.text(1), q.text(2), q.text(3), q.text(4)};
  BERTH_ASSIGN_OR_RETURN(auto p,
                         lease->prepare("SELECT kind, name, version, source_name, source_version, "
                                        "architecture, license FROM image_inventory_packages WHERE "
                                        "manifest_id=$1 ORDER BY ordinal"));
  p.bind(1, id);
  BERTH_ASSIGN_OR_RETURN(inv.packages, p.collect<scan::InstalledPackage>([](const Statement& r) {
    scan::InstalledPackage pkg;
    pkg.kind = static_cast<scan::PackageKind>(r.int64(0));
    pkg.name = r.text(1);
    pkg.version = r.text(2);
    pkg.source_name = r.text(3);
    pkg.source_version = r.text(4);
    pkg.architecture = r.text(5);
    pkg.license = r.text(6);
    return pkg;
  }));
  return std::optional<scan::Inventory>(std::move(inv));
}

Result<std::vector<ScanRecord>> PostgresMetadataStore::scans_to_rematch(int64_t advisory_version,
                                                                        size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q, lease->prepare(
                  "SELECT " BERTH_SCAN_COLUMNS
                  " FROM scans s JOIN image_inventories i ON i.manifest_id=s.manifest_id WHERE "
                  "s.status='COMPLETE' AND s.advisory_version<$1 ORDER BY s.manifest_id LIMIT $2"));
  q.bind(1, advisory_version).bind(2, static_cast<int64_t>(limit));
  return q.collect<ScanRecord>(read_scan);
}

Status PostgresMetadataStore::rematch_scan(RepositoryId repo, const Digest& digest,
                                           int64_t previous_version, const ScanOutcome& outcome) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto q, c.prepare("SELECT manifest_id FROM scans WHERE repo_id=$1 AND digest=$2 AND "
                          "status='COMPLETE' AND advisory_version=$3"));
    q.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, previous_version);
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return error(Code::kFailedPrecondition, "the scan changed since it was read");
    const int64_t id = q.int64(0);
    BERTH_ASSIGN_OR_RETURN(auto u,
                           c.prepare("UPDATE scans SET description=$2, completed_at=$3, "
                                     "vulnerability_source_updated_at=$4, advisory_version=$5 "
                                     "WHERE manifest_id=$1"));
    BERTH_RETURN_IF_ERROR(u.bind(1, id)
                              .bind(2, std::string_view(outcome.description))
                              .bind(3, outcome.completed_at_ms)
                              .bind(4, outcome.vulnerability_source_updated_at_ms)
                              .bind(5, outcome.advisory_version)
                              .run());
    return store_outcome(c, id, outcome);
  });
}

Result<RegistryScanningConfiguration> PostgresMetadataStore::get_registry_scanning_configuration(
    std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q, lease->prepare("SELECT scan_type, rules FROM registry_scanning_configurations "
                             "WHERE account_id=$1"));
  q.bind(1, account_id);
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  RegistryScanningConfiguration cfg;
  if (!row) return cfg;
  cfg.scan_type = q.text(0);
  cfg.rules = decode_rules(q.text(1));
  return cfg;
}

Status PostgresMetadataStore::put_registry_scanning_configuration(
    std::string_view account_id, const RegistryScanningConfiguration& config) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO registry_scanning_configurations (account_id, scan_type, "
                          "rules) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET "
                          "scan_type=excluded.scan_type, rules=excluded.rules"));
    return s.bind(1, account_id)
        .bind(2, std::string_view(config.scan_type))
        .bind(3, std::string_view(encode_rules(config.rules)))
        .run();
  });
}

}  // namespace berth
