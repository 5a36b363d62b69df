// An SBOM of an image's inventory: CycloneDX 1.5 JSON listing the OS packages
// with package URLs (pkg:deb/..., pkg:apk/...), pushed as an OCI referrer of
// the image (artifactType application/vnd.cyclonedx+json).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "scan/package.h"

namespace berth::scan {

inline constexpr std::string_view kSbomArtifactType = "application/vnd.cyclonedx+json";

// Deterministic for the same inputs (serialNumber derived from the image digest and time).
std::string cyclonedx_sbom(const Inventory& inventory, std::string_view repository,
                           std::string_view image_digest, int64_t created_at_ms);

// The package URL of one package, e.g.
// "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12".
std::string package_url(const InstalledPackage& p, const std::optional<OsRelease>& os);

}  // namespace berth::scan
