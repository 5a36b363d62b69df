// Images as ECR sees them: resolving image ids, listing, describing, getting,
// deleting and putting, over the same manifests and tags /v2 serves.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/names.h"
#include "meta/metadata_store.h"
#include "registry/registry.h"

namespace berth {

Result<TagStatus> parse_tag_status(std::string_view text) {
  if (text == "ANY") return TagStatus::kAny;
  if (text == "TAGGED") return TagStatus::kTagged;
  if (text == "UNTAGGED") return TagStatus::kUntagged;
  return error(Code::kInvalidArgument,
               "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]");
}

std::string_view format_tag_status(TagStatus status) {
  switch (status) {
    case TagStatus::kTagged:
      return "TAGGED";
    case TagStatus::kUntagged:
      return "UNTAGGED";
    case TagStatus::kAny:
      break;
  }
  return "ANY";
}

bool tag_status_passes(TagStatus status, bool tagged) {
  if (status == TagStatus::kAny) return true;
  return (status == TagStatus::kTagged) == tagged;
}

namespace {

ResolvedImage failed(const ImageId& id, ImageFailure failure, std::string reason) {
  ResolvedImage r;
  r.id = id;
  r.failure = failure;
  r.reason = std::move(reason);
  return r;
}

constexpr std::string_view kNotFoundReason = "Requested image not found";

}  // namespace

Result<ResolvedImage> Registry::resolve_image(const RepositoryRecord& repo, const ImageId& id) {
  if (!id.digest && !id.tag) {
    return failed(id, ImageFailure::kMissingDigestAndTag,
                  "Invalid request parameters: both tag and digest cannot be null");
  }
  std::optional<Digest> digest;
  if (id.digest) {
    auto d = Digest::parse(*id.digest);
    if (!d) {
      return failed(id, ImageFailure::kInvalidDigest,
                    "Invalid request parameters: image digest should satisfy the regex "
                    "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
    }
    digest = *d;
  }
  Result<ManifestRecord> m = error(Code::kManifestUnknown, "");
  if (id.tag) {
    if (!validate_tag(*id.tag).is_ok()) {
      return failed(id, ImageFailure::kInvalidTag,
                    "Invalid request parameters: the image tag is not valid");
    }
    m = meta_.get_manifest_by_tag(repo.id, *id.tag);
  } else {
    m = meta_.get_manifest(repo.id, *digest);
  }
  if (!m) {
    if (m.status().code() != Code::kManifestUnknown) return m.take_status();
    return failed(id, ImageFailure::kNotFound, std::string(kNotFoundReason));
  }
  if (id.tag && digest && !(m->digest == *digest)) {
    return failed(id, ImageFailure::kTagDoesNotMatchDigest,
                  "Invalid request parameters: image tag does not match the image digest");
  }
  ResolvedImage r;
  r.id = id;
  r.manifest = std::move(m).value();
  return r;
}

Result<Page<ImageListEntry>> Registry::list_image_ids(const RepositoryRecord& repo,
                                                      TagStatus status, std::string_view after,
                                                      size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto images, meta_.list_images(repo.id, PageRequest{}));
  // The key orders entries by digest, then tag; an untagged image sorts
  // before any tag of the same digest.
  auto key = [](const ImageListEntry& e) { return e.digest.str() + " " + e.tag.value_or(""); };
  Page<ImageListEntry> page;
  std::string last;
  auto add = [&](ImageListEntry e) {
    std::string k = key(e);
    if (!after.empty() && k <= after) return true;
    if (page.items.size() == limit) {
      page.next_after = last;
      return false;
    }
    page.items.push_back(std::move(e));
    last = std::move(k);
    return true;
  };
  for (const auto& img : images) {
    if (img.tags.empty()) {
      if (tag_status_passes(status, false) &&
          !add(ImageListEntry{img.manifest.digest, std::nullopt}))
        break;
    } else if (tag_status_passes(status, true)) {
      bool more = true;
      for (const auto& t : img.tags) {
        if (!(more = add(ImageListEntry{img.manifest.digest, t}))) break;
      }
      if (!more) break;
    }
  }
  return page;
}

Result<DescribedImages> Registry::describe_images(const RepositoryRecord& repo,
                                                  const std::vector<ImageId>& ids) {
  DescribedImages out;
  std::set<std::string> seen;
  for (const auto& id : ids) {
    BERTH_ASSIGN_OR_RETURN(ResolvedImage r, resolve_image(repo, id));
    if (!r.manifest) {
      out.failure = std::move(r);
      return out;
    }
    if (!seen.insert(r.manifest->digest.str()).second) continue;
    BERTH_ASSIGN_OR_RETURN(auto tags, meta_.tags_for_manifest(repo.id, r.manifest->digest));
    r.manifest->bytes.clear();
    out.details.push_back(ImageDetail{std::move(*r.manifest), std::move(tags)});
  }
  return out;
}

Result<Page<ImageDetail>> Registry::describe_images(const RepositoryRecord& repo, TagStatus status,
                                                    std::string_view after, size_t limit) {
  Page<ImageDetail> page;
  PageRequest req;
  req.after = std::string(after);
  // Filtering may discard entries, so read in batches until the page fills.
  req.limit = limit + 1;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(auto images, meta_.list_images(repo.id, req));
    for (auto& img : images) {
      if (!tag_status_passes(status, !img.tags.empty())) continue;
      if (page.items.size() == limit) {
        page.next_after = req.after;
        return page;
      }
      req.after = img.manifest.digest.str();
      page.items.push_back(ImageDetail{std::move(img.manifest), std::move(img.tags)});
    }
    if (images.size() < req.limit) break;
    req.after = images.back().manifest.digest.str();
  }
  return page;
}

Result<ImageGetOutcome> Registry::batch_get_images(const RepositoryRecord& repo,
                                                   const std::vector<ImageId>& ids,
                                                   const std::vector<std::string>& accepted) {
  ImageGetOutcome out;
  for (const auto& id : ids) {
    BERTH_ASSIGN_OR_RETURN(ResolvedImage r, resolve_image(repo, id));
    if (!r.manifest) {
      out.failures.push_back(std::move(r));
      continue;
    }
    if (!accepted.empty() &&
        std::find(accepted.begin(), accepted.end(), r.manifest->media_type) == accepted.end()) {
      out.failures.push_back(
          failed(id, ImageFailure::kMediaTypeNotAccepted,
                 fmt::format("The image's media type {} is not among the accepted media types",
                             r.manifest->media_type)));
      continue;
    }
    record_pull(repo.id, *r.manifest);
    r.id.digest = r.manifest->digest.str();
    out.images.push_back(std::move(r));
  }
  return out;
}

Result<ImageDeleteOutcome> Registry::batch_delete_images(const RepositoryRecord& repo,
                                                         const std::vector<ImageId>& ids) {
  ImageDeleteOutcome out;
  for (const auto& id : ids) {
    BERTH_ASSIGN_OR_RETURN(ResolvedImage r, resolve_image(repo, id));
    if (!r.manifest) {
      out.failures.push_back(std::move(r));
      continue;
    }
    const Digest digest = r.manifest->digest;
    // A tag alone untags; anything naming the digest deletes the image.
    std::optional<std::string_view> tag;
    if (id.tag && !id.digest) tag = *id.tag;
    Result<ImageDeletion> done = error(Code::kInternal, "not run");
    Status st = run_releasing_reserve(options_.space_reserve, "delete image", [&] {
      done = meta_.delete_image(repo.id, digest, tag, delete_events(repo, /*per_tag=*/true));
      return done.is_ok() ? Status::ok() : done.status();
    });
    if (!st.is_ok()) {
      // Only an image that is gone is an image failure; store trouble (a full
      // disk) fails the call, so nobody is told an existing image is missing.
      if (st.code() == Code::kManifestUnknown) {
        out.failures.push_back(failed(id, ImageFailure::kNotFound, std::string(kNotFoundReason)));
        continue;
      }
      if (st.code() == Code::kManifestReferenced) {
        out.failures.push_back(failed(id, ImageFailure::kReferencedByIndex, st.message()));
        continue;
      }
      return st;
    }
    if (done->manifest_deleted) delete_referrers_of(repo, digest);
    if (tag) {
      out.deleted.push_back(ImageListEntry{digest, std::string(*tag)});
      if (done->kept_for_index) {
        out.failures.push_back(
            failed(id, ImageFailure::kReferencedByIndex,
                   fmt::format("manifest is referenced by index {}; delete the index first",
                               done->kept_for_index->str())));
      }
      continue;
    }
    if (done->tags.empty()) out.deleted.push_back(ImageListEntry{digest, std::nullopt});
    for (auto& t : done->tags) out.deleted.push_back(ImageListEntry{digest, std::move(t)});
  }
  return out;
}

Result<Digest> image_digest(std::string_view manifest, const std::optional<std::string>& digest) {
  if (!digest) return Digest::of(manifest);
  auto wanted = Digest::parse(*digest);
  if (!wanted) return error(Code::kInvalidArgument, "Invalid parameter at 'imageDigest'");
  Digest actual = Digest::of(manifest, wanted->algorithm());
  if (!(actual == *wanted)) {
    return error(
        Code::kDigestInvalid,
        fmt::format("The supplied image digest {} does not match the digest of the manifest {}",
                    wanted->str(), actual.str()));
  }
  return actual;
}

Result<PutManifestResult> Registry::put_image(const RepositoryRecord& repo,
                                              const PutImageRequest& request) {
  BERTH_ASSIGN_OR_RETURN(Digest digest, image_digest(request.manifest, request.digest));
  std::string reference = request.tag ? *request.tag : digest.str();
  return put_manifest(repo, reference, request.manifest, request.media_type,
                      request.media_type_given,
                      /*refuse_existing=*/true);
}

// --- pulls -------------------------------------------------------------------------

Result<ResolvedManifest> Registry::pull_manifest(std::string_view account, std::string_view name,
                                                 std::string_view reference, bool record) {
  BERTH_ASSIGN_OR_RETURN(ResolvedManifest found, get_manifest(account, name, reference));
  if (record) record_pull(found.repository, found.manifest);
  return found;
}

void Registry::record_pull(RepositoryId repo, const ManifestRecord& manifest) {
  int64_t now = clock_.now_millis();
  if (manifest.last_pulled_at_ms && now - *manifest.last_pulled_at_ms < kPullRecordIntervalMs)
    return;
  (void)meta_.record_pull(repo, manifest.digest, now);
}

}  // namespace berth
