#include "app/stores.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "blob/fs/fs_blob_store.h"
#include "core/clock.h"
#include "meta/sqlite/migrations.h"
#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth::app {

namespace {

// A metadata driver opens the metadata store and the identity store on the
// same database handle.
struct MetadataStores {
  std::unique_ptr<MetadataStore> meta;
  std::unique_ptr<IdentityStore> identity;
  std::string database;  // where, for messages
  sqlite_meta::MigrationReport migrated;
  std::function<Status()> check;  // Stores::check_metadata
};
using MetadataFactory = std::function<Result<MetadataStores>(const Config&, OpenMode)>;
using BlobFactory = std::function<Result<std::unique_ptr<BlobStore>>(const Config&)>;

Status prepare_private_directory(const std::filesystem::path& dir) {
  // Created with its entry synced into the parent, so that a power cut cannot
  // take away what was acknowledged in it.
  BERTH_RETURN_IF_ERROR(create_directories_durably(dir.string()));
  // Only berth's user may enter it (files inside are 0600).
  std::error_code ec;
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  if (ec) return error(Code::kInternal, fmt::format("chmod {}: {}", dir.string(), ec.message()));
  return Status::ok();
}

Result<MetadataStores> open_sqlite(const Config& config, OpenMode mode) {
  std::error_code ec;
  const std::filesystem::path db_path = metadata_sqlite_path(config);
  if (mode == OpenMode::kExisting && !std::filesystem::is_regular_file(db_path, ec)) {
    return error(Code::kNotFound,
                 fmt::format("no berth database at {} (is --data-dir right? `berth serve` creates it on first start)",
                             std::filesystem::absolute(db_path, ec).string()));
  }
  if (db_path.has_parent_path()) BERTH_RETURN_IF_ERROR(prepare_private_directory(db_path.parent_path()));
  MetadataStores out;
  out.database = db_path.string();
  BERTH_ASSIGN_OR_RETURN(auto meta, SqliteMetadataStore::open(db_path.string(), config.sync_full, &out.migrated));
  BERTH_ASSIGN_OR_RETURN(out.identity, SqliteIdentityStore::open(meta->pool()));
  sqlite::Pool* pool = &meta->pool();
  out.check = [pool]() -> Status {
    auto lease = pool->acquire();
    if (!lease) return lease.take_status();
    BERTH_ASSIGN_OR_RETURN(int64_t version, sqlite_meta::schema_version(**lease));
    if (version != sqlite_meta::latest_schema_version()) {
      return error(Code::kFailedPrecondition, fmt::format("schema version {}, this berth needs {}", version,
                                                          sqlite_meta::latest_schema_version()));
    }
    return Status::ok();
  };
  out.meta = std::move(meta);
  return out;
}

Result<std::unique_ptr<BlobStore>> open_filesystem(const Config& config) {
  const std::filesystem::path root = storage_filesystem_root(config);
  BERTH_RETURN_IF_ERROR(prepare_private_directory(root));
  BERTH_ASSIGN_OR_RETURN(auto store, FsBlobStore::open_at(root));
  return std::unique_ptr<BlobStore>(std::move(store));
}

// One entry per driver in metadata_drivers() and storage_drivers().
const std::map<std::string, MetadataFactory>& metadata_factories() {
  static const std::map<std::string, MetadataFactory> f = {{"sqlite", open_sqlite}};
  return f;
}

const std::map<std::string, BlobFactory>& blob_factories() {
  static const std::map<std::string, BlobFactory> f = {{"filesystem", open_filesystem}};
  return f;
}

Result<MetadataStores> open_metadata(const Config& config, OpenMode mode) {
  auto it = metadata_factories().find(config.metadata.driver);
  if (it == metadata_factories().end()) {
    return error(Code::kInvalidArgument, fmt::format("metadata: unknown driver '{}'", config.metadata.driver));
  }
  return it->second(config, mode);
}

}  // namespace

std::string secret_key_path(const Config& config) {
  if (!config.secret_key_file.empty()) return config.secret_key_file;
  return (std::filesystem::path(config.data_dir) / "secret.key").string();
}

Result<Stores> open_stores(const Config& config, OpenMode mode) {
  Stores s;
  auto blobs = blob_factories().find(config.storage.driver);
  if (blobs == blob_factories().end()) {
    return error(Code::kInvalidArgument, fmt::format("storage: unknown driver '{}'", config.storage.driver));
  }
  // The metadata first: with kExisting a missing database must stop us
  // before anything is created.
  BERTH_ASSIGN_OR_RETURN(auto metadata, open_metadata(config, mode));
  BERTH_RETURN_IF_ERROR(prepare_private_directory(config.data_dir));
  BERTH_ASSIGN_OR_RETURN(s.blobs, blobs->second(config));
  s.meta = std::move(metadata.meta);
  s.identity_store = std::move(metadata.identity);
  s.check_metadata = std::move(metadata.check);
  if (config.storage.driver == "filesystem") {
    // A small file created, written, synced and removed in the store's root.
    const std::string probe = (std::filesystem::path(storage_filesystem_root(config)) / ".ready-probe").string();
    s.check_blobs = [probe]() -> Status {
      int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return error(Code::kInternal, fmt::format("create {}: {}", probe, std::strerror(errno)));
      const bool ok = ::write(fd, "ok", 2) == 2 && ::fsync(fd) == 0;
      const int saved = errno;
      ::close(fd);
      ::unlink(probe.c_str());
      if (!ok) return error(Code::kInternal, fmt::format("write {}: {}", probe, std::strerror(saved)));
      return Status::ok();
    };
  }
  BERTH_ASSIGN_OR_RETURN(auto key, auth::load_or_create_key_file(secret_key_path(config)));
  identity::IdentityOptions io;
  io.region = config.region;
  io.default_account = config.account_id;
  io.token_ttl_seconds = config.token_ttl_seconds;
  BERTH_ASSIGN_OR_RETURN(s.identity, identity::IdentityService::open(*s.identity_store, key, Clock::system(), io));
  return s;
}

Result<MigrateResult> migrate_metadata(const Config& config) {
  BERTH_ASSIGN_OR_RETURN(auto metadata, open_metadata(config, OpenMode::kExisting));
  return MigrateResult{metadata.database, metadata.migrated.from, metadata.migrated.to};
}

}  // namespace berth::app
