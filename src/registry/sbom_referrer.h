// The SBOM berth generates for every image it scans (README, "Image
// scanning"): the CycloneDX 1.5 JSON document of the scan's inventory
// (scan/sbom.h), stored in the image's repository as an OCI referrer of the
// image. The referrer is an OCI image manifest with artifactType
// application/vnd.cyclonedx+json, the OCI empty config, the SBOM as its one
// layer and the image as its subject; it has no tag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"
#include "scan/package.h"

namespace berth {

class Registry;

// The annotation that marks an SBOM referrer as berth's own, and its value.
inline constexpr std::string_view kSbomGeneratorAnnotation = "dev.berth.sbom.generator";
inline constexpr std::string_view kSbomGenerator = "berth";

// Whether `referrer` (or a stored manifest with a subject) is an SBOM berth
// generated: its artifact type and the generator annotation say so. SBOMs
// that users push are never replaced. berth's own SBOMs appear in no event:
// no PUSH when stored, no DELETE or lifecycle EXPIRE when they go with their
// image (README, "Image scanning").
bool is_generated_sbom(const ReferrerRecord& referrer);
bool is_generated_sbom(const ManifestRecord& manifest);

// The referrer manifest of an SBOM blob (`sbom_digest`, `sbom_size` bytes)
// describing `subject`, whose media type, digest and bytes' size make the
// subject descriptor. `created_at_ms` is written as the
// org.opencontainers.image.created annotation. Pure: the same inputs give the
// same bytes.
std::string sbom_referrer_manifest(const ManifestRecord& subject, const Digest& sbom_digest,
                                   int64_t sbom_size, int64_t created_at_ms);

// Stores the SBOMs of scanned images (ScanningService's completion hook).
// Thread-safe, as the Registry it writes through; `registry` must outlive it.
class SbomPublisher {
 public:
  explicit SbomPublisher(Registry& registry) : registry_(registry) {}

  // Generates the SBOM of `inventory` for `image` (with its bytes) in the
  // repository with id `repo`, stores it as a referrer of the image through
  // Registry::put_system_artifact, then deletes berth's other SBOMs of the
  // image. Its times are the image's push time, so the same image with the
  // same inventory always gives the same bytes and digest: a rescan that
  // finds the same packages stores nothing new, one that finds others
  // replaces the SBOM. Returns the referrer manifest's digest; store errors
  // are returned (kNameUnknown when the repository is gone, kManifestUnknown,
  // with no SBOM left behind, when the image was deleted meanwhile).
  Result<Digest> publish(RepositoryId repo, const ManifestRecord& image,
                         const scan::Inventory& inventory);

 private:
  Registry& registry_;
};

}  // namespace berth
