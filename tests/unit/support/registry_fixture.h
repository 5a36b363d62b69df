// The unit tests' one fixture for the application layer over the real stores:
// a scratch directory holding an FsBlobStore and a SqliteMetadataStore (and,
// when asked, a SqliteIdentityStore), a FakeClock, a Registry over them, and
// the helpers that push blobs, images and indexes through that Registry.
//
// Every helper reports a failed step as a test failure (EXPECT) and then stops
// (as an ASSERT in a void helper would); what it returns after a failure is a
// placeholder. Not thread-safe: one test thread uses a fixture.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blob/fs/fs_blob_store.h"
#include "core/clock.h"
#include "meta/sqlite/sqlite_identity_store.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "registry/registry.h"

namespace berth::unit {

// A fresh directory `<temp>/<prefix>-XXXXXX`; an empty path, and a test
// failure, when it cannot be made. The caller removes it.
std::filesystem::path make_scratch_dir(const std::string& prefix);

struct ScratchOptions {
  // The database's synchronous=FULL (the stores' default); off where a test
  // only wants speed.
  bool synchronous_full = true;
  // Also open a SqliteIdentityStore over the metadata database.
  bool identity = false;
};

// The real stores in one scratch directory: blobs in `dir/blobs`, metadata in
// `dir/meta.db`. open() reports a failure as a fatal test failure (check with
// ASSERT_NO_FATAL_FAILURE); close() drops the stores and removes the directory.
struct ScratchStores {
  std::filesystem::path dir;
  std::unique_ptr<FsBlobStore> blobs;
  std::unique_ptr<SqliteMetadataStore> meta;
  std::unique_ptr<SqliteIdentityStore> identity;  // only with ScratchOptions::identity

  void open(const std::string& prefix, const ScratchOptions& options = {});
  void close();
};

// The fixture. SetUp opens the stores and builds `registry_` from `options_`
// and `*registry_clock_` (the FakeClock `clock_` unless a test points it
// elsewhere); a derived fixture sets those before calling
// RegistryFixture::SetUp, or calls open_stores() alone when it builds its own
// Registry. TearDown drops the registry, then the stores, then the directory.
class RegistryFixture : public ::testing::Test {
 protected:
  static constexpr const char* kAccount = "123456789012";
  static constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
  static constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
  static constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";

  void SetUp() override;
  void TearDown() override;

  // Opens the scratch directory and the stores (a fatal failure if not).
  void open_stores(const ScratchOptions& options = {});

  // Another application node over the same stores, with `options_`, the
  // registry clock and its own, empty in-process state.
  std::unique_ptr<Registry> node();

  // Uploads `data` whole through an upload session (POST, one PATCH, PUT);
  // returns the link.
  BlobLink push_blob(const RepositoryRecord& repo, const std::string& data);
  // Stores `data` as one monolithic put (begin_blob_put / finish_blob_put).
  BlobLink put_blob(const RepositoryRecord& repo, const std::string& data);

  // The image config and layer bytes an image of `seed` is made of.
  static std::string config_of(const std::string& seed);
  static std::string layer_of(const std::string& seed);

  // An OCI image manifest over config_of(seed) (of `config_type`) and one
  // layer_of(seed), with `subject` when given; pushes both blobs to `repo`
  // first when `push`.
  std::string image_manifest(const RepositoryRecord& repo, const std::string& seed,
                             bool push = true, const std::string& config_type = kOciConfig,
                             std::optional<Digest> subject = std::nullopt);
  // Pushes that image (blobs, then the manifest under `tag`, or by digest
  // when `tag` is empty); returns the manifest's digest.
  Digest push_image(const RepositoryRecord& repo, const std::string& seed,
                    const std::string& tag = "", std::optional<Digest> subject = std::nullopt);
  // Pushes an index over `children` (already in `repo`).
  Digest push_index(const RepositoryRecord& repo, const std::vector<Digest>& children,
                    const std::string& tag = "");
  // Puts `bytes` under `tag` (by digest when empty); returns their digest.
  Digest put_manifest(const RepositoryRecord& repo, const std::string& bytes,
                      const std::string& media_type, const std::string& tag);
  // The stored record of manifest `d` in `repo` (a test failure if none).
  ManifestRecord stored_manifest(const RepositoryRecord& repo, const Digest& d);

  std::filesystem::path dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<SqliteMetadataStore> meta_;
  std::unique_ptr<SqliteIdentityStore> identity_;
  FakeClock clock_;
  const Clock* registry_clock_ = &clock_;
  RegistryOptions options_;
  std::unique_ptr<Registry> registry_;
};

}  // namespace berth::unit
