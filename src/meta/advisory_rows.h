// How both AdvisoryStore implementations (sqlite_advisories.cc,
// postgres_advisories.cc) lay an import out in rows: one row per advisory id
// and one per affected entry, numbered within its (id, ecosystem, package).
// Plain functions, no I/O; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scan/advisory.h"

namespace berth::advisory_rows {

// One affected entry of an import as stored.
struct AffectedRow {
  std::string advisory_id;
  const scan::AffectedPackage* entry = nullptr;  // points into the import's advisories
  int64_t seq = 0;                               // 0, 1, ... within (id, ecosystem, package)
};

// An import laid out in rows.
struct ImportRows {
  // One per distinct id, in the order of first appearance; `affected` empty.
  // Where an id comes more than once, given fields of later ones win and
  // aliases are the union.
  std::vector<scan::Advisory> advisories;
  // Every distinct (id, ecosystem, package) of the import: the stored rows
  // these name are replaced.
  struct Key {
    std::string id, ecosystem, package;
  };
  std::vector<Key> keys;
  // The affected entries, identical duplicates within one key dropped.
  std::vector<AffectedRow> affected;
};

// `advisories` (which must outlive the result) as rows.
ImportRows lay_out(const std::vector<scan::Advisory>& advisories);

// The stored forms: severity by its ECR name (written with scan::severity_name), CVSS score
// as decimal text.
scan::Severity severity_from_text(std::string_view text);
std::optional<std::string> cvss_text(const std::optional<double>& score);
std::optional<double> cvss_from_text(std::string_view text);

}  // namespace berth::advisory_rows
