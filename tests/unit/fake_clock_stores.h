// A fixture for the background jobs: the real SqliteMetadataStore and
// FsBlobStore in a temporary directory, a Registry to push through, and a
// FakeClock that only moves when a test says so. The clock starts far from
// the wall clock on purpose, so anything that reads the wall clock instead of
// the Clock it was given shows up as a failure.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "blob/fs/fs_blob_store.h"
#include "core/clock.h"
#include "meta/sqlite/sqlite_metadata_store.h"
#include "registry/registry.h"

namespace berth::jobs_test {

class FakeClockStores : public ::testing::Test {
 protected:
  static constexpr const char* kAccount = "123456789012";
  static constexpr int64_t kStart = 1'500'000'000;  // July 2017
  static constexpr int64_t kDay = 86'400;

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-jobs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto blobs = FsBlobStore::open_at(dir_ / "blobs");
    ASSERT_TRUE(blobs.is_ok()) << blobs.status().to_string();
    blobs_ = std::move(blobs).value();
    auto meta = SqliteMetadataStore::open((dir_ / "meta.db").string());
    ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
    meta_ = std::move(meta).value();
    clock_.set_seconds(kStart);
    registry_ = std::make_unique<Registry>(*meta_, *blobs_, clock_, RegistryOptions{});
  }

  void TearDown() override {
    registry_.reset();
    meta_.reset();
    blobs_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Creates the repository explicitly (as ECR CreateRepository does).
  RepositoryRecord create_repository(const std::string& name) {
    RepositoryRecord r;
    r.account_id = kAccount;
    r.name = name;
    r.created_at = clock_.now_seconds();
    auto created = meta_->create_repository(r);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.is_ok() ? *created : RepositoryRecord{};
  }

  RepositoryRecord reload(const RepositoryRecord& r) {
    auto got = meta_->get_repository(r.account_id, r.name);
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    return got.is_ok() ? *got : RepositoryRecord{};
  }

  // Uploads `data` whole through the registry, now.
  Digest push_blob(const RepositoryRecord& repo, const std::string& data) {
    auto up = registry_->start_upload(repo);
    EXPECT_TRUE(up.is_ok()) << up.status().to_string();
    if (!up.is_ok()) return Digest::of(data);
    auto a = registry_->begin_append(repo, up->id, std::nullopt);
    EXPECT_TRUE(a.is_ok()) << a.status().to_string();
    if (a.is_ok()) {
      EXPECT_TRUE((*a)->write(data.data(), data.size()).is_ok());
      a->reset();
    }
    auto link = registry_->finish_upload(repo, up->id, Digest::of(data));
    EXPECT_TRUE(link.is_ok()) << link.status().to_string();
    return Digest::of(data);
  }

  static std::string config_of(const std::string& seed) {
    return R"({"architecture":"amd64","os":"linux","seed":")" + seed + "\"}";
  }
  static std::string layer_of(const std::string& seed) { return "layer bytes of " + seed; }

  // Pushes an image (config, one layer, manifest) now; returns the manifest digest.
  Digest push_image(const RepositoryRecord& repo, const std::string& seed,
                    const std::string& tag = "", std::optional<Digest> subject = std::nullopt) {
    namespace json = boost::json;
    const std::string config = config_of(seed);
    const std::string layer = layer_of(seed);
    push_blob(repo, config);
    push_blob(repo, layer);
    json::object m{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config", json::object{{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                {"digest", Digest::of(config).str()},
                                {"size", config.size()}}},
        {"layers",
         json::array{json::object{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                                  {"digest", Digest::of(layer).str()},
                                  {"size", layer.size()}}}}};
    if (subject) {
      m["subject"] = json::object{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", subject->str()},
                                  {"size", 100}};
    }
    return put_manifest(repo, json::serialize(m), "application/vnd.oci.image.manifest.v1+json",
                        tag);
  }

  // Pushes an index over `children` (already in `repo`) now.
  Digest push_index(const RepositoryRecord& repo, const std::vector<Digest>& children,
                    const std::string& tag = "") {
    namespace json = boost::json;
    json::array list;
    for (const Digest& c : children) {
      auto m = meta_->get_manifest(repo.id, c);
      EXPECT_TRUE(m.is_ok());
      list.push_back(json::object{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", c.str()},
                                  {"size", m.is_ok() ? m->bytes.size() : 0}});
    }
    json::object index{{"schemaVersion", 2},
                       {"mediaType", "application/vnd.oci.image.index.v1+json"},
                       {"manifests", list}};
    return put_manifest(repo, json::serialize(index), "application/vnd.oci.image.index.v1+json",
                        tag);
  }

  Digest put_manifest(const RepositoryRecord& repo, const std::string& bytes,
                      const std::string& media_type, const std::string& tag) {
    const Digest d = Digest::of(bytes);
    auto put = registry_->put_manifest(repo, tag.empty() ? d.str() : tag, bytes, media_type);
    EXPECT_TRUE(put.is_ok()) << put.status().to_string();
    return d;
  }

  bool has_manifest(const RepositoryRecord& repo, const Digest& d) {
    return meta_->get_manifest(repo.id, d).is_ok();
  }
  bool blob_stored(const Digest& d) { return blobs_->stat(d).is_ok(); }
  bool blob_linked(const RepositoryRecord& repo, const Digest& d) {
    return meta_->get_blob_link(repo.id, d).is_ok();
  }

  std::filesystem::path dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<SqliteMetadataStore> meta_;
  FakeClock clock_;
  std::unique_ptr<Registry> registry_;
};

}  // namespace berth::jobs_test
