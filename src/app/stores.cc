#include "app/stores.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "blob/fs/fs_blob_store.h"
#include "blob/s3/s3_blob_store.h"
#include "core/clock.h"
#include "meta/postgres/postgres_identity_store.h"
#include "meta/postgres/postgres_metadata_store.h"
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
  std::function<std::optional<uint64_t>()> generation;  // see Stores::metadata_generation
  std::function<Status()> check;                        // Stores::check_metadata
};
using MetadataFactory = std::function<Result<MetadataStores>(const Config&, OpenMode)>;

// A storage driver opens the blob store and says how readiness probes it.
struct BlobStores {
  std::unique_ptr<BlobStore> blobs;
  std::function<Status()> check;  // Stores::check_blobs
};
using BlobFactory = std::function<Result<BlobStores>(const Config&)>;

// How long /readyz waits for S3 to take (and delete) its probe object: a hung
// gateway must not hang /readyz.
constexpr std::chrono::milliseconds kS3ReadyTimeout{2000};

Status prepare_private_directory(const std::filesystem::path& dir) {
  // Created with its entry synced into the parent, so that a power cut cannot
  // take away what was acknowledged in it.
  BERTH_RETURN_IF_ERROR(create_directories_durably(dir.string()));
  // Only berth's user may enter it (files inside are 0600).
  std::error_code ec;
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) return error(Code::kInternal, fmt::format("chmod {}: {}", dir.string(), ec.message()));
  return Status::ok();
}

Result<MetadataStores> open_sqlite(const Config& config, OpenMode mode) {
  std::error_code ec;
  const std::filesystem::path db_path = metadata_sqlite_path(config);
  if (mode == OpenMode::kExisting && !std::filesystem::is_regular_file(db_path, ec)) {
    return error(Code::kNotFound, fmt::format("no berth database at {} (is --data-dir right? "
                                              "`berth serve` creates it on first start)",
                                              std::filesystem::absolute(db_path, ec).string()));
  }
  if (db_path.has_parent_path())
    BERTH_RETURN_IF_ERROR(prepare_private_directory(db_path.parent_path()));
  MetadataStores out;
  out.database = db_path.string();
  BERTH_ASSIGN_OR_RETURN(
      auto meta, SqliteMetadataStore::open(db_path.string(), config.sync_full, &out.migrated));
  BERTH_ASSIGN_OR_RETURN(out.identity, SqliteIdentityStore::open(meta->pool()));
  sqlite::Pool* pool = &meta->pool();
  out.check = [pool]() -> Status {
    auto lease = pool->acquire();
    if (!lease) return lease.take_status();
    BERTH_ASSIGN_OR_RETURN(int64_t version, sqlite_meta::schema_version(**lease));
    if (version != sqlite_meta::latest_schema_version()) {
      return error(Code::kFailedPrecondition,
                   fmt::format("schema version {}, this berth needs {}", version,
                               sqlite_meta::latest_schema_version()));
    }
    return Status::ok();
  };
  // Every commit through this process's pool moves the count; writes by an
  // operator command in another process do not (the manifest cache bounds
  // the age of what it serves for them).
  out.generation = [pool = &meta->pool()]() -> std::optional<uint64_t> { return pool->commits(); };
  out.meta = std::move(meta);
  return out;
}

// The password for PostgreSQL, when berth is given one: `password-file`
// (its first line), else BERTH_POSTGRES_PASSWORD. Empty: libpq's own sources
// (the DSN, PGPASSWORD, ~/.pgpass) apply. Never logged.
Result<std::string> postgres_password(const PostgresSettings& settings) {
  if (!settings.password_file.empty()) {
    std::ifstream in(settings.password_file);
    if (!in) {
      return error(
          Code::kInvalidArgument,
          fmt::format("metadata.postgres.password-file: cannot read {}", settings.password_file));
    }
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  const char* env = std::getenv("BERTH_POSTGRES_PASSWORD");
  return std::string(env != nullptr ? env : "");
}

Result<MetadataStores> open_postgres(const Config& config, OpenMode mode) {
  BERTH_ASSIGN_OR_RETURN(auto settings, metadata_postgres_settings(config));
  pg::Pool::Options opts;
  opts.dsn = settings.dsn;
  opts.max_connections = settings.max_connections;
  BERTH_ASSIGN_OR_RETURN(opts.password, postgres_password(settings));
  MetadataStores out;
  out.database = pg::redact_dsn(settings.dsn);
  if (mode == OpenMode::kExisting) {
    // The operator commands must not turn an empty database into a registry.
    BERTH_ASSIGN_OR_RETURN(auto probe, pg::Pool::open(opts));
    BERTH_ASSIGN_OR_RETURN(auto lease, probe->acquire());
    BERTH_ASSIGN_OR_RETURN(auto q,
                           lease->prepare("SELECT to_regclass('schema_version') IS NOT NULL"));
    BERTH_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row || q.text(0) != "t") {
      return error(Code::kNotFound,
                   fmt::format("no berth tables in the database {} (`berth serve` creates them on "
                               "first start)",
                               out.database));
    }
  }
  pg_meta::MigrationReport report;
  BERTH_ASSIGN_OR_RETURN(auto meta, PostgresMetadataStore::open(std::move(opts), &report));
  out.migrated = sqlite_meta::MigrationReport{report.from, report.to};
  BERTH_ASSIGN_OR_RETURN(out.identity, PostgresIdentityStore::open(meta->pool()));
  // Readiness: the database answers and its schema is this berth's version.
  out.check = [pool = &meta->pool()]() -> Status {
    BERTH_ASSIGN_OR_RETURN(auto lease, pool->acquire());
    BERTH_ASSIGN_OR_RETURN(const int64_t version, pg_meta::schema_version(*lease));
    if (version != pg_meta::latest_schema_version()) {
      return error(Code::kFailedPrecondition,
                   fmt::format("schema version {}, this berth needs {}", version,
                               pg_meta::latest_schema_version()));
    }
    return Status::ok();
  };
  out.meta = std::move(meta);
  return out;
}

Result<BlobStores> open_filesystem(const Config& config) {
  const std::filesystem::path root = storage_filesystem_root(config);
  BERTH_RETURN_IF_ERROR(prepare_private_directory(root));
  BERTH_ASSIGN_OR_RETURN(auto store, FsBlobStore::open_at(root));
  BlobStores out;
  out.blobs = std::move(store);
  // A small file created, written, synced and removed in the store's root.
  out.check = [probe = (root / ".ready-probe").string()]() -> Status {
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      return error(Code::kInternal, fmt::format("create {}: {}", probe, std::strerror(errno)));
    const bool ok = ::write(fd, "ok", 2) == 2 && ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    ::unlink(probe.c_str());
    if (!ok)
      return error(Code::kInternal, fmt::format("write {}: {}", probe, std::strerror(saved)));
    return Status::ok();
  };
  return out;
}

// `storage: {s3: {...}}`. Credentials from the config, else the environment
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), else `credentials-file` (the
// AWS shared-credentials format: aws_access_key_id / aws_secret_access_key
// lines, the [default] profile or the only one). Never logged.
Result<sigv4::SigningCredentials> s3_credentials(const std::map<std::string, std::string>& p) {
  auto get = [&p](const char* k) {
    auto it = p.find(k);
    return it == p.end() ? std::string() : it->second;
  };
  sigv4::SigningCredentials c{get("access-key-id"), get("secret-access-key")};
  if (c.access_key_id.empty() != c.secret_access_key.empty()) {
    return error(Code::kInvalidArgument,
                 "storage.s3: set both access-key-id and secret-access-key, or neither");
  }
  if (!c.access_key_id.empty()) return c;
  const char* env_id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* env_secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (env_id != nullptr && env_secret != nullptr && *env_id != '\0' && *env_secret != '\0') {
    return sigv4::SigningCredentials{env_id, env_secret};
  }
  const std::string file = get("credentials-file");
  if (file.empty()) {
    return error(
        Code::kInvalidArgument,
        "storage.s3: no credentials: set access-key-id/secret-access-key, AWS_ACCESS_KEY_ID/"
        "AWS_SECRET_ACCESS_KEY, or credentials-file");
  }
  std::ifstream in(file);
  if (!in)
    return error(Code::kInvalidArgument,
                 fmt::format("storage.s3.credentials-file {}: cannot read it", file));
  std::string line, profile;
  std::map<std::string, sigv4::SigningCredentials> profiles;
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      profile = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") profiles[profile].access_key_id = value;
    if (key == "aws_secret_access_key") profiles[profile].secret_access_key = value;
  }
  auto it = profiles.find("default");
  if (it == profiles.end() && profiles.size() == 1) it = profiles.begin();
  if (it == profiles.end() || it->second.access_key_id.empty() ||
      it->second.secret_access_key.empty()) {
    return error(Code::kInvalidArgument,
                 fmt::format("storage.s3.credentials-file {}: no [default] aws_access_key_id and "
                             "aws_secret_access_key",
                             file));
  }
  return it->second;
}

Result<BlobStores> open_s3(const Config& config) {
  const auto& p = config.storage.params;
  auto get = [&p](const char* k, const char* fallback) {
    auto it = p.find(k);
    return it == p.end() ? std::string(fallback) : it->second;
  };
  auto flag = [&](const char* k, bool fallback) -> Result<bool> {
    const std::string v = get(k, fallback ? "true" : "false");
    if (v == "true") return true;
    if (v == "false") return false;
    return error(Code::kInvalidArgument,
                 fmt::format("storage.s3.{}: expected true or false, not '{}'", k, v));
  };
  s3::S3StoreOptions o;
  o.client.endpoint = get("endpoint", "");
  if (o.client.endpoint.empty())
    return error(Code::kInvalidArgument, "storage.s3.endpoint is required");
  o.client.region = get("region", "us-east-1");
  o.client.bucket = get("bucket", "");
  o.client.ca_file = get("ca-file", "");
  BERTH_ASSIGN_OR_RETURN(o.client.path_style, flag("path-style", true));
  BERTH_ASSIGN_OR_RETURN(o.redirect, flag("redirect", false));
  BERTH_ASSIGN_OR_RETURN(o.client.credentials, s3_credentials(p));
  o.prefix = get("prefix", "");
  BERTH_ASSIGN_OR_RETURN(auto store, s3::S3BlobStore::open(std::move(o)));
  BlobStores out;
  out.check = [s3 = store.get()] { return s3->check_writable(kS3ReadyTimeout); };
  out.blobs = std::move(store);
  return out;
}

// One entry per driver in metadata_drivers() and storage_drivers().
const std::map<std::string, MetadataFactory>& metadata_factories() {
  static const std::map<std::string, MetadataFactory> f = {{"sqlite", open_sqlite},
                                                           {"postgres", open_postgres}};
  return f;
}

const std::map<std::string, BlobFactory>& blob_factories() {
  static const std::map<std::string, BlobFactory> f = {{"filesystem", open_filesystem},
                                                       {"s3", open_s3}};
  return f;
}

Result<MetadataStores> open_metadata(const Config& config, OpenMode mode) {
  auto it = metadata_factories().find(config.metadata.driver);
  if (it == metadata_factories().end()) {
    return error(Code::kInvalidArgument,
                 fmt::format("metadata: unknown driver '{}'", config.metadata.driver));
  }
  return it->second(config, mode);
}

}  // namespace

std::string secret_key_path(const Config& config) {
  if (!config.secret_key_file.empty()) return config.secret_key_file;
  return (std::filesystem::path(config.data_dir) / "secret.key").string();
}

Result<Config> operator_config(const std::string& config_file, const std::string& data_dir) {
  Config config;
  if (!config_file.empty()) BERTH_RETURN_IF_ERROR(load_config_file(config_file, config));
  if (!data_dir.empty()) set_data_dir(config, data_dir);
  return config;
}

Result<Stores> open_stores(const Config& config, OpenMode mode) {
  Stores s;
  auto blobs = blob_factories().find(config.storage.driver);
  if (blobs == blob_factories().end()) {
    return error(Code::kInvalidArgument,
                 fmt::format("storage: unknown driver '{}'", config.storage.driver));
  }
  // The metadata first: with kExisting a missing database must stop us
  // before anything is created.
  BERTH_ASSIGN_OR_RETURN(auto metadata, open_metadata(config, mode));
  BERTH_RETURN_IF_ERROR(prepare_private_directory(config.data_dir));
  BERTH_ASSIGN_OR_RETURN(auto opened, blobs->second(config));
  s.blobs = std::move(opened.blobs);
  s.check_blobs = std::move(opened.check);
  s.meta = std::move(metadata.meta);
  s.identity_store = std::move(metadata.identity);
  s.metadata_generation = std::move(metadata.generation);
  s.check_metadata = std::move(metadata.check);
  BERTH_ASSIGN_OR_RETURN(auto key, auth::load_or_create_key_file(secret_key_path(config)));
  identity::IdentityOptions io;
  io.region = config.region;
  io.default_account = config.account_id;
  io.token_ttl_seconds = config.token_ttl_seconds;
  BERTH_ASSIGN_OR_RETURN(
      s.identity, identity::IdentityService::open(*s.identity_store, key, Clock::system(), io));
  return s;
}

Result<MigrateResult> migrate_metadata(const Config& config) {
  BERTH_ASSIGN_OR_RETURN(auto metadata, open_metadata(config, OpenMode::kExisting));
  return MigrateResult{metadata.database, metadata.migrated.from, metadata.migrated.to};
}

}  // namespace berth::app
