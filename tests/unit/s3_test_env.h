// The S3 service the unit tests use, from the environment (scripts/test.sh
// starts Ceph's RADOS Gateway and sets BERTH_TEST_S3_ENDPOINT, _ACCESS_KEY,
// _SECRET_KEY, _REGION and BERTH_TEST_CEPH_DIR, and for https
// BERTH_TEST_S3_TLS_ENDPOINT and BERTH_TEST_S3_CA_FILE).
#pragma once

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "blob/s3/s3_blob_store.h"

namespace berth::s3_test {

inline const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// A fresh prefix per test: tests share one bucket and never see each other.
inline std::string random_prefix() {
  unsigned char b[8];
  RAND_bytes(b, sizeof b);
  std::string out = "t";
  for (unsigned char c : b) out += fmt::format("{:02x}", c);
  return out;
}

// Options for the S3 under test, or nullopt when none is configured.
inline std::optional<s3::S3StoreOptions> s3_options(const std::string& prefix) {
  if (!env("BERTH_TEST_S3_ENDPOINT") || !env("BERTH_TEST_S3_ACCESS_KEY") ||
      !env("BERTH_TEST_S3_SECRET_KEY")) {
    return std::nullopt;
  }
  s3::S3StoreOptions o;
  o.client.endpoint = env("BERTH_TEST_S3_ENDPOINT");
  o.client.region = env("BERTH_TEST_S3_REGION") ? env("BERTH_TEST_S3_REGION") : "us-east-1";
  o.client.bucket = "berth-conformance";
  o.client.credentials = {env("BERTH_TEST_S3_ACCESS_KEY"), env("BERTH_TEST_S3_SECRET_KEY")};
  o.prefix = prefix;
  return o;
}

// The same service over https (ceph-up.sh's TLS port) trusting its
// throwaway CA, or nullopt when ceph-up.sh did not export them.
inline std::optional<s3::S3StoreOptions> s3_tls_options(const std::string& prefix) {
  auto o = s3_options(prefix);
  if (!o || !env("BERTH_TEST_S3_TLS_ENDPOINT") || !env("BERTH_TEST_S3_CA_FILE"))
    return std::nullopt;
  o->client.endpoint = env("BERTH_TEST_S3_TLS_ENDPOINT");
  o->client.ca_file = env("BERTH_TEST_S3_CA_FILE");
  return o;
}

inline std::unique_ptr<s3::S3BlobStore> open_s3(const std::optional<s3::S3StoreOptions>& o) {
  auto store = s3::S3BlobStore::open(*o);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  if (!store.is_ok()) return nullptr;
  return std::move(store).value();
}

}  // namespace berth::s3_test
