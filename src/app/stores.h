// Opens berth's data directory: blob store, metadata database, the secret key
// that seals access-key secrets, and the identity service. Shared by the
// server and the operator commands (admin, gc), which may run beside it.
#pragma once

#include <memory>

#include "app/config.h"
#include "blob/fs/fs_blob_store.h"
#include "identity/identity_service.h"
#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth::app {

struct Stores {
  std::unique_ptr<FsBlobStore> blobs;
  std::unique_ptr<SqliteMetadataStore> meta;
  std::unique_ptr<SqliteIdentityStore> identity_store;
  std::unique_ptr<identity::IdentityService> identity;
};

enum class OpenMode {
  kCreate,    // berth serve: creates the directory, database and key file on first use
  kExisting,  // operator commands: kNotFound, naming the path, when there is no database
};

// Opens the stores of `config.data_dir`. With kExisting nothing is created
// when the database is missing, so a mistyped --data-dir fails loudly
// instead of leaving an empty registry behind.
Result<Stores> open_stores(const Config& config, OpenMode mode = OpenMode::kCreate);

// The secret key file: `secret-key-file` from the config, else
// <data-dir>/secret.key.
std::string secret_key_path(const Config& config);

}  // namespace berth::app
