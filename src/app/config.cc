#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "core/manifest.h"

namespace berth::app {

Result<int64_t> parse_duration(const std::string& text) {
  if (text.empty()) return error(Code::kInvalidArgument, "empty duration");
  int64_t unit = 1;
  std::string_view num = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      num.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      num.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      num.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      num.remove_suffix(1);
      break;
    default:
      break;
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size() || v < 0 || v > INT64_MAX / unit) {
    return error(Code::kInvalidArgument,
                 fmt::format("invalid duration '{}' (use e.g. 30s, 15m, 1h, 2d)", text));
  }
  return v * unit;
}

Result<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return error(Code::kInvalidArgument, "empty size");
  uint64_t unit = 1;
  std::string_view num = text;
  switch (text.back()) {
    case 'k':
    case 'K':
      unit = 1ull << 10;
      num.remove_suffix(1);
      break;
    case 'm':
    case 'M':
      unit = 1ull << 20;
      num.remove_suffix(1);
      break;
    case 'g':
    case 'G':
      unit = 1ull << 30;
      num.remove_suffix(1);
      break;
    default:
      break;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size() || v > UINT64_MAX / unit) {
    return error(Code::kInvalidArgument,
                 fmt::format("invalid size '{}' (use e.g. 4096, 512k, 32m, 2g)", text));
  }
  return v * unit;
}

Status parse_listen(const std::string& listen, std::string& host, uint16_t& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return error(Code::kInvalidArgument,
                 fmt::format("listen address '{}' must be HOST:PORT", listen));
  }
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return error(
        Code::kInvalidArgument,
        fmt::format("listen address '{}': write an IPv6 address in brackets, e.g. [::1]:5000",
                    listen));
  }
  if (host.empty()) host = "0.0.0.0";
  std::string p = listen.substr(colon + 1);
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || ptr != p.data() + p.size() || v > 65535) {
    return error(Code::kInvalidArgument, fmt::format("listen address '{}': invalid port", listen));
  }
  port = static_cast<uint16_t>(v);
  return Status::ok();
}

const std::vector<StoreDriver>& metadata_drivers() {
  static const std::vector<StoreDriver> drivers = {
      {"sqlite", {"path"}}, {"postgres", {"dsn", "max-connections", "password-file"}}};
  return drivers;
}

const std::vector<StoreDriver>& storage_drivers() {
  static const std::vector<StoreDriver> drivers = {
      {"filesystem", {"root"}},
      // README "S3 storage"; opened by app/stores.cc.
      {"s3",
       {"endpoint", "region", "bucket", "prefix", "access-key-id", "secret-access-key",
        "credentials-file", "path-style", "redirect", "ca-file"}}};
  return drivers;
}

void set_data_dir(Config& config, const std::string& dir) {
  config.data_dir = dir;
  if (config.metadata.driver == "sqlite") config.metadata.params.erase("path");
  if (config.storage.driver == "filesystem") config.storage.params.erase("root");
}

std::string metadata_sqlite_path(const Config& config) {
  auto it = config.metadata.params.find("path");
  if (it != config.metadata.params.end()) return it->second;
  return config.data_dir + "/berth.db";
}

Result<PostgresSettings> metadata_postgres_settings(const Config& config) {
  PostgresSettings out;
  const auto& p = config.metadata.params;
  auto dsn = p.find("dsn");
  if (dsn == p.end()) return error(Code::kInvalidArgument, "metadata.postgres.dsn: required");
  out.dsn = dsn->second;
  if (auto n = p.find("max-connections"); n != p.end()) {
    const std::string& v = n->second;
    size_t parsed = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
    if (ec != std::errc() || ptr != v.data() + v.size() || parsed < 1 || parsed > 1000) {
      return error(
          Code::kInvalidArgument,
          fmt::format("metadata.postgres.max-connections: '{}' is not a number from 1 to 1000", v));
    }
    out.max_connections = parsed;
  }
  if (auto f = p.find("password-file"); f != p.end()) out.password_file = f->second;
  return out;
}

std::string storage_filesystem_root(const Config& config) {
  auto it = config.storage.params.find("root");
  if (it != config.storage.params.end()) return it->second;
  return config.data_dir;
}

std::string audit_log_target(const Config& config) {
  if (!config.audit_log.empty()) return config.audit_log;
  return config.data_dir + "/audit.log";
}

namespace {

// Reads `audit: {log: PATH | stderr | off}`.
Status read_audit_section(const YAML::Node& n, Config& c) {
  if (!n.IsMap())
    return error(Code::kInvalidArgument,
                 "expected a mapping, e.g. audit: {log: /var/log/berth-audit.log}");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key != "log")
      return error(Code::kInvalidArgument, fmt::format("audit.{}: unknown parameter", key));
    const std::string value = kv.second.as<std::string>();
    if (value.empty()) return error(Code::kInvalidArgument, "audit.log: must not be empty");
    c.audit_log = value;
  }
  return Status::ok();
}

// Reads `sbom: {generate: BOOL}`.
Status read_sbom_section(const YAML::Node& n, Config& c) {
  if (!n.IsMap())
    return error(Code::kInvalidArgument, "expected a mapping, e.g. sbom: {generate: false}");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key != "generate")
      return error(Code::kInvalidArgument, fmt::format("sbom.{}: unknown parameter", key));
    c.sbom_generate = kv.second.as<bool>();
  }
  return Status::ok();
}

// A non-negative amount of USD as micro-dollars.
Result<int64_t> usd_micros(const YAML::Node& n, const std::string& key) {
  const double usd = n.as<double>();
  if (!(usd >= 0) || usd > 1e6)
    return error(Code::kInvalidArgument, fmt::format("{}: expected USD, e.g. 0.10", key));
  return static_cast<int64_t>(std::llround(usd * usage::kMicrosPerUsd));
}

// Reads `usage.pricing: {storage-gb-month: USD, free-transfer-gb: GB,
// transfer-out-tiers: [{up-to-gb: GB, usd-per-gb: USD}, ..., {usd-per-gb: USD}]}`.
Status read_usage_pricing(const YAML::Node& n, usage::Pricing& p) {
  if (!n.IsMap())
    return error(Code::kInvalidArgument,
                 "usage.pricing: expected a mapping, e.g. {storage-gb-month: 0.10}");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key == "storage-gb-month") {
      BERTH_ASSIGN_OR_RETURN(p.storage_micros_per_gib_month,
                             usd_micros(kv.second, "usage.pricing.storage-gb-month"));
    } else if (key == "free-transfer-gb") {
      const double gb = kv.second.as<double>();
      if (!(gb >= 0) || gb > 1e9)
        return error(Code::kInvalidArgument, "usage.pricing.free-transfer-gb: expected GB, e.g. 1");
      p.free_transfer_bytes = static_cast<int64_t>(std::llround(gb * usage::kBytesPerGiB));
    } else if (key == "transfer-out-tiers") {
      if (!kv.second.IsSequence())
        return error(Code::kInvalidArgument, "usage.pricing.transfer-out-tiers: expected a list");
      std::vector<usage::TransferTier> tiers;
      for (const auto& t : kv.second) {
        if (!t.IsMap())
          return error(Code::kInvalidArgument,
                       "usage.pricing.transfer-out-tiers: each tier is {up-to-gb, usd-per-gb}");
        usage::TransferTier tier;
        bool priced = false;
        for (const auto& f : t) {
          const std::string field = f.first.as<std::string>();
          if (field == "up-to-gb") {
            tier.up_to_gib = f.second.as<int64_t>();
            if (tier.up_to_gib <= 0 || tier.up_to_gib > (int64_t{1} << 32))
              return error(Code::kInvalidArgument,
                           "usage.pricing.transfer-out-tiers: up-to-gb must be a positive GB");
          } else if (field == "usd-per-gb") {
            BERTH_ASSIGN_OR_RETURN(tier.micros_per_gib,
                                   usd_micros(f.second, "usage.pricing.transfer-out-tiers"));
            priced = true;
          } else {
            return error(
                Code::kInvalidArgument,
                fmt::format("usage.pricing.transfer-out-tiers.{}: unknown parameter", field));
          }
        }
        if (!priced)
          return error(Code::kInvalidArgument,
                       "usage.pricing.transfer-out-tiers: every tier needs usd-per-gb");
        tiers.push_back(tier);
      }
      p.transfer_tiers = std::move(tiers);
    } else {
      return error(Code::kInvalidArgument, fmt::format("usage.pricing.{}: unknown parameter", key));
    }
  }
  if (Status s = p.validate(); !s.is_ok())
    return error(Code::kInvalidArgument, "usage.pricing: " + s.message());
  return Status::ok();
}

// Reads `usage: {sample-interval: DURATION, retention: DURATION,
// flush-interval: DURATION, pricing: {...}}`.
Status read_usage_section(const YAML::Node& n, Config& c) {
  if (!n.IsMap())
    return error(Code::kInvalidArgument, "expected a mapping, e.g. usage: {sample-interval: 1h}");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key == "pricing") {
      BERTH_RETURN_IF_ERROR(read_usage_pricing(kv.second, c.usage_pricing));
      continue;
    }
    int64_t* target = key == "sample-interval"  ? &c.usage_sample_interval_seconds
                      : key == "retention"      ? &c.usage_retention_seconds
                      : key == "flush-interval" ? &c.usage_flush_interval_seconds
                                                : nullptr;
    if (target == nullptr)
      return error(Code::kInvalidArgument, fmt::format("usage.{}: unknown parameter", key));
    auto seconds = parse_duration(kv.second.as<std::string>());
    if (!seconds || *seconds <= 0) {
      return error(Code::kInvalidArgument,
                   fmt::format("usage.{}: expected a positive duration, e.g. 1h", key));
    }
    *target = *seconds;
  }
  return Status::ok();
}

// Reads `events: {retention: DURATION, first-retry: DURATION, retry-cap:
// DURATION, webhooks: [{name, url, secret | secret-file, accounts,
// repository-prefixes, event-types}, ...]}`.
Status read_events_section(const YAML::Node& n, Config& c) {
  if (!n.IsMap())
    return error(Code::kInvalidArgument, "expected a mapping, e.g. events: {webhooks: [...]}");
  auto list = [](const YAML::Node& v) {
    return v.IsSequence() ? v.as<std::vector<std::string>>()
                          : std::vector<std::string>{v.as<std::string>()};
  };
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key == "retention") {
      auto seconds = parse_duration(kv.second.as<std::string>());
      if (!seconds || *seconds <= 0) {
        return error(Code::kInvalidArgument,
                     fmt::format("events.retention: expected a positive duration, e.g. 7d{}",
                                 seconds ? "" : fmt::format(" ({})", seconds.status().message())));
      }
      c.event_retention_seconds = *seconds;
      continue;
    }
    if (key == "first-retry" || key == "retry-cap") {
      auto seconds = parse_duration(kv.second.as<std::string>());
      if (!seconds || *seconds <= 0) {
        return error(Code::kInvalidArgument,
                     fmt::format("events.{}: expected a positive duration, e.g. 30s", key));
      }
      (key == "first-retry" ? c.webhook_first_retry_seconds : c.webhook_retry_cap_seconds) =
          *seconds;
      continue;
    }
    if (key != "webhooks")
      return error(Code::kInvalidArgument, fmt::format("events.{}: unknown parameter", key));
    if (!kv.second.IsSequence())
      return error(Code::kInvalidArgument, "events.webhooks: expected a list");
    std::vector<WebhookConfig> hooks;
    for (const auto& h : kv.second) {
      if (!h.IsMap())
        return error(Code::kInvalidArgument, "events.webhooks: each webhook is a mapping");
      WebhookConfig w;
      for (const auto& f : h) {
        const std::string field = f.first.as<std::string>();
        if (field == "name")
          w.name = f.second.as<std::string>();
        else if (field == "url")
          w.url = f.second.as<std::string>();
        else if (field == "secret")
          w.secret = f.second.as<std::string>();
        else if (field == "secret-file")
          w.secret_file = f.second.as<std::string>();
        else if (field == "accounts")
          w.accounts = list(f.second);
        else if (field == "repository-prefixes")
          w.repository_prefixes = list(f.second);
        else if (field == "event-types")
          w.event_types = list(f.second);
        else
          return error(Code::kInvalidArgument,
                       fmt::format("events.webhooks.{}: unknown parameter", field));
      }
      if (w.name.empty() || w.url.empty()) {
        return error(Code::kInvalidArgument,
                     "events.webhooks: every webhook needs a name and a url");
      }
      if (w.secret.empty() == w.secret_file.empty()) {
        return error(
            Code::kInvalidArgument,
            fmt::format("events.webhooks.{}: give exactly one of secret and secret-file", w.name));
      }
      for (const auto& other : hooks) {
        if (other.name == w.name) {
          return error(Code::kInvalidArgument,
                       fmt::format("events.webhooks: the name '{}' is used twice", w.name));
        }
      }
      hooks.push_back(std::move(w));
    }
    c.webhooks = std::move(hooks);
  }
  return Status::ok();
}

std::string driver_names(const std::vector<StoreDriver>& drivers) {
  std::string out;
  for (const auto& d : drivers) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

// Reads `section: {DRIVER: {param: value, ...}}`: exactly one driver, known,
// with parameters it takes. Errors name the key path, e.g. `metadata.postgres`.
Status read_store_section(const std::string& section, const YAML::Node& n,
                          const std::vector<StoreDriver>& drivers, StoreConfig& out) {
  if (!n.IsMap() || n.size() != 1) {
    return error(Code::kInvalidArgument,
                 fmt::format("expected one driver, e.g. {}: {{{}: {{...}}}}", section,
                             drivers.front().name));
  }
  std::string name;
  YAML::Node params;
  for (const auto& kv : n) {  // exactly one entry
    name = kv.first.as<std::string>();
    params = kv.second;
  }
  auto driver = std::find_if(drivers.begin(), drivers.end(),
                             [&](const StoreDriver& d) { return name == d.name; });
  if (driver == drivers.end()) {
    return error(Code::kInvalidArgument,
                 fmt::format("{}.{}: unknown {} driver '{}' (known: {})", section, name, section,
                             name, driver_names(drivers)));
  }
  StoreConfig parsed{name, {}};
  if (!params.IsNull()) {
    if (!params.IsMap())
      return error(Code::kInvalidArgument, fmt::format("{}.{}: expected a mapping", section, name));
    for (const auto& kv : params) {
      const std::string key = kv.first.as<std::string>();
      if (std::find_if(driver->params.begin(), driver->params.end(),
                       [&](const char* p) { return key == p; }) == driver->params.end()) {
        return error(Code::kInvalidArgument,
                     fmt::format("{}.{}.{}: unknown parameter", section, name, key));
      }
      const std::string value = kv.second.as<std::string>();
      if (value.empty()) {
        return error(Code::kInvalidArgument,
                     fmt::format("{}.{}.{}: must not be empty", section, name, key));
      }
      parsed.params[key] = value;
    }
  }
  out = std::move(parsed);
  return Status::ok();
}

}  // namespace

Status validate_config(const Config& c) {
  if (c.account_id.size() != 12 ||
      c.account_id.find_first_not_of("0123456789") != std::string::npos) {
    return error(Code::kInvalidArgument, "account-id must be twelve digits");
  }
  if (c.region.empty()) return error(Code::kInvalidArgument, "region must not be empty");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return error(Code::kInvalidArgument, "tls-cert and tls-key go together");
  }
  if (c.header_timeout_seconds <= 0)
    return error(Code::kInvalidArgument, "header-timeout must be at least 1s");
  if (c.upload_min_rate > 0 && c.upload_rate_window_seconds <= 0) {
    return error(Code::kInvalidArgument, "upload-rate-window must be at least 1s");
  }
  if (c.upload_min_rate >
      UINT64_MAX / 2 / static_cast<uint64_t>(std::max<int64_t>(1, c.upload_rate_window_seconds))) {
    return error(Code::kInvalidArgument, "upload-min-rate is too large");
  }
  if (c.metadata.driver == "postgres")
    BERTH_RETURN_IF_ERROR(metadata_postgres_settings(c).status());
  if (auto policy = ManifestUrlPolicy::compile(c.manifest_urls_allow); !policy) {
    return error(Code::kInvalidArgument,
                 fmt::format("manifest-urls-allow: {}", policy.status().message()));
  }
  if (c.scan_lease_seconds < 1 || c.scan_lease_seconds > 24 * 3600)
    return error(Code::kInvalidArgument, "scan-lease must be between 1s and 1d");
  std::string host;
  uint16_t port = 0;
  return parse_listen(c.listen, host, port);
}

size_t max_connections_for_fd_limit(uint64_t open_files) {
  constexpr uint64_t kReserve = 64;  // database, WAL, listener, epoll, logs, admin files
  if (open_files <= kReserve + 2) return 1;
  return static_cast<size_t>(std::min<uint64_t>((open_files - kReserve) / 2, SIZE_MAX));
}

Status load_config_file(const std::string& path, Config& c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return error(Code::kInvalidArgument, fmt::format("config {}: {}", path, e.what()));
  }
  if (root.IsNull()) return Status::ok();
  if (!root.IsMap())
    return error(Code::kInvalidArgument, fmt::format("config {}: expected a mapping", path));

  using Setter = std::function<Status(const YAML::Node&)>;
  auto str = [](std::string& field) -> Setter {
    return [&field](const YAML::Node& n) {
      field = n.as<std::string>();
      return Status::ok();
    };
  };
  auto boolean = [](bool& field) -> Setter {
    return [&field](const YAML::Node& n) {
      field = n.as<bool>();
      return Status::ok();
    };
  };
  auto count = [](size_t& field) -> Setter {
    return [&field](const YAML::Node& n) {
      field = n.as<size_t>();
      return Status::ok();
    };
  };
  auto duration = [](int64_t& field) -> Setter {
    return [&field](const YAML::Node& n) -> Status {
      BERTH_ASSIGN_OR_RETURN(field, parse_duration(n.as<std::string>()));
      return Status::ok();
    };
  };
  auto size = [](uint64_t& field) -> Setter {
    return [&field](const YAML::Node& n) -> Status {
      BERTH_ASSIGN_OR_RETURN(field, parse_size(n.as<std::string>()));
      return Status::ok();
    };
  };
  const std::map<std::string, Setter> setters = {
      {"listen", str(c.listen)},
      {"public-url", str(c.public_url)},
      {"tls-cert", str(c.tls_cert)},
      {"tls-key", str(c.tls_key)},
      {"threads",
       [&c](const YAML::Node& n) {
         c.threads = n.as<unsigned>();
         return Status::ok();
       }},
      {"data-dir", str(c.data_dir)},
      {"metadata",
       [&c](const YAML::Node& n) {
         return read_store_section("metadata", n, metadata_drivers(), c.metadata);
       }},
      {"storage",
       [&c](const YAML::Node& n) {
         return read_store_section("storage", n, storage_drivers(), c.storage);
       }},
      {"sync-full", boolean(c.sync_full)},
      {"secret-key-file", str(c.secret_key_file)},
      {"region", str(c.region)},
      {"account-id", str(c.account_id)},
      {"auth", boolean(c.auth)},
      {"create-on-push", boolean(c.create_on_push)},
      {"token-ttl", duration(c.token_ttl_seconds)},
      {"upload-ttl", duration(c.upload_ttl_seconds)},
      {"lifecycle-interval", duration(c.lifecycle_interval_seconds)},
      {"gc-interval", duration(c.gc_interval_seconds)},
      {"gc-grace", duration(c.gc_grace_seconds)},
      {"scrub-interval", duration(c.scrub_interval_seconds)},
      {"scrub-rate", size(c.scrub_rate_bytes)},
      {"space-reserve", size(c.space_reserve_bytes)},
      {"max-concurrent-uploads", count(c.max_concurrent_uploads)},
      {"max-uploads-per-account", count(c.max_uploads_per_account)},
      {"max-uploads-per-key", count(c.max_uploads_per_key)},
      {"max-connections", count(c.max_connections)},
      {"max-connections-per-ip", count(c.max_connections_per_ip)},
      {"header-limit", count(c.header_limit)},
      {"header-timeout", duration(c.header_timeout_seconds)},
      {"idle-timeout", duration(c.idle_timeout_seconds)},
      {"io-timeout", duration(c.io_timeout_seconds)},
      {"offload-threads", count(c.offload_threads)},
      {"offload-deadline", duration(c.offload_deadline_seconds)},
      {"max-body-memory", count(c.max_body_memory)},
      {"upload-min-rate",
       [&c](const YAML::Node& n) {
         c.upload_min_rate = n.as<uint64_t>();
         return Status::ok();
       }},
      {"upload-rate-window", duration(c.upload_rate_window_seconds)},
      {"log-level", str(c.log_level)},
      {"audit", [&c](const YAML::Node& n) { return read_audit_section(n, c); }},
      {"metrics-listen", str(c.metrics_listen)},
      {"metrics-top-repositories", count(c.metrics_top_repositories)},
      {"ready-min-free", size(c.ready_min_free_bytes)},
      {"drain-timeout", duration(c.drain_timeout_seconds)},
      {"events", [&c](const YAML::Node& n) { return read_events_section(n, c); }},
      {"scan-lease", duration(c.scan_lease_seconds)},
      {"sbom", [&c](const YAML::Node& n) { return read_sbom_section(n, c); }},
      {"usage", [&c](const YAML::Node& n) { return read_usage_section(n, c); }},
      {"manifest-urls-allow",
       [&c](const YAML::Node& n) {
         c.manifest_urls_allow = n.IsSequence() ? n.as<std::vector<std::string>>()
                                                : std::vector<std::string>{n.as<std::string>()};
         return Status::ok();
       }},
  };
  for (const auto& kv : root) {
    // A sequence, mapping or null as a key would make as<std::string>() throw.
    if (!kv.first.IsScalar()) {
      return error(Code::kInvalidArgument,
                   fmt::format("config {}: a key must be a plain name", path));
    }
    std::string key = kv.first.Scalar();
    auto it = setters.find(key);
    if (it == setters.end()) {
      return error(Code::kInvalidArgument, fmt::format("config {}: unknown key '{}'", path, key));
    }
    Status st;
    try {
      st = it->second(kv.second);
    } catch (const YAML::Exception& e) {
      st = error(Code::kInvalidArgument, e.what());
    }
    if (!st.is_ok()) {
      return error(Code::kInvalidArgument,
                   fmt::format("config {}: key '{}': {}", path, key, st.message()));
    }
  }
  return Status::ok();
}

}  // namespace berth::app
