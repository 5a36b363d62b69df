#include "registry_fixture.h"

#include <stdlib.h>

#include <utility>

#include <boost/json.hpp>

namespace berth::unit {

namespace json = boost::json;

std::filesystem::path make_scratch_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
    return {};
  }
  return tmpl;
}

void ScratchStores::open(const std::string& prefix, const ScratchOptions& options) {
  dir = make_scratch_dir(prefix);
  ASSERT_FALSE(dir.empty());
  auto b = FsBlobStore::open_at(dir / "blobs");
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  blobs = std::move(b).value();
  auto m = SqliteMetadataStore::open((dir / "meta.db").string(), options.synchronous_full);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  meta = std::move(m).value();
  if (!options.identity) return;
  auto i = SqliteIdentityStore::open(meta->pool());
  ASSERT_TRUE(i.is_ok()) << i.status().to_string();
  identity = std::move(i).value();
}

void ScratchStores::close() {
  identity.reset();
  meta.reset();
  blobs.reset();
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void RegistryFixture::SetUp() {
  ASSERT_NO_FATAL_FAILURE(open_stores());
  registry_ = node();
}

void RegistryFixture::TearDown() {
  registry_.reset();
  ScratchStores s{std::move(dir_), std::move(blobs_), std::move(meta_), std::move(identity_)};
  s.close();
}

void RegistryFixture::open_stores(const ScratchOptions& options) {
  ScratchStores s;
  s.open("berth-unit", options);
  dir_ = std::move(s.dir);
  blobs_ = std::move(s.blobs);
  meta_ = std::move(s.meta);
  identity_ = std::move(s.identity);
}

std::unique_ptr<Registry> RegistryFixture::node() {
  return std::make_unique<Registry>(*meta_, *blobs_, *registry_clock_, options_);
}

BlobLink RegistryFixture::push_blob(const RepositoryRecord& repo, const std::string& data) {
  auto up = registry_->start_upload(repo);
  EXPECT_TRUE(up.is_ok()) << up.status().to_string();
  if (!up.is_ok()) return {};
  auto a = registry_->begin_append(repo, up->id, std::nullopt);
  EXPECT_TRUE(a.is_ok()) << a.status().to_string();
  if (!a.is_ok()) return {};
  Status written = (*a)->write(data.data(), data.size());
  EXPECT_TRUE(written.is_ok()) << written.to_string();
  if (!written.is_ok()) return {};
  a->reset();
  auto link = registry_->finish_upload(repo, up->id, Digest::of(data));
  EXPECT_TRUE(link.is_ok()) << link.status().to_string();
  return link.is_ok() ? *link : BlobLink{};
}

BlobLink RegistryFixture::put_blob(const RepositoryRecord& repo, const std::string& data) {
  auto put = registry_->begin_blob_put(repo);
  EXPECT_TRUE(put.is_ok()) << put.status().to_string();
  if (!put.is_ok()) return {};
  Status written = (*put)->write(data.data(), data.size());
  EXPECT_TRUE(written.is_ok()) << written.to_string();
  if (!written.is_ok()) return {};
  auto link = registry_->finish_blob_put(repo, std::move(put).value(), Digest::of(data));
  EXPECT_TRUE(link.is_ok()) << link.status().to_string();
  return link.is_ok() ? *link : BlobLink{};
}

std::string RegistryFixture::config_of(const std::string& seed) {
  return R"({"architecture":"amd64","os":"linux","seed":")" + seed + "\"}";
}

std::string RegistryFixture::layer_of(const std::string& seed) {
  return "layer bytes of " + seed;
}

std::string RegistryFixture::image_manifest(const RepositoryRecord& repo, const std::string& seed,
                                            bool push, const std::string& config_type,
                                            std::optional<Digest> subject) {
  const std::string config = config_of(seed);
  const std::string layer = layer_of(seed);
  if (push) {
    push_blob(repo, config);
    push_blob(repo, layer);
  }
  json::object m{{"schemaVersion", 2},
                 {"mediaType", kOciManifest},
                 {"config", json::object{{"mediaType", config_type},
                                         {"digest", Digest::of(config).str()},
                                         {"size", config.size()}}},
                 {"layers", json::array{json::object{
                                {"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                                {"digest", Digest::of(layer).str()},
                                {"size", layer.size()}}}}};
  if (subject) {
    m["subject"] =
        json::object{{"mediaType", kOciManifest}, {"digest", subject->str()}, {"size", 100}};
  }
  return json::serialize(m);
}

Digest RegistryFixture::push_image(const RepositoryRecord& repo, const std::string& seed,
                                   const std::string& tag, std::optional<Digest> subject) {
  return put_manifest(repo, image_manifest(repo, seed, true, kOciConfig, subject), kOciManifest,
                      tag);
}

Digest RegistryFixture::push_index(const RepositoryRecord& repo,
                                   const std::vector<Digest>& children, const std::string& tag) {
  json::array list;
  for (const Digest& c : children) {
    auto m = meta_->get_manifest(repo.id, c);
    EXPECT_TRUE(m.is_ok());
    list.push_back(json::object{{"mediaType", kOciManifest},
                                {"digest", c.str()},
                                {"size", m.is_ok() ? m->bytes.size() : 0}});
  }
  json::object index{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", list}};
  return put_manifest(repo, json::serialize(index), kOciIndex, tag);
}

Digest RegistryFixture::put_manifest(const RepositoryRecord& repo, const std::string& bytes,
                                     const std::string& media_type, const std::string& tag) {
  const Digest d = Digest::of(bytes);
  auto put = registry_->put_manifest(repo, tag.empty() ? d.str() : tag, bytes, media_type);
  EXPECT_TRUE(put.is_ok()) << put.status().to_string();
  return d;
}

ManifestRecord RegistryFixture::stored_manifest(const RepositoryRecord& repo, const Digest& d) {
  auto got = meta_->get_manifest(repo.id, d);
  EXPECT_TRUE(got.is_ok()) << got.status().to_string();
  return got.is_ok() ? *got : ManifestRecord{};
}

}  // namespace berth::unit
