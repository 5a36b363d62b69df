// Tag resolution, the metadata read behind every `GET /v2/<name>/manifests/<tag>`,
// on a temporary SQLite database holding one repository with 10,000 tags.
#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/digest.h"
#include "meta/sqlite/sqlite_metadata_store.h"

namespace {

constexpr int kTags = 10'000;

// The temp database, built once for all runs and removed at exit.
class TagFixture {
 public:
  TagFixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    auto store = berth::SqliteMetadataStore::open((dir_ / "meta.db").string(),
                                                  /*synchronous_full=*/false);
    if (!store.is_ok()) {
      error_ = store.status().to_string();
      return;
    }
    store_ = std::move(store).value();
    auto repo = store_->ensure_repository("000000000000", "bench/tags", 1);
    if (!repo.is_ok()) {
      error_ = repo.status().to_string();
      return;
    }
    repo_ = repo->id;
    // 100 distinct manifests, each under 100 tags.
    for (int i = 0; i < kTags; ++i) {
      berth::PutManifestRequest req;
      req.repository = repo_;
      req.manifest.bytes = fmt::format(R"({{"schemaVersion":2,"n":{}}})", i % 100);
      req.manifest.digest = berth::Digest::of(req.manifest.bytes);
      req.manifest.media_type = "application/vnd.oci.image.manifest.v1+json";
      req.manifest.pushed_at_ms = 1000;
      req.tag = tag(i);
      if (auto st = store_->put_manifest(req); !st.is_ok()) {
        error_ = st.to_string();
        return;
      }
    }
  }
  ~TagFixture() {
    store_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  static std::string tag(int i) { return fmt::format("v1.{}.{}", i / 100, i % 100); }

  berth::SqliteMetadataStore* store() { return store_.get(); }
  berth::RepositoryId repo() const { return repo_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<berth::SqliteMetadataStore> store_;
  berth::RepositoryId repo_ = 0;
  std::string error_;
};

TagFixture& fixture() {
  static TagFixture f;
  return f;
}

// Looks tags up in a scattered order (a stride coprime with kTags) so the
// figure is not one hot row.
void BM_GetManifestByTag(benchmark::State& state) {
  TagFixture& f = fixture();
  if (!f.error().empty()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  std::vector<std::string> tags;
  tags.reserve(kTags);
  for (int i = 0; i < kTags; ++i)
    tags.push_back(TagFixture::tag(static_cast<int>((i * 7919L) % kTags)));
  size_t next = 0;
  for (auto _ : state) {
    auto got = f.store()->get_manifest_by_tag(f.repo(), tags[next]);
    if (!got.is_ok()) {
      state.SkipWithError(got.status().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(got);
    next = next + 1 == tags.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_GetManifestByTag)->ThreadRange(1, 2)->UseRealTime();

}  // namespace
