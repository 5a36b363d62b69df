// AdvisoryStore: the vulnerability advisories an operator imported
// (`berth advisories import`), as scan/advisory.h models them, and the record
// of each import. A role of MetadataStore (meta/metadata_store.h); every
// method is thread-safe and atomic, failures are values as described there.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/advisory.h"

namespace berth {

// One completed import.
struct AdvisoryImportRecord {
  int64_t version = 0;         // grows by one with every import; 0 means "none yet"
  int64_t produced_at_ms = 0;  // when the imported data was produced (the newest date it names)
  int64_t imported_at_ms = 0;
  std::string sources;     // what was imported, for people (formats and file names)
  int64_t advisories = 0;  // advisories in this import
  int64_t affected = 0;    // affected-package rows in this import
};

class AdvisoryStore {
 public:
  virtual ~AdvisoryStore() = default;

  // Stores `advisories` as one import, in one transaction: either all of it
  // is visible afterwards or (on any failure) none of it. An advisory with
  // the same (id, ecosystem, package) as a stored one replaces it; others stay.
  // The advisory's own fields (aliases, description, uri, severity, CVSS) are
  // shared by its packages: the import's values replace the stored ones where
  // they are given (not empty, not kUndefined), so a source that lacks them
  // does not erase what another gave. An id, ecosystem or package that is
  // empty fails the import (nothing stored).
  // Returns the new import's record (its version = the previous + 1).
  virtual Result<AdvisoryImportRecord> import_advisories(
      const std::vector<scan::Advisory>& advisories, int64_t produced_at_ms,
      std::string_view sources, int64_t now_ms) = 0;

  // The newest import, nullopt before the first.
  virtual Result<std::optional<AdvisoryImportRecord>> latest_advisory_import() = 0;

  // Every stored advisory that names one of `packages` (source package or
  // origin names) in `ecosystem`; each returned Advisory carries only its
  // affected entries for that ecosystem and those packages. Order: by id.
  virtual Result<std::vector<scan::Advisory>> advisories_for(
      std::string_view ecosystem, const std::vector<std::string>& packages) = 0;
};

}  // namespace berth
