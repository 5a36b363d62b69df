#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
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
    case 's': unit = 1; num.remove_suffix(1); break;
    case 'm': unit = 60; num.remove_suffix(1); break;
    case 'h': unit = 3600; num.remove_suffix(1); break;
    case 'd': unit = 86400; num.remove_suffix(1); break;
    default: break;
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size() || v < 0 || v > INT64_MAX / unit) {
    return error(Code::kInvalidArgument, fmt::format("invalid duration '{}' (use e.g. 30s, 15m, 1h, 2d)", text));
  }
  return v * unit;
}

Status parse_listen(const std::string& listen, std::string& host, uint16_t& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return error(Code::kInvalidArgument, "listen must be HOST:PORT");
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  std::string p = listen.substr(colon + 1);
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || ptr != p.data() + p.size() || v > 65535) {
    return error(Code::kInvalidArgument, fmt::format("invalid port in '{}'", listen));
  }
  port = static_cast<uint16_t>(v);
  return Status::ok();
}

Status validate_config(const Config& c) {
  if (c.account_id.size() != 12 ||
      c.account_id.find_first_not_of("0123456789") != std::string::npos) {
    return error(Code::kInvalidArgument, "account-id must be twelve digits");
  }
  if (c.region.empty()) return error(Code::kInvalidArgument, "region must not be empty");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return error(Code::kInvalidArgument, "tls-cert and tls-key go together");
  }
  if (auto policy = ManifestUrlPolicy::compile(c.manifest_urls_allow); !policy) {
    return error(Code::kInvalidArgument, fmt::format("manifest-urls-allow: {}", policy.status().message()));
  }
  std::string host;
  uint16_t port = 0;
  return parse_listen(c.listen, host, port);
}

Status load_config_file(const std::string& path, Config& c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return error(Code::kInvalidArgument, fmt::format("config {}: {}", path, e.what()));
  }
  if (root.IsNull()) return Status::ok();
  if (!root.IsMap()) return error(Code::kInvalidArgument, fmt::format("config {}: expected a mapping", path));

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
  const std::map<std::string, Setter> setters = {
      {"listen", str(c.listen)},
      {"public-url", str(c.public_url)},
      {"tls-cert", str(c.tls_cert)},
      {"tls-key", str(c.tls_key)},
      {"threads", [&c](const YAML::Node& n) { c.threads = n.as<unsigned>(); return Status::ok(); }},
      {"data-dir", str(c.data_dir)},
      {"sync-full", boolean(c.sync_full)},
      {"secret-key-file", str(c.secret_key_file)},
      {"region", str(c.region)},
      {"account-id", str(c.account_id)},
      {"auth", boolean(c.auth)},
      {"token-ttl", duration(c.token_ttl_seconds)},
      {"upload-ttl", duration(c.upload_ttl_seconds)},
      {"lifecycle-interval", duration(c.lifecycle_interval_seconds)},
      {"gc-interval", duration(c.gc_interval_seconds)},
      {"gc-grace", duration(c.gc_grace_seconds)},
      {"max-concurrent-uploads", count(c.max_concurrent_uploads)},
      {"max-connections", count(c.max_connections)},
      {"header-limit", count(c.header_limit)},
      {"idle-timeout", duration(c.idle_timeout_seconds)},
      {"io-timeout", duration(c.io_timeout_seconds)},
      {"log-level", str(c.log_level)},
      {"manifest-urls-allow",
       [&c](const YAML::Node& n) {
         c.manifest_urls_allow = n.IsSequence() ? n.as<std::vector<std::string>>()
                                                : std::vector<std::string>{n.as<std::string>()};
         return Status::ok();
       }},
  };
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    auto it = setters.find(key);
    if (it == setters.end()) {
      return error(Code::kInvalidArgument, fmt::format("config {}: unknown setting '{}'", path, key));
    }
    try {
      BERTH_RETURN_IF_ERROR(it->second(kv.second));
    } catch (const YAML::Exception& e) {
      return error(Code::kInvalidArgument, fmt::format("config {}: setting '{}': {}", path, key, e.what()));
    }
  }
  return Status::ok();
}

}  // namespace berth::app
