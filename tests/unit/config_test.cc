#include "app/config.h"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace berth::app {
namespace {

// --- parse_size ----------------------------------------------------------------

TEST(ParseSizeTest, UnitsAndErrors) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("512k"), 512u << 10);
  EXPECT_EQ(*parse_size("32m"), 32u << 20);
  EXPECT_EQ(*parse_size("2G"), 2ull << 30);
  EXPECT_EQ(*parse_size("0"), 0u);
  for (const char* bad : {"", "m", "-1", "1.5m", "12x", "99999999999999g"}) {
    EXPECT_EQ(parse_size(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

// --- parse_duration ------------------------------------------------------------

int64_t duration_ok(const std::string& text) {
  Result<int64_t> r = parse_duration(text);
  EXPECT_TRUE(r.is_ok()) << "'" << text << "': " << r.status().to_string();
  return r.is_ok() ? *r : -1;
}

void expect_duration_invalid(const std::string& text) {
  Result<int64_t> r = parse_duration(text);
  ASSERT_FALSE(r.is_ok()) << "accepted '" << text << "' as " << *r;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << text;
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(duration_ok("90s"), 90);
  EXPECT_EQ(duration_ok("15m"), 15 * 60);
  EXPECT_EQ(duration_ok("1h"), 3600);
  EXPECT_EQ(duration_ok("36h"), 36 * 3600);
  EXPECT_EQ(duration_ok("2d"), 2 * 86400);
  EXPECT_EQ(duration_ok("0s"), 0);
}

TEST(ParseDurationTest, PlainSeconds) {
  EXPECT_EQ(duration_ok("45"), 45);
  EXPECT_EQ(duration_ok("0"), 0);
  EXPECT_EQ(duration_ok("86400"), 86400);
}

TEST(ParseDurationTest, Malformed) {
  for (const char* bad : {"", "s", "h", "-5s", "-1", "1.5h", "1w", "1y", "5 s", " 5s", "5s ",
                          "1h30m", "+5s", "abc", "5ms", "0x10", "1S", "1H"}) {
    expect_duration_invalid(bad);
  }
}

TEST(ParseDurationTest, NumbersTooLargeForInt64AreInvalid) {
  expect_duration_invalid("9223372036854775808");
  expect_duration_invalid("99999999999999999999s");
}

// Regression: parse_duration used to multiply by the unit without an
// overflow check, so a number that fits int64 only before the multiplication
// (signed overflow, undefined behaviour) came back as a wrapped, possibly
// negative, duration instead of kInvalidArgument.
TEST(ParseDurationTest, OverflowAfterApplyingTheUnitIsInvalid) {
  expect_duration_invalid("9223372036854775807d");
  expect_duration_invalid("200000000000000d");  // 2e14 * 86400 > INT64_MAX
  expect_duration_invalid("3000000000000000h");
}

// --- parse_listen ------------------------------------------------------------------

TEST(ParseListenTest, HostAndPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parse_listen("127.0.0.1:5000", host, port).is_ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 5000);

  ASSERT_TRUE(parse_listen("registry.local:443", host, port).is_ok());
  EXPECT_EQ(host, "registry.local");
  EXPECT_EQ(port, 443);

  ASSERT_TRUE(parse_listen("0.0.0.0:65535", host, port).is_ok());
  EXPECT_EQ(port, 65535);
}

TEST(ParseListenTest, EmptyHostMeansAllInterfaces) {
  std::string host = "unchanged";
  uint16_t port = 0;
  ASSERT_TRUE(parse_listen(":8080", host, port).is_ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 8080);
}

TEST(ParseListenTest, BracketedIpv6) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parse_listen("[::1]:5000", host, port).is_ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 5000);
  ASSERT_TRUE(parse_listen("[fe80::1%eth0]:6000", host, port).is_ok());
  EXPECT_EQ(host, "fe80::1%eth0");
  EXPECT_EQ(port, 6000);
}

TEST(ParseListenTest, HostNamesAreKeptForResolution) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parse_listen("localhost:5239", host, port).is_ok());
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 5239);
}

TEST(ParseListenTest, ErrorsShowTheWholeAddress) {
  std::string host;
  uint16_t port = 0;
  Status s = parse_listen("localhost:70000", host, port);
  EXPECT_NE(s.message().find("'localhost:70000'"), std::string::npos) << s.message();
  Status v6 = parse_listen("::1:5000", host, port);
  EXPECT_FALSE(v6.is_ok());
  EXPECT_NE(v6.message().find("[::1]:5000"), std::string::npos) << v6.message();
}

TEST(ParseListenTest, Malformed) {
  for (const char* bad : {"", "localhost", "5000", "host:", "host:65536", "host:-1", "host:http",
                          "host:50 00", "host:5000x", "[::1]", "host:99999999999"}) {
    std::string host;
    uint16_t port = 0;
    Status s = parse_listen(bad, host, port);
    EXPECT_FALSE(s.is_ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
  }
}

// --- validate_config -------------------------------------------------------------------

TEST(ValidateConfigTest, DefaultsAreValid) {
  Status s = validate_config(Config{});
  EXPECT_TRUE(s.is_ok()) << s.to_string();
}

TEST(ValidateConfigTest, AccountIdIsTwelveDigits) {
  for (const char* bad :
       {"", "12345678901", "1234567890123", "12345678901a", "-12345678901", "123456 78901"}) {
    Config c;
    c.account_id = bad;
    Status s = validate_config(c);
    EXPECT_FALSE(s.is_ok()) << "accepted account '" << bad << "'";
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
  }
  Config ok;
  ok.account_id = "123456789012";
  EXPECT_TRUE(validate_config(ok).is_ok());
}

TEST(ValidateConfigTest, RegionIsRequired) {
  Config c;
  c.region = "";
  EXPECT_EQ(validate_config(c).code(), Code::kInvalidArgument);
}

TEST(ValidateConfigTest, TlsCertAndKeyGoTogether) {
  Config cert_only;
  cert_only.tls_cert = "/etc/berth/cert.pem";
  EXPECT_EQ(validate_config(cert_only).code(), Code::kInvalidArgument);
  Config key_only;
  key_only.tls_key = "/etc/berth/key.pem";
  EXPECT_EQ(validate_config(key_only).code(), Code::kInvalidArgument);
  Config both;
  both.tls_cert = "/etc/berth/cert.pem";
  both.tls_key = "/etc/berth/key.pem";
  EXPECT_TRUE(validate_config(both).is_ok());
}

TEST(ValidateConfigTest, ListenMustParse) {
  Config c;
  c.listen = "no-port";
  EXPECT_EQ(validate_config(c).code(), Code::kInvalidArgument);
  c.listen = "[::]:5000";
  EXPECT_TRUE(validate_config(c).is_ok());
}

// --- load_config_file -------------------------------------------------------------------

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string write(const std::string& yaml) {
    std::string path = (dir_ / "berth.yaml").string();
    std::ofstream(path, std::ios::trunc) << yaml;
    return path;
  }

  Status load(const std::string& yaml, Config& c) { return load_config_file(write(yaml), c); }

  std::filesystem::path dir_;
};

TEST_F(ConfigFileTest, EveryKnownKey) {
  Config c;
  Status s = load(R"(
listen: "0.0.0.0:8443"
public-url: https://registry.example.com
tls-cert: /etc/berth/cert.pem
tls-key: /etc/berth/key.pem
threads: 4
data-dir: /var/lib/berth
sync-full: false
secret-key-file: /etc/berth/secret.key
region: eu-west-1
account-id: "123456789012"
auth: false
create-on-push: true
token-ttl: 2h
upload-ttl: 3d
lifecycle-interval: 30m
gc-interval: 45m
gc-grace: 90s
max-concurrent-uploads: 16
max-connections: 100
header-limit: 32768
idle-timeout: 120
io-timeout: 1m
log-level: debug
)",
                  c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(c.listen, "0.0.0.0:8443");
  EXPECT_EQ(c.public_url, "https://registry.example.com");
  EXPECT_EQ(c.tls_cert, "/etc/berth/cert.pem");
  EXPECT_EQ(c.tls_key, "/etc/berth/key.pem");
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.data_dir, "/var/lib/berth");
  EXPECT_FALSE(c.sync_full);
  EXPECT_EQ(c.secret_key_file, "/etc/berth/secret.key");
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.account_id, "123456789012");
  EXPECT_FALSE(c.auth);
  EXPECT_TRUE(c.create_on_push);
  EXPECT_EQ(c.token_ttl_seconds, 2 * 3600);
  EXPECT_EQ(c.upload_ttl_seconds, 3 * 86400);
  EXPECT_EQ(c.lifecycle_interval_seconds, 30 * 60);
  EXPECT_EQ(c.gc_interval_seconds, 45 * 60);
  EXPECT_EQ(c.gc_grace_seconds, 90);
  EXPECT_EQ(c.max_concurrent_uploads, 16u);
  EXPECT_EQ(c.max_connections, 100u);
  EXPECT_EQ(c.header_limit, 32768u);
  EXPECT_EQ(c.idle_timeout_seconds, 120);
  EXPECT_EQ(c.io_timeout_seconds, 60);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_TRUE(validate_config(c).is_ok());
}

TEST_F(ConfigFileTest, ExhaustionLimits) {
  Config c;
  Status s = load(R"(
header-timeout: 5s
max-connections-per-ip: 40
max-body-memory: 33554432
upload-min-rate: 2048
upload-rate-window: 1m
max-uploads-per-account: 12
max-uploads-per-key: 6
)",
                  c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(c.header_timeout_seconds, 5);
  EXPECT_EQ(c.max_connections_per_ip, 40u);
  EXPECT_EQ(c.max_body_memory, 32u * 1024 * 1024);
  EXPECT_EQ(c.upload_min_rate, 2048u);
  EXPECT_EQ(c.upload_rate_window_seconds, 60);
  EXPECT_EQ(c.max_uploads_per_account, 12u);
  EXPECT_EQ(c.max_uploads_per_key, 6u);
  EXPECT_TRUE(validate_config(c).is_ok());

  for (const char* yaml :
       {"header-timeout: soon\n", "max-connections-per-ip: -1\n", "max-body-memory: lots\n",
        "upload-min-rate: -5\n", "upload-rate-window: 1.5m\n", "max-uploads-per-key: [1]\n"}) {
    Config d;
    Status bad = load(yaml, d);
    EXPECT_EQ(bad.code(), Code::kInvalidArgument) << "accepted: " << yaml;
  }
}

TEST_F(ConfigFileTest, EventsRetention) {
  Config c;
  EXPECT_EQ(c.event_retention_seconds, 7 * 86400) << "the default";
  ASSERT_TRUE(load("events: {retention: 36h}\n", c).is_ok());
  EXPECT_EQ(c.event_retention_seconds, 36 * 3600);
  for (const char* bad : {"events: {retention: 0}\n", "events: {retention: soon}\n"}) {
    Status s = load(bad, c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("events.retention"), std::string::npos) << s.message();
  }
}

TEST_F(ConfigFileTest, EventsRetrySchedule) {
  Config c;
  EXPECT_EQ(c.webhook_first_retry_seconds, 1);
  EXPECT_EQ(c.webhook_retry_cap_seconds, 300);
  ASSERT_TRUE(load("events: {first-retry: 30s, retry-cap: 1h}\n", c).is_ok());
  EXPECT_EQ(c.webhook_first_retry_seconds, 30);
  EXPECT_EQ(c.webhook_retry_cap_seconds, 3600);
  Status s = load("events: {first-retry: 0s}\n", c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("events.first-retry"), std::string::npos) << s.message();
}

TEST(ValidateConfigTest, ExhaustionLimitsDefaultsAndBounds) {
  const Config defaults;
  EXPECT_EQ(defaults.header_timeout_seconds, 10);
  EXPECT_GT(defaults.max_connections_per_ip, 0u);
  EXPECT_LT(defaults.max_uploads_per_account, defaults.max_concurrent_uploads);
  EXPECT_LE(defaults.max_uploads_per_key, defaults.max_uploads_per_account);

  Config zero_timeout;
  zero_timeout.header_timeout_seconds = 0;
  EXPECT_EQ(validate_config(zero_timeout).code(), Code::kInvalidArgument);
  Config no_window;
  no_window.upload_rate_window_seconds = 0;
  EXPECT_EQ(validate_config(no_window).code(), Code::kInvalidArgument);
  no_window.upload_min_rate = 0;  // no minimum rate: the window does not matter
  EXPECT_TRUE(validate_config(no_window).is_ok());
  Config huge_rate;
  huge_rate.upload_min_rate = UINT64_MAX / 4;
  EXPECT_EQ(validate_config(huge_rate).code(), Code::kInvalidArgument);
}

TEST(ConnectionCapTest, LeavesDescriptorsForFilesAndTheDatabase) {
  EXPECT_EQ(max_connections_for_fd_limit(0), 1u);
  EXPECT_EQ(max_connections_for_fd_limit(64), 1u);
  EXPECT_EQ(max_connections_for_fd_limit(128), 32u);
  EXPECT_EQ(max_connections_for_fd_limit(1024), 480u);
  EXPECT_EQ(max_connections_for_fd_limit(1 << 20), (size_t{1 << 20} - 64) / 2);
  EXPECT_GT(max_connections_for_fd_limit(UINT64_MAX), 4096u);
}

TEST_F(ConfigFileTest, OnlyMentionedKeysChange) {
  Config c;
  c.data_dir = "/from/flags";
  const Config defaults;
  ASSERT_TRUE(load("region: ap-south-1\n", c).is_ok());
  EXPECT_EQ(c.region, "ap-south-1");
  EXPECT_EQ(c.data_dir, "/from/flags");
  EXPECT_EQ(c.listen, defaults.listen);
  EXPECT_EQ(c.upload_ttl_seconds, defaults.upload_ttl_seconds);
  EXPECT_EQ(c.auth, defaults.auth);
}

TEST_F(ConfigFileTest, EmptyFileChangesNothing) {
  Config c;
  const Config defaults;
  ASSERT_TRUE(load("", c).is_ok());
  EXPECT_EQ(c.listen, defaults.listen);
  ASSERT_TRUE(load("# only a comment\n", c).is_ok());
  EXPECT_EQ(c.account_id, defaults.account_id);
}

TEST_F(ConfigFileTest, UnknownKeyIsRejected) {
  Config c;
  Status s = load("listen: 127.0.0.1:5000\nupload_ttl: 1h\n", c);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("upload_ttl"), std::string::npos) << s.message();

  Config d;
  Status nested = load("storage:\n  data-dir: /x\n", d);
  EXPECT_EQ(nested.code(), Code::kInvalidArgument);
}

TEST_F(ConfigFileTest, BadTypes) {
  for (const char* yaml : {
           "threads: many\n",
           "threads: [1, 2]\n",
           "sync-full: maybe\n",
           "auth: 12\n",
           "max-connections: lots\n",
           "header-limit: {a: 1}\n",
           "listen: [a, b]\n",
           "region: {name: x}\n",
           "upload-ttl: 1.5h\n",
           "token-ttl: soon\n",
           "gc-grace: -1s\n",
           "idle-timeout: [1]\n",
       }) {
    Config c;
    Status s = load(yaml, c);
    EXPECT_FALSE(s.is_ok()) << "accepted: " << yaml;
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << yaml;
  }
}

// Found by the config fuzz target (tests/fuzz/corpus/config/key-is-a-sequence):
// a key that is not a plain scalar made yaml-cpp throw out of load_config_file,
// so berth died on a malformed file instead of naming the error.
TEST_F(ConfigFileTest, KeysThatAreNotNamesAreRejected) {
  for (const char* yaml : {"[:1]:\n", "[a, b]: 1\n", "{a: 1}: 2\n", "? [x]\n: 1\n", "~: 1\n"}) {
    Config c;
    Status s;
    EXPECT_NO_THROW(s = load(yaml, c)) << yaml;
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << yaml;
  }
}

TEST_F(ConfigFileTest, ErrorsNameTheKeyAndTheValue) {
  Config c;
  Status s = load("region: eu-west-1\nio-timeout: 5x\n", c);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("key 'io-timeout': invalid duration '5x'"), std::string::npos)
      << s.message();
  Status t = load("threads: many\n", c);
  EXPECT_NE(t.message().find("key 'threads'"), std::string::npos) << t.message();
  Status u = load("upload_ttl: 1h\n", c);
  EXPECT_NE(u.message().find("unknown key 'upload_ttl'"), std::string::npos) << u.message();
}

TEST_F(ConfigFileTest, CreateOnPushIsOffByDefault) {
  Config c;
  EXPECT_FALSE(c.create_on_push);
  ASSERT_TRUE(load("create-on-push: true\n", c).is_ok());
  EXPECT_TRUE(c.create_on_push);
}

TEST_F(ConfigFileTest, NegativeCountsAreRejected) {
  for (const char* yaml :
       {"threads: -1\n", "max-connections: -5\n", "max-concurrent-uploads: -1\n"}) {
    Config c;
    Status s = load(yaml, c);
    EXPECT_FALSE(s.is_ok()) << "accepted: " << yaml << " (threads=" << c.threads
                            << ", max-connections=" << c.max_connections << ")";
  }
}

TEST_F(ConfigFileTest, TopLevelMustBeAMapping) {
  Config c;
  EXPECT_EQ(load("- listen\n- region\n", c).code(), Code::kInvalidArgument);
  EXPECT_EQ(load("just a string\n", c).code(), Code::kInvalidArgument);
}

TEST_F(ConfigFileTest, SyntaxErrorIsInvalidArgument) {
  Config c;
  Status s = load("listen: [unclosed\n", c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

TEST_F(ConfigFileTest, SbomGenerationIsOnUnlessTurnedOff) {
  Config c;
  EXPECT_TRUE(c.sbom_generate);
  Status s = load("sbom: {generate: false}\n", c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_FALSE(c.sbom_generate);
  s = load("sbom: {generate: true}\n", c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_TRUE(c.sbom_generate);
  s = load("sbom: {format: spdx}\n", c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("sbom.format"), std::string::npos) << s.message();
}

TEST_F(ConfigFileTest, UsageSamplingAndPricing) {
  Config c;
  EXPECT_EQ(c.usage_sample_interval_seconds, 3600);
  EXPECT_EQ(c.usage_flush_interval_seconds, 60);
  EXPECT_EQ(c.usage_retention_seconds, 400 * 86400);
  EXPECT_EQ(c.usage_pricing.storage_micros_per_gib_month, 100'000);
  Status s = load(R"(
usage:
  sample-interval: 15m
  flush-interval: 10s
  retention: 30d
  pricing:
    storage-gb-month: 0.023
    free-transfer-gb: 100
    transfer-out-tiers:
      - {up-to-gb: 1024, usd-per-gb: 0.05}
      - {usd-per-gb: 0.02}
)",
                  c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(c.usage_sample_interval_seconds, 900);
  EXPECT_EQ(c.usage_flush_interval_seconds, 10);
  EXPECT_EQ(c.usage_retention_seconds, 30 * 86400);
  EXPECT_EQ(c.usage_pricing.storage_micros_per_gib_month, 23'000);
  EXPECT_EQ(c.usage_pricing.free_transfer_bytes, 100 * usage::kBytesPerGiB);
  ASSERT_EQ(c.usage_pricing.transfer_tiers.size(), 2u);
  EXPECT_EQ(c.usage_pricing.transfer_tiers[0].up_to_gib, 1024);
  EXPECT_EQ(c.usage_pricing.transfer_tiers[0].micros_per_gib, 50'000);
  EXPECT_EQ(c.usage_pricing.transfer_tiers[1].up_to_gib, usage::kUnlimited);
  EXPECT_EQ(c.usage_pricing.transfer_tiers[1].micros_per_gib, 20'000);

  Config bad;
  s = load("usage: {pricing: {transfer-out-tiers: [{up-to-gb: 10, usd-per-gb: 0.1}]}}\n", bad);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("last transfer-out tier"), std::string::npos) << s.message();
  s = load("usage: {sample-interval: soon}\n", bad);
  EXPECT_NE(s.message().find("usage.sample-interval"), std::string::npos) << s.message();
  s = load("usage: {pricing: {storage-gb-month: -1}}\n", bad);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  s = load("usage: {sampling: 1h}\n", bad);
  EXPECT_NE(s.message().find("usage.sampling: unknown"), std::string::npos) << s.message();
}

TEST_F(ConfigFileTest, MissingFileIsAnError) {
  Config c;
  Status s = load_config_file((dir_ / "does-not-exist.yaml").string(), c);
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

// --- store sections ------------------------------------------------------------------

TEST_F(ConfigFileTest, StoresDefaultToTheDataDirectory) {
  Config c;
  ASSERT_TRUE(load("data-dir: /srv/berth\n", c).is_ok());
  EXPECT_EQ(c.metadata.driver, "sqlite");
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(metadata_sqlite_path(c), "/srv/berth/berth.db");
  EXPECT_EQ(storage_filesystem_root(c), "/srv/berth");
}

TEST_F(ConfigFileTest, MetadataAndStorageSectionsChooseTheStores) {
  Config c;
  Status s = load(
      "data-dir: /srv/berth\n"
      "metadata:\n  sqlite:\n    path: /fast/meta/berth.db\n"
      "storage:\n  filesystem:\n    root: /big/blobs\n",
      c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(c.metadata.driver, "sqlite");
  EXPECT_EQ(metadata_sqlite_path(c), "/fast/meta/berth.db");
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(storage_filesystem_root(c), "/big/blobs");
  EXPECT_EQ(c.data_dir, "/srv/berth");

  // A driver without parameters takes its defaults from data-dir.
  Config d;
  ASSERT_TRUE(load("data-dir: /d\nmetadata:\n  sqlite: {}\nstorage:\n  filesystem:\n", d).is_ok());
  EXPECT_EQ(metadata_sqlite_path(d), "/d/berth.db");
  EXPECT_EQ(storage_filesystem_root(d), "/d");
}

TEST_F(ConfigFileTest, TheDataDirFlagPutsBothStoresBackIntoIt) {
  Config c;
  ASSERT_TRUE(
      load("metadata:\n  sqlite:\n    path: /a/berth.db\nstorage:\n  filesystem:\n    root: /b\n",
           c)
          .is_ok());
  set_data_dir(c, "/flag");
  EXPECT_EQ(c.data_dir, "/flag");
  EXPECT_EQ(metadata_sqlite_path(c), "/flag/berth.db");
  EXPECT_EQ(storage_filesystem_root(c), "/flag");
}

TEST_F(ConfigFileTest, AnUnknownDriverIsAnErrorNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* names;
  };
  for (const Case& k :
       {Case{"metadata:\n  mysql:\n    dsn: x\n",
             "metadata.mysql: unknown metadata driver 'mysql' (known: sqlite, postgres)"},
        Case{"storage:\n  gcs:\n    bucket: b\n",
             "storage.gcs: unknown storage driver 'gcs' (known: filesystem, s3)"},
        Case{"storage:\n  s3:\n    acl: private\n", "storage.s3.acl: unknown parameter"},
        Case{"metadata:\n  sqlite:\n    file: x\n", "metadata.sqlite.file: unknown parameter"},
        Case{"storage:\n  filesystem:\n    root: ''\n",
             "storage.filesystem.root: must not be empty"},
        Case{"metadata:\n  sqlite: {}\n  other: {}\n", "expected one driver"},
        Case{"metadata: sqlite\n", "expected one driver"}}) {
    Config c;
    Status s = load(k.yaml, c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << k.yaml;
    EXPECT_NE(s.message().find(k.names), std::string::npos) << s.message();
    EXPECT_NE(
        s.message().find(std::string("key '") + (k.yaml[0] == 'm' ? "metadata'" : "storage'")),
        std::string::npos)
        << s.message();
  }
}

TEST_F(ConfigFileTest, ScanLeaseIsADurationOfOneSecondToADay) {
  EXPECT_EQ(Config{}.scan_lease_seconds, 60);
  Config c;
  Status s = load("scan-lease: 5s\n", c);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(c.scan_lease_seconds, 5);
  EXPECT_TRUE(validate_config(c).is_ok());
  for (const char* yaml : {"scan-lease: 0s\n", "scan-lease: 2d\n"}) {
    Config d;
    ASSERT_TRUE(load(yaml, d).is_ok()) << yaml;
    EXPECT_EQ(validate_config(d).code(), Code::kInvalidArgument) << "accepted: " << yaml;
  }
  Config e;
  EXPECT_EQ(load("scan-lease: soon\n", e).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::app
