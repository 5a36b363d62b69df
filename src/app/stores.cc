#include "app/stores.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/clock.h"

namespace berth::app {

std::string secret_key_path(const Config& config) {
  if (!config.secret_key_file.empty()) return config.secret_key_file;
  return (std::filesystem::path(config.data_dir) / "secret.key").string();
}

Result<Stores> open_stores(const Config& config, OpenMode mode) {
  Stores s;
  std::error_code ec;
  const auto db_path = std::filesystem::path(config.data_dir) / "berth.db";
  if (mode == OpenMode::kExisting && !std::filesystem::is_regular_file(db_path, ec)) {
    return error(Code::kNotFound,
                 fmt::format("no berth database at {} (is --data-dir right? `berth serve` creates it on first start)",
                             std::filesystem::absolute(db_path, ec).string()));
  }
  // Created with its entry synced into the parent, so that a power cut cannot
  // take away what was acknowledged in it.
  BERTH_RETURN_IF_ERROR(create_directories_durably(config.data_dir));
  // Only berth's user may enter the data directory (files inside are 0600).
  std::filesystem::permissions(config.data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) return error(Code::kInternal, fmt::format("chmod {}: {}", config.data_dir, ec.message()));
  BERTH_ASSIGN_OR_RETURN(s.blobs, FsBlobStore::open_at(config.data_dir));
  BERTH_ASSIGN_OR_RETURN(s.meta, SqliteMetadataStore::open(db_path.string(), config.sync_full));
  BERTH_ASSIGN_OR_RETURN(s.identity_store, SqliteIdentityStore::open(s.meta->pool()));
  BERTH_ASSIGN_OR_RETURN(auto key, auth::load_or_create_key_file(secret_key_path(config)));
  identity::IdentityOptions io;
  io.region = config.region;
  io.default_account = config.account_id;
  io.token_ttl_seconds = config.token_ttl_seconds;
  BERTH_ASSIGN_OR_RETURN(s.identity, identity::IdentityService::open(*s.identity_store, key, Clock::system(), io));
  return s;
}

}  // namespace berth::app
