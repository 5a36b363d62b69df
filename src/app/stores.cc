#include "app/stores.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/clock.h"

namespace berth::app {

std::string secret_key_path(const Config& config) {
  if (!config.secret_key_file.empty()) return config.secret_key_file;
  return (std::filesystem::path(config.data_dir) / "secret.key").string();
}

Result<Stores> open_stores(const Config& config) {
  Stores s;
  BERTH_RETURN_IF_ERROR(create_directories_durably(config.data_dir));
  std::error_code ec;
  std::filesystem::permissions(config.data_dir, std::filesystem::perms::others_all,
                               std::filesystem::perm_options::remove, ec);
  BERTH_ASSIGN_OR_RETURN(s.blobs, FsBlobStore::open_at(config.data_dir));
  BERTH_ASSIGN_OR_RETURN(s.meta, SqliteMetadataStore::open(
                                     (std::filesystem::path(config.data_dir) / "berth.db").string(),
                                     config.sync_full));
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
