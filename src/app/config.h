// berth's configuration: defaults, then the YAML file, then command-line flags.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/usage_pricing.h"

namespace berth::app {

// A store chosen by configuration: a driver name and its parameters, as the
// YAML writes them (`metadata: {sqlite: {path: ...}}`). Empty parameters take
// their defaults from `data-dir` (see metadata_sqlite_path and
// storage_filesystem_root).
struct StoreConfig {
  std::string driver;
  std::map<std::string, std::string> params;
};

// The drivers berth has, with the parameters each takes.
struct StoreDriver {
  const char* name;
  std::vector<const char*> params;
};
const std::vector<StoreDriver>&
metadata_drivers();  // sqlite (path), postgres (dsn, max-connections, password-file)
const std::vector<StoreDriver>& storage_drivers();  // filesystem (root)

// One webhook of `events.webhooks` (README, "Events").
struct WebhookConfig {
  std::string name;
  std::string url;     // http://host[:port]/path
  std::string secret;  // the HMAC key, or read from secret_file
  std::string secret_file;
  std::vector<std::string> accounts;             // empty: all
  std::vector<std::string> repository_prefixes;  // empty: all
  std::vector<std::string> event_types;          // empty: all
};

struct Config {
  // Network.
  std::string listen = "127.0.0.1:5000";
  std::string public_url;  // how clients reach berth, e.g. https://registry.example.com
  std::string tls_cert;
  std::string tls_key;
  unsigned threads = 0;
  // Workers that run registry (store) calls beside the event loop; 0: max(4, 2 x cores).
  size_t offload_threads = 0;
  // A call no worker has started within this is answered 503 (never queued without bound).
  int64_t offload_deadline_seconds = 10;

  // Storage. `data-dir` holds the secret key and the admin files, and is
  // where the stores live unless `metadata` and `storage` say otherwise.
  std::string data_dir = "./berth-data";
  StoreConfig metadata{"sqlite", {}};
  StoreConfig storage{"filesystem", {}};
  bool sync_full = true;  // SQLite synchronous=FULL: every acknowledged write survives power loss
  std::string secret_key_file;  // seals access-key secrets; default <data-dir>/secret.key

  // Identity.
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  bool auth = true;  // false opens the registry to anyone
  // Create a repository on its first push instead of answering NAME_UNKNOWN
  // (ECR's behaviour, the default).
  bool create_on_push = false;
  int64_t token_ttl_seconds = 12 * 3600;  // registry tokens (docker login)

  // Background work.
  int64_t upload_ttl_seconds = 24 * 3600;
  int64_t lifecycle_interval_seconds = 3600;
  int64_t gc_interval_seconds = 3600;
  int64_t gc_grace_seconds = 3600;
  int64_t scrub_interval_seconds = 0;      // background scrub slices; 0: off
  uint64_t scrub_rate_bytes = 8ull << 20;  // bytes per second the background scrub reads
  uint64_t space_reserve_bytes = 32ull
                                 << 20;  // set aside for deletes and gc on a full disk; 0: none

  // Manifests: regular expressions for the `urls` a foreign layer may name
  // (Distribution's validation.manifests.urls.allow). Empty: none allowed.
  std::vector<std::string> manifest_urls_allow;

  // Limits.
  size_t max_concurrent_uploads = 256;
  size_t max_uploads_per_account = 64;  // of max_concurrent_uploads; 0: no per-account cap
  size_t max_uploads_per_key = 32;      // per access key; 0: no per-key cap
  size_t max_connections = 4096;        // lowered at start to what the open-file limit allows
  size_t max_connections_per_ip = 512;  // 0: no per-address cap
  size_t header_limit = 64 * 1024;
  int64_t header_timeout_seconds = 10;  // the whole request head
  int64_t idle_timeout_seconds = 60;
  int64_t io_timeout_seconds = 60;
  size_t max_body_memory =
      256 * 1024 * 1024;            // request bodies held in memory, all requests together
  uint64_t upload_min_rate = 1024;  // bytes/s over upload_rate_window; 0: none
  int64_t upload_rate_window_seconds = 30;

  std::string log_level = "info";

  // The audit trail (`audit: {log: ...}`, --audit-log): a file path,
  // "stderr" or "off"; empty: <data-dir>/audit.log.
  std::string audit_log;
  // Monitoring and the process's lifecycle (README, "Monitoring").
  std::string metrics_listen;  // HOST:PORT serving /metrics without authentication; empty: none
  size_t metrics_top_repositories =
      100;  // repositories with their own byte series; the rest are "_other"
  uint64_t ready_min_free_bytes = 64ull << 20;  // /readyz fails with less free space in data-dir
  int64_t drain_timeout_seconds = 30;  // SIGTERM: how long in-flight requests may take to finish

  // Push a CycloneDX SBOM referrer for every completed image scan
  // (`sbom: {generate: BOOL}`; README, "Image scanning").
  bool sbom_generate = true;

  // Webhooks that receive ECR-shaped events (`events: {webhooks: [...]}`).
  std::vector<WebhookConfig> webhooks;
  // How long an event stays in the outbox (`events: {retention: 7d}`) when it
  // is not delivered to every webhook; delivered to all, it goes sooner.
  int64_t event_retention_seconds = 7 * 86400;
  // A failing webhook is retried after `events.first-retry`, then twice as
  // long each time, at most `events.retry-cap`.
  int64_t webhook_first_retry_seconds = 1;
  int64_t webhook_retry_cap_seconds = 300;

  // Image scanning (`scan-lease`): how long a claimed scan stays leased
  // without renewal, i.e. how long a crashed node's scan waits before another
  // worker (or the restarted node) takes it over.
  int64_t scan_lease_seconds = 60;

  // Usage and the cost report (`usage: {...}`; README, "Usage and cost"):
  // how often storage is sampled, how long samples and transfer buckets are
  // kept, how often bytes out are flushed to the store, and the rates.
  int64_t usage_sample_interval_seconds = 3600;
  int64_t usage_retention_seconds = 400 * 86400;
  int64_t usage_flush_interval_seconds = 60;
  usage::Pricing usage_pricing;
};

// Reads a YAML file over `config`. Unknown keys are errors, so a typo in a
// setting is caught at start-up rather than silently ignored. Every error
// names the file and the key: `config FILE: key 'io-timeout': invalid ...`.
Status load_config_file(const std::string& path, Config& config);

// Splits "host:port" ("[v6]:port" too; the host may be a name, resolved when
// berth binds). kInvalidArgument when malformed, naming the whole value.
Status parse_listen(const std::string& listen, std::string& host, uint16_t& port);

// Parses durations like "90s", "15m", "1h", "2d" or plain seconds.
Result<int64_t> parse_duration(const std::string& text);

// Parses byte sizes like "4096", "512k", "32m", "2g" (binary units).
Result<uint64_t> parse_size(const std::string& text);

// The --data-dir flag: sets `data-dir` and puts both stores back into it (an
// explicit sqlite path or filesystem root from the file gives way to the flag).
void set_data_dir(Config& config, const std::string& dir);

// Where the sqlite metadata store keeps its database: `metadata.sqlite.path`,
// else <data-dir>/berth.db.
std::string metadata_sqlite_path(const Config& config);

// The postgres metadata driver's parameters, checked: `dsn` (required),
// `max-connections` (1 to 1000; default 16), `password-file` (optional).
// kInvalidArgument naming the key otherwise.
struct PostgresSettings {
  std::string dsn;
  size_t max_connections = 16;
  std::string password_file;
};
Result<PostgresSettings> metadata_postgres_settings(const Config& config);

// The filesystem blob store's root: `storage.filesystem.root`, else data-dir.
std::string storage_filesystem_root(const Config& config);

// Where the audit trail goes: `audit.log`, else <data-dir>/audit.log; "off"
// when it is off, "stderr" for standard error.
std::string audit_log_target(const Config& config);

// Checks values that flags and files cannot express in their types.
Status validate_config(const Config& config);

// How many connections a process allowed `open_files` descriptors can serve:
// each may hold a blob or upload file beside its socket, and a reserve stays
// for the database, the listener and the logs. At least 1.
size_t max_connections_for_fd_limit(uint64_t open_files);

}  // namespace berth::app
