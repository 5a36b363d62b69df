#include "registry/sbom_referrer.h"

#include <boost/json.hpp>
#include <map>
#include <utility>
#include <vector>

#include "core/events.h"
#include "core/manifest.h"
#include "log/log.h"
#include "registry/registry.h"
#include "scan/sbom.h"

namespace berth {

namespace {

namespace json = boost::json;

// The OCI empty descriptor's blob: the two bytes "{}".
constexpr std::string_view kEmptyConfig = "{}";

json::object descriptor(std::string_view media_type, const Digest& digest, int64_t size) {
  json::object d;
  d["mediaType"] = media_type;
  d["digest"] = digest.str();
  d["size"] = size;
  return d;
}

}  // namespace

namespace {

bool generated_sbom(std::string_view artifact_type,
                    const std::map<std::string, std::string>& annotations) {
  if (artifact_type != scan::kSbomArtifactType) return false;
  auto it = annotations.find(std::string(kSbomGeneratorAnnotation));
  return it != annotations.end() && it->second == kSbomGenerator;
}

}  // namespace

bool is_generated_sbom(const ReferrerRecord& referrer) {
  return generated_sbom(referrer.artifact_type, referrer.annotations);
}

bool is_generated_sbom(const ManifestRecord& manifest) {
  return manifest.subject.has_value() &&
         generated_sbom(manifest.artifact_type, manifest.annotations);
}

std::string sbom_referrer_manifest(const ManifestRecord& subject, const Digest& sbom_digest,
                                   int64_t sbom_size, int64_t created_at_ms) {
  json::object layer = descriptor(scan::kSbomArtifactType, sbom_digest, sbom_size);
  layer["annotations"] = json::object{{"org.opencontainers.image.title", "sbom.cdx.json"}};

  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = media_type::kOciManifest;
  m["artifactType"] = scan::kSbomArtifactType;
  m["config"] = descriptor(media_type::kOciEmpty, Digest::of(kEmptyConfig), 2);
  m["layers"] = json::array{std::move(layer)};
  m["subject"] =
      descriptor(subject.media_type, subject.digest, static_cast<int64_t>(subject.bytes.size()));
  json::object annotations;
  annotations["org.opencontainers.image.created"] = event_time(created_at_ms);
  annotations[kSbomGeneratorAnnotation] = kSbomGenerator;
  m["annotations"] = std::move(annotations);
  return json::serialize(m);
}

Result<Digest> SbomPublisher::publish(RepositoryId repo_id, const ManifestRecord& image,
                                      const scan::Inventory& inventory) {
  BERTH_ASSIGN_OR_RETURN(RepositoryRecord repo, registry_.repository_by_id(repo_id));
  std::string sbom =
      scan::cyclonedx_sbom(inventory, repo.name, image.digest.str(), image.pushed_at_ms);
  const Digest sbom_digest = Digest::of(sbom);
  const std::string manifest = sbom_referrer_manifest(
      image, sbom_digest, static_cast<int64_t>(sbom.size()), image.pushed_at_ms);
  BERTH_ASSIGN_OR_RETURN(Digest digest, registry_.put_system_artifact(
                                            repo, {std::string(kEmptyConfig), std::move(sbom)},
                                            manifest, media_type::kOciManifest));
  // The image may have been deleted since it was scanned. Deleted before the
  // put above, its referrers' cascade missed this one, so it goes here;
  // deleted after, the cascade took it.
  auto subject = registry_.get_manifest(repo, image.digest.str());
  if (!subject.is_ok()) {
    if (subject.status().code() == Code::kManifestUnknown) {
      Status s = registry_.delete_system_manifest(repo, digest);
      if (!s.is_ok() && s.code() != Code::kManifestUnknown) return s;
    }
    return subject.take_status();
  }
  // Only now the earlier ones go: the image always has an SBOM listed.
  BERTH_ASSIGN_OR_RETURN(auto referrers,
                         registry_.list_referrers(repo, image.digest, scan::kSbomArtifactType));
  for (const ReferrerRecord& r : referrers) {
    if (r.digest == digest || !is_generated_sbom(r)) continue;
    Status s = registry_.delete_system_manifest(repo, r.digest);
    if (!s.is_ok() && s.code() != Code::kManifestUnknown) return s;
  }
  return digest;
}

}  // namespace berth
