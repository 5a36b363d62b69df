// berth::parse_manifest on what clients really push: a multi-layer OCI image
// manifest with annotations, and a multi-platform OCI index.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <string>

#include "core/digest.h"
#include "core/manifest.h"

namespace {

std::string digest_of(std::string_view seed) {
  return berth::Digest::of(seed).str();
}

// An image manifest shaped like a typical buildkit push: config, 8 gzip
// layers, top-level annotations.
std::string image_manifest() {
  std::string layers;
  for (int i = 0; i < 8; ++i) {
    layers += fmt::format(
        R"({}{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}})",
        i == 0 ? "" : ",", digest_of(fmt::format("layer-{}", i)), 1'000'000 + i * 7919);
  }
  return fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":7023}},)"
      R"("layers":[{}],)"
      R"("annotations":{{"org.opencontainers.image.created":"2024-05-01T12:00:00Z",)"
      R"("org.opencontainers.image.source":"https://example.com/team/api",)"
      R"("org.opencontainers.image.revision":"0123456789abcdef0123456789abcdef01234567"}}}})",
      digest_of("config"), layers);
}

// An index over 6 platforms plus 2 attestation manifests, as docker buildx
// pushes by default.
std::string image_index() {
  static constexpr const char* kPlatforms[][2] = {{"amd64", ""},   {"arm64", "v8"}, {"arm", "v7"},
                                                  {"ppc64le", ""}, {"s390x", ""},   {"386", ""}};
  std::string entries;
  for (const auto& p : kPlatforms) {
    std::string variant = *p[1] ? fmt::format(R"(,"variant":"{}")", p[1]) : "";
    entries += fmt::format(
        R"({}{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},)"
        R"("platform":{{"architecture":"{}","os":"linux"{}}}}})",
        entries.empty() ? "" : ",", digest_of(p[0]), 1600 + entries.size() % 97, p[0], variant);
  }
  for (int i = 0; i < 2; ++i) {
    entries += fmt::format(
        R"(,{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":840,)"
        R"("annotations":{{"vnd.docker.reference.digest":"{}","vnd.docker.reference.type":"attestation-manifest"}},)"
        R"("platform":{{"architecture":"unknown","os":"unknown"}}}})",
        digest_of(fmt::format("att-{}", i)), digest_of(kPlatforms[i][0]));
  }
  return fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}})",
      entries);
}

void run_parse(benchmark::State& state, const std::string& doc, std::string_view content_type) {
  if (auto check = berth::parse_manifest(doc, content_type); !check.is_ok()) {
    state.SkipWithError(check.status().to_string().c_str());
    return;
  }
  for (auto _ : state) {
    auto parsed = berth::parse_manifest(doc, content_type);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * doc.size()));
  state.counters["doc_bytes"] = static_cast<double>(doc.size());
}

void BM_ParseImageManifest(benchmark::State& state) {
  static const std::string doc = image_manifest();
  run_parse(state, doc, berth::media_type::kOciManifest);
}
BENCHMARK(BM_ParseImageManifest);

void BM_ParseImageIndex(benchmark::State& state) {
  static const std::string doc = image_index();
  run_parse(state, doc, berth::media_type::kOciIndex);
}
BENCHMARK(BM_ParseImageIndex);

}  // namespace
