// Manifest and index parsing (src/core/manifest.*): the body of every
// `PUT /v2/<name>/manifests/<reference>` and ECR PutImage.
//
// Each input is parsed under every Content-Type a client may send with it.
// Properties: a manifest accepted without a Content-Type is accepted again,
// identically, under the media type the parser settled on; a manifest accepted
// under a manifest Content-Type has that media type; the kind follows the media
// type; only images have layers, only indexes have manifests.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/manifest.h"
#include "fuzz_check.h"

namespace {

using berth::ManifestKind;
namespace mt = berth::media_type;

void check_shape(const berth::ParsedManifest& m) {
  FUZZ_CHECK(berth::is_manifest_media_type(m.media_type));
  const bool index = m.media_type == mt::kOciIndex || m.media_type == mt::kDockerManifestList;
  FUZZ_CHECK((m.kind == ManifestKind::kIndex) == index);
  if (index) {
    FUZZ_CHECK(m.layers.empty() && !m.config);
    FUZZ_CHECK(m.child_manifests().size() == m.manifests.size());
    FUZZ_CHECK(m.required_blobs().empty());
  } else {
    FUZZ_CHECK(m.manifests.empty() && m.config);
    FUZZ_CHECK(m.required_blobs().size() <= m.layers.size() + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  auto plain = berth::parse_manifest(bytes, "");
  if (plain) {
    check_shape(*plain);
    auto again = berth::parse_manifest(bytes, plain->media_type);
    FUZZ_CHECK(again.is_ok());
    FUZZ_CHECK(again->media_type == plain->media_type);
    FUZZ_CHECK(again->kind == plain->kind);
    FUZZ_CHECK(again->layers.size() == plain->layers.size());
    FUZZ_CHECK(again->manifests.size() == plain->manifests.size());
  }
  for (std::string_view ct :
       {mt::kOciManifest, mt::kOciIndex, mt::kDockerManifest, mt::kDockerManifestList}) {
    if (auto m = berth::parse_manifest(bytes, ct)) {
      check_shape(*m);
      FUZZ_CHECK(m->media_type == ct);
    }
  }
  for (std::string_view ct :
       {std::string_view("application/json"), mt::kDockerSchema1Signed,
        std::string_view("application/vnd.oci.image.manifest.v1+json; charset=utf-8")}) {
    if (auto m = berth::parse_manifest(bytes, ct)) check_shape(*m);
  }
  return 0;
}
