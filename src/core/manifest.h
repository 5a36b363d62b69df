// Manifest parsing and validation: OCI image manifest and index, Docker schema 2
// manifest and manifest list. Pure: bytes in, a ParsedManifest or an error out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/status.h"

namespace berth {

namespace media_type {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
}  // namespace media_type

inline constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
  // A descriptor with `urls` (foreign / non-distributable layer) need not exist
  // in the registry.
  bool external = false;
};

enum class ManifestKind { kImage, kIndex };

struct ParsedManifest {
  ManifestKind kind = ManifestKind::kImage;
  std::string media_type;       // the effective media type; what GET returns as Content-Type
  std::string artifact_type;    // artifactType, or for images without it the config media type
  std::optional<Descriptor> config;
  std::vector<Descriptor> layers;     // images only
  std::vector<Descriptor> manifests;  // indexes only
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  // Blobs the registry must hold for this manifest to be valid (config and
  // non-external layers).
  std::vector<Digest> required_blobs() const;
  // Child manifests (entries of an index).
  std::vector<Digest> child_manifests() const;
};

// Parses `bytes` pushed with HTTP Content-Type `content_type` (may be empty).
// The media type is taken from the document's `mediaType` field, else from the
// Content-Type, else inferred from the structure; when both are present they
// must agree. Schema 1 is refused with kManifestInvalid naming it. Returns
// kManifestInvalid with a precise message for anything that breaks the schema.
// A Docker schema 2 manifest must carry its own mediaType, unless
// `media_type_given` says the caller names it out of band (ECR PutImage's
// imageManifestMediaType) in `content_type`.
Result<ParsedManifest> parse_manifest(std::string_view bytes, std::string_view content_type,
                                      bool media_type_given = false);

// True for the four manifest media types berth stores.
bool is_manifest_media_type(std::string_view media_type);

}  // namespace berth
