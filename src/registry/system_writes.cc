// What the registry writes and deletes on its own behalf (registry.h, "the
// registry's own artifacts"), and the referrers that follow a deleted subject.
#include <set>
#include <utility>

#include <fmt/format.h>

#include "log/log.h"
#include "meta/metadata_store.h"
#include "registry/registry.h"
#include "registry/sbom_referrer.h"

namespace berth {

namespace {

// Referrers of referrers are followed this deep (a signature of an SBOM of
// an image is two levels); deeper chains stay for garbage collection.
constexpr int kReferrerDepth = 8;

}  // namespace

Result<RepositoryRecord> Registry::repository_by_id(RepositoryId id) {
  return meta_.get_repository_by_id(id);
}

Result<Digest> Registry::put_system_artifact(const RepositoryRecord& repo,
                                             const std::vector<std::string>& blobs,
                                             std::string_view manifest,
                                             std::string_view media_type) {
  for (const std::string& bytes : blobs) {
    const Digest digest = Digest::of(bytes);
    // Already linked with the right size: nothing to write.
    if (auto link = meta_.get_blob_link(repo.id, digest);
        link.is_ok() && link->size == static_cast<int64_t>(bytes.size())) {
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(auto put, begin_blob_put(repo, Uploader{}));
    if (Status s = put->write(bytes.data(), bytes.size()); !s.is_ok()) {
      cancel_blob_put(std::move(put));
      return s;
    }
    BERTH_RETURN_IF_ERROR(finish_blob_put(repo, std::move(put), digest).status());
  }
  const Digest digest = Digest::of(manifest);
  BERTH_ASSIGN_OR_RETURN(auto stored,
                         store_manifest(repo, digest.str(), manifest, media_type,
                                        /*media_type_given=*/true, /*refuse_existing=*/false,
                                        /*system_write=*/true));
  return stored.digest;
}

Status Registry::delete_system_manifest(const RepositoryRecord& repo, const Digest& digest) {
  BERTH_RETURN_IF_ERROR(run_releasing_reserve(options_.space_reserve, "delete manifest", [&] {
    return meta_.delete_manifest(repo.id, digest);
  }));
  delete_referrers_of(repo, digest);
  return Status::ok();
}

void Registry::delete_referrers_of(const RepositoryRecord& repo, const Digest& subject) {
  std::vector<std::pair<Digest, int>> pending{{subject, 0}};
  std::set<std::string> seen{subject.str()};
  while (!pending.empty()) {
    auto [parent, depth] = std::move(pending.back());
    pending.pop_back();
    auto referrers = meta_.list_referrers(repo.id, parent, std::nullopt);
    if (!referrers.is_ok()) {
      log::warn("cannot list the referrers of a deleted manifest",
                {{"repository", repo.name},
                 {"digest", parent.str()},
                 {"error", referrers.status().to_string()}});
      continue;
    }
    for (const ReferrerRecord& r : *referrers) {
      if (!seen.insert(r.digest.str()).second) continue;
      // berth's own SBOMs are reported by no event (they were pushed by none).
      const DeletionEvents events =
          is_generated_sbom(r) ? DeletionEvents{} : delete_events(repo, /*per_tag=*/false);
      Status s = run_releasing_reserve(options_.space_reserve, "delete referrer", [&] {
        return meta_.delete_manifest(repo.id, r.digest, events);
      });
      if (s.code() == Code::kManifestUnknown) continue;  // deleted meanwhile
      if (!s.is_ok()) {
        log::warn("a referrer of a deleted manifest stays", {{"repository", repo.name},
                                                             {"subject", parent.str()},
                                                             {"digest", r.digest.str()},
                                                             {"reason", s.to_string()}});
        continue;
      }
      if (depth + 1 < kReferrerDepth) pending.emplace_back(r.digest, depth + 1);
    }
  }
}

}  // namespace berth
