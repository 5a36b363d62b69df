// berth's configuration: defaults, then the YAML file, then command-line flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::app {

struct Config {
  // Network.
  std::string listen = "127.0.0.1:5000";
  std::string public_url;  // how clients reach berth, e.g. https://registry.example.com
  std::string tls_cert;
  std::string tls_key;
  unsigned threads = 0;

  // Storage.
  std::string data_dir = "./berth-data";
  bool sync_full = true;  // SQLite synchronous=FULL: every acknowledged write survives power loss
  std::string secret_key_file;  // seals access-key secrets; default <data-dir>/secret.key

  // Identity.
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  bool auth = true;                       // false opens the registry to anyone
  int64_t token_ttl_seconds = 12 * 3600;  // registry tokens (docker login)

  // Background work.
  int64_t upload_ttl_seconds = 24 * 3600;
  int64_t lifecycle_interval_seconds = 3600;
  int64_t gc_interval_seconds = 3600;
  int64_t gc_grace_seconds = 3600;

  // Manifests: regular expressions for the `urls` a foreign layer may name
  // (Distribution's validation.manifests.urls.allow). Empty: none allowed.
  std::vector<std::string> manifest_urls_allow;

  // Limits.
  size_t max_concurrent_uploads = 256;
  size_t max_connections = 4096;
  size_t header_limit = 64 * 1024;
  int64_t idle_timeout_seconds = 60;
  int64_t io_timeout_seconds = 60;

  std::string log_level = "info";
};

// Reads a YAML file over `config`. Unknown keys are errors, so a typo in a
// setting is caught at start-up rather than silently ignored.
Status load_config_file(const std::string& path, Config& config);

// Splits "host:port" ("[v6]:port" too). kInvalidArgument when malformed.
Status parse_listen(const std::string& listen, std::string& host, uint16_t& port);

// Parses durations like "90s", "15m", "1h", "2d" or plain seconds.
Result<int64_t> parse_duration(const std::string& text);

// Checks values that flags and files cannot express in their types.
Status validate_config(const Config& config);

}  // namespace berth::app
