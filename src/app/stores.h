// Opens berth's stores as the configuration chooses them (a factory keyed by
// driver name: `metadata: {sqlite: ...}`, `storage: {filesystem: ...}`), the
// secret key that seals access-key secrets, and the identity service. Shared
// by the server and the operator commands (admin, gc, scrub, migrate), which
// may run beside it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "app/config.h"
#include "blob/blob_store.h"
#include "identity/identity_service.h"
#include "meta/identity_store.h"
#include "meta/metadata_store.h"

namespace berth::app {

// Members are destroyed in reverse order: the identity store may borrow the
// metadata store's database handle, so it goes first.
struct Stores {
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<MetadataStore> meta;
  std::unique_ptr<IdentityStore> identity_store;
  std::unique_ptr<identity::IdentityService> identity;
  // The metadata store's write generation (see OciOptions): set only for a
  // store whose every writer is in this process, so that reads may be cached
  // until it moves. Valid while `meta` lives.
  std::function<std::optional<uint64_t>()> metadata_generation;
  // Readiness probes (/readyz), each cheap and thread-safe, failing with the
  // reason: the metadata database answers and its schema is this berth's
  // version; the blob store accepts a write. Empty: the driver has no probe.
  std::function<Status()> check_metadata;
  std::function<Status()> check_blobs;
};

enum class OpenMode {
  kCreate,    // berth serve: creates the directory, database and key file on first use
  kExisting,  // operator commands: kNotFound, naming the path, when there is no database
};

// The configuration an operator command (admin, gc, scrub, migrate) runs
// with: the defaults, then `config_file` when not empty, then `data_dir` when
// not empty. Fails with the error of loading the file.
Result<Config> operator_config(const std::string& config_file, const std::string& data_dir);

// Opens the stores `config` chooses (by default both in `config.data_dir`).
// With kExisting nothing is created when the database is missing, so a
// mistyped --data-dir fails loudly instead of leaving an empty registry
// behind. kInvalidArgument naming the key for a driver berth lacks;
// kFailedPrecondition, naming both schema versions, for a database newer
// than this berth.
Result<Stores> open_stores(const Config& config, OpenMode mode = OpenMode::kCreate);

// What `berth migrate` did: the metadata schema version found and left.
struct MigrateResult {
  std::string database;  // where, for the operator
  int64_t from = 0;
  int64_t to = 0;
};

// Brings the chosen metadata store's schema (and the identity tables in it)
// to this berth's version; the database must exist.
Result<MigrateResult> migrate_metadata(const Config& config);

// The secret key file: `secret-key-file` from the config, else
// <data-dir>/secret.key.
std::string secret_key_path(const Config& config);

}  // namespace berth::app
