// Image operations: list, describe, get, delete and put, over the same
// Registry the /v2 API uses.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/manifest.h"
#include "core/names.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

struct ImageId {
  std::optional<std::string> digest;
  std::optional<std::string> tag;
  json::object as_json() const {
    json::object o;
    if (digest) o["imageDigest"] = *digest;
    if (tag) o["imageTag"] = *tag;
    return o;
  }
};

Field<std::vector<ImageId>> read_image_ids(const json::object& in, bool required) {
  std::vector<ImageId> out;
  ECR_ASSIGN(auto arr, opt_array(in, "imageIds", 1, 100));
  if (!arr) {
    if (required) return constraint_error("imageIds", "must not be null");
    return out;
  }
  for (const auto& v : **arr) {
    if (!v.is_object()) return serialization_error("imageIds", "a list of ImageIdentifier structures");
    ImageId id;
    ECR_ASSIGN(id.digest, opt_string(v.as_object(), "imageDigest"));
    ECR_ASSIGN(id.tag, opt_string(v.as_object(), "imageTag", 1, 300));
    out.push_back(std::move(id));
  }
  return out;
}

json::object failure(const ImageId& id, std::string_view code, std::string_view reason) {
  return json::object{{"imageId", id.as_json()}, {"failureCode", code}, {"failureReason", reason}};
}

// Resolves an image id to a manifest. On failure returns (code, reason).
struct Resolved {
  std::optional<ManifestRecord> manifest;
  std::string failure_code;
  std::string failure_reason;
  Status store_error;  // not ok: the store failed, which no image failure code describes
};

Resolved resolve(MetadataStore& meta, RepositoryId repo, const ImageId& id) {
  Resolved r;
  if (!id.digest && !id.tag) {
    r.failure_code = "MissingDigestAndTag";
    r.failure_reason = "Invalid request parameters: both tag and digest cannot be null";
    return r;
  }
  std::optional<Digest> digest;
  if (id.digest) {
    auto d = Digest::parse(*id.digest);
    if (!d) {
      r.failure_code = "InvalidImageDigest";
      r.failure_reason = "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'";
      return r;
    }
    digest = *d;
  }
  if (id.tag) {
    if (!validate_tag(*id.tag).is_ok()) {
      r.failure_code = "InvalidImageTag";
      r.failure_reason = "Invalid request parameters: the image tag is not valid";
      return r;
    }
    auto m = meta.get_manifest_by_tag(repo, *id.tag);
    if (!m && m.status().code() != Code::kManifestUnknown) {
      r.store_error = m.take_status();
      return r;
    }
    if (!m) {
      r.failure_code = "ImageNotFound";
      r.failure_reason = "Requested image not found";
      return r;
    }
    if (digest && !(m->digest == *digest)) {
      r.failure_code = "ImageTagDoesNotMatchDigest";
      r.failure_reason = "Invalid request parameters: image tag does not match the image digest";
      return r;
    }
    r.manifest = std::move(m).value();
    return r;
  }
  auto m = meta.get_manifest(repo, *digest);
  if (!m && m.status().code() != Code::kManifestUnknown) {
    r.store_error = m.take_status();
    return r;
  }
  if (!m) {
    r.failure_code = "ImageNotFound";
    r.failure_reason = "Requested image not found";
    return r;
  }
  r.manifest = std::move(m).value();
  return r;
}

Field<std::optional<std::string>> tag_status_filter(const json::object& in) {
  ECR_ASSIGN(auto filter, opt_object(in, "filter"));
  if (!filter) return std::optional<std::string>();
  ECR_ASSIGN(auto status, opt_string(**filter, "tagStatus"));
  if (status && *status != "TAGGED" && *status != "UNTAGGED" && *status != "ANY") {
    return constraint_error("filter.tagStatus", "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]");
  }
  ECR_ASSIGN(auto image_status, opt_string(**filter, "imageStatus"));
  if (image_status && *image_status != "ACTIVE" && *image_status != "ANY" && *image_status != "ARCHIVED" &&
      *image_status != "ACTIVATING") {
    return constraint_error("filter.imageStatus", "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]");
  }
  return status;
}

bool passes(const std::optional<std::string>& status, bool tagged) {
  if (!status || *status == "ANY") return true;
  return (*status == "TAGGED") == tagged;
}

}  // namespace

EcrResult EcrApi::list_images(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto page, paging(c.input, 1000, 100));
  ECR_ASSIGN(auto status, tag_status_filter(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  auto images = registry_.metadata().list_images(repo->id, PageRequest{});
  if (!images) return from_status(images.status());
  // One entry per tag, one per untagged image; ordered by digest then tag.
  std::vector<std::pair<std::string, json::object>> entries;
  for (const auto& img : *images) {
    const std::string& d = img.manifest.digest.str();
    if (img.tags.empty()) {
      if (passes(status, false)) entries.emplace_back(d + " ", json::object{{"imageDigest", d}});
    } else if (passes(status, true)) {
      for (const auto& t : img.tags) entries.emplace_back(d + " " + t, json::object{{"imageDigest", d}, {"imageTag", t}});
    }
  }
  std::string after;
  std::string scope = fmt::format("{}/{}/{}", c.account, name, status.value_or("ANY"));
  if (page.next_token) {
    auto a = read_next_token(c.operation, scope, *page.next_token);
    if (!a) return invalid_parameter(a.status().message());
    after = *a;
  }
  json::array ids;
  json::object result;
  std::string last;
  for (auto& [key, entry] : entries) {
    if (!after.empty() && key <= after) continue;
    if (ids.size() == page.max_results) {
      result["nextToken"] = make_next_token(c.operation, scope, last);
      break;
    }
    ids.push_back(std::move(entry));
    last = key;
  }
  result["imageIds"] = std::move(ids);
  return result;
}

EcrResult EcrApi::describe_images(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto ids, read_image_ids(c.input, false));
  ECR_ASSIGN(auto page, paging(c.input, 1000, 100));
  ECR_ASSIGN(auto status, tag_status_filter(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  auto& meta = registry_.metadata();

  auto detail = [&](const ManifestRecord& m, const std::vector<std::string>& tags) {
    json::object d{{"registryId", c.account},
                   {"repositoryName", name},
                   {"imageDigest", m.digest.str()},
                   {"imageSizeInBytes", m.image_size},
                   {"imagePushedAt", timestamp_ms(m.pushed_at_ms)},
                   {"imageManifestMediaType", m.media_type}};
    if (!tags.empty()) {
      json::array t;
      for (const auto& tag : tags) t.emplace_back(tag);
      d["imageTags"] = std::move(t);
    }
    if (!m.artifact_type.empty()) d["artifactMediaType"] = m.artifact_type;
    if (m.last_pulled_at_ms) d["lastRecordedPullTime"] = timestamp_ms(*m.last_pulled_at_ms);
    if (m.subject) d["subjectManifestDigest"] = m.subject->str();
    d["imageStatus"] = "ACTIVE";
    return d;
  };

  json::array details;
  if (!ids.empty()) {
    if (page.next_token || page.explicit_max) {
      return invalid_parameter("Invalid parameter: nextToken and maxResults cannot be used with imageIds");
    }
    std::map<std::string, bool> seen;
    for (const auto& id : ids) {
      Resolved r = resolve(meta, repo->id, id);
      if (!r.store_error.is_ok()) return from_status(r.store_error);
      if (!r.manifest) {
        if (r.failure_code == "ImageNotFound" || r.failure_code == "ImageTagDoesNotMatchDigest") {
          return ecr_error(
              "ImageNotFoundException",
              fmt::format("The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the "
                          "repository with name '{}' in the registry with id '{}'",
                          id.digest.value_or("null"), id.tag.value_or("null"), name, c.account));
        }
        return invalid_parameter(r.failure_reason);
      }
      if (seen[r.manifest->digest.str()]) continue;
      seen[r.manifest->digest.str()] = true;
      auto tags = meta.tags_for_manifest(repo->id, r.manifest->digest);
      if (!tags) return from_status(tags.status());
      details.push_back(detail(*r.manifest, *tags));
    }
    return json::object{{"imageDetails", std::move(details)}};
  }

  std::string scope = fmt::format("{}/{}/{}", c.account, name, status.value_or("ANY"));
  PageRequest req;
  if (page.next_token) {
    auto a = read_next_token(c.operation, scope, *page.next_token);
    if (!a) return invalid_parameter(a.status().message());
    req.after = *a;
  }
  json::object result;
  // Filtering may discard entries, so read in batches until the page fills.
  req.limit = page.max_results + 1;
  while (true) {
    auto images = meta.list_images(repo->id, req);
    if (!images) return from_status(images.status());
    for (const auto& img : *images) {
      if (!passes(status, !img.tags.empty())) continue;
      if (details.size() == page.max_results) {
        result["nextToken"] = make_next_token(c.operation, scope, req.after);
        result["imageDetails"] = std::move(details);
        return result;
      }
      details.push_back(detail(img.manifest, img.tags));
      req.after = img.manifest.digest.str();
    }
    if (images->size() < req.limit) break;
    req.after = images->back().manifest.digest.str();
  }
  result["imageDetails"] = std::move(details);
  return result;
}

EcrResult EcrApi::batch_get_image(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto ids, read_image_ids(c.input, true));
  ECR_ASSIGN(auto accepted_arr, opt_array(c.input, "acceptedMediaTypes", 1, 100));
  std::vector<std::string> accepted;
  if (accepted_arr) {
    for (const auto& v : **accepted_arr) {
      if (!v.is_string()) return serialization_error("acceptedMediaTypes", "a list of strings");
      accepted.emplace_back(v.as_string());
    }
  }
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  json::array images;
  json::array failures;
  int64_t now = registry_.clock().now_millis();
  for (const auto& id : ids) {
    Resolved r = resolve(registry_.metadata(), repo->id, id);
    if (!r.store_error.is_ok()) return from_status(r.store_error);
    if (!r.manifest) {
      failures.push_back(failure(id, r.failure_code, r.failure_reason));
      continue;
    }
    if (!accepted.empty() &&
        std::find(accepted.begin(), accepted.end(), r.manifest->media_type) == accepted.end()) {
      failures.push_back(failure(id, "ImageNotFound",
                                 fmt::format("The image's media type {} is not among the accepted media types",
                                             r.manifest->media_type)));
      continue;
    }
    ImageId echoed = id;
    echoed.digest = r.manifest->digest.str();
    images.push_back(json::object{{"registryId", c.account},
                                  {"repositoryName", name},
                                  {"imageId", echoed.as_json()},
                                  {"imageManifest", r.manifest->bytes},
                                  {"imageManifestMediaType", r.manifest->media_type}});
    (void)registry_.metadata().record_pull(repo->id, r.manifest->digest, now);
  }
  return json::object{{"images", std::move(images)}, {"failures", std::move(failures)}};
}

EcrResult EcrApi::batch_delete_image(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto ids, read_image_ids(c.input, true));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  auto& meta = registry_.metadata();
  json::array deleted;
  json::array failures;
  for (const auto& id : ids) {
    Resolved r = resolve(meta, repo->id, id);
    if (!r.store_error.is_ok()) return from_status(r.store_error);
    if (!r.manifest) {
      failures.push_back(failure(id, r.failure_code, r.failure_reason));
      continue;
    }
    const Digest& digest = r.manifest->digest;
    auto tags = meta.tags_for_manifest(repo->id, digest);
    if (!tags) return from_status(tags.status());
    bool delete_image = true;
    if (id.tag && !id.digest) {
      // Untag; the image goes with its last tag.
      if (Status s = registry_.delete_manifest(*repo, *id.tag); !s.is_ok()) {
        // Only a tag that is gone is an image failure; store trouble (a full
        // disk) fails the call, so nobody is told an existing image is missing.
        if (s.code() != Code::kManifestUnknown) return from_status(s);
        failures.push_back(failure(id, "ImageNotFound", "Requested image not found"));
        continue;
      }
      delete_image = tags->size() <= 1;
      deleted.push_back(json::object{{"imageDigest", digest.str()}, {"imageTag", *id.tag}});
    }
    if (delete_image) {
      Status s = registry_.delete_manifest(*repo, digest.str());
      if (s.code() == Code::kManifestReferenced) {
        failures.push_back(failure(id, "ImageReferencedByManifestList", s.message()));
        continue;
      }
      if (!s.is_ok() && s.code() != Code::kManifestUnknown) return from_status(s);
      if (!(id.tag && !id.digest)) {
        if (tags->empty()) deleted.push_back(json::object{{"imageDigest", digest.str()}});
        for (const auto& t : *tags) deleted.push_back(json::object{{"imageDigest", digest.str()}, {"imageTag", t}});
      }
    }
  }
  return json::object{{"imageIds", std::move(deleted)}, {"failures", std::move(failures)}};
}

EcrResult EcrApi::put_image(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto manifest, req_string(c.input, "imageManifest", 1, kMaxManifestBytes));
  ECR_ASSIGN(auto media_type, opt_string(c.input, "imageManifestMediaType"));
  ECR_ASSIGN(auto tag, opt_string(c.input, "imageTag", 1, 300));
  ECR_ASSIGN(auto digest_text, opt_string(c.input, "imageDigest"));
  auto repo = repository(c, name);
  if (!repo) return repository_not_found(c, name);
  if (tag && !validate_tag(*tag).is_ok()) {
    return constraint_error("imageTag", "must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'");
  }
  Digest digest = Digest::of(manifest);
  if (digest_text) {
    auto wanted = Digest::parse(*digest_text);
    if (!wanted) return invalid_parameter("Invalid parameter at 'imageDigest'");
    digest = Digest::of(manifest, wanted->algorithm());
    if (!(digest == *wanted)) {
      return ecr_error("ImageDigestDoesNotMatchException",
                       fmt::format("The supplied image digest {} does not match the digest of the manifest {}",
                                   wanted->str(), digest.str()));
    }
  }
  // The media type is the request's, else the manifest's own; ECR refuses a
  // manifest that names none with the same words as one that is not JSON.
  if (!media_type) {
    boost::system::error_code ec;
    json::value doc = json::parse(manifest, ec);
    if (ec || !doc.is_object() || !doc.as_object().contains("mediaType")) {
      return invalid_parameter("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'");
    }
  }
  auto parsed = parse_manifest(manifest, media_type.value_or(""), media_type.has_value());
  if (!parsed) {
    if (!media_type && parsed.status().code() == Code::kManifestInvalid) {
      return invalid_parameter(fmt::format("Invalid parameter: {}", parsed.status().message()));
    }
    return invalid_parameter(parsed.status().message());
  }
  auto& meta = registry_.metadata();
  auto existing = meta.get_manifest(repo->id, digest);
  if (existing) {
    bool same = !tag;
    if (tag) {
      auto current = meta.get_manifest_by_tag(repo->id, *tag);
      same = current && current->digest == digest;
    }
    if (same) {
      return ecr_error("ImageAlreadyExistsException",
                       fmt::format("Image with digest '{}' and tag '{}' already exists in the repository with name "
                                   "'{}' in registry with id '{}'",
                                   digest.str(), tag.value_or("null"), name, c.account));
    }
  }
  std::string reference = tag ? *tag : digest.str();
  auto put = registry_.put_manifest(*repo, reference, manifest, parsed->media_type, media_type.has_value());
  if (!put) {
    const Status& s = put.status();
    switch (s.code()) {
      case Code::kManifestBlobUnknown: return ecr_error("LayersNotFoundException", s.message());
      case Code::kManifestUnknown: return ecr_error("ReferencedImagesNotFoundException", s.message());
      case Code::kTagImmutable:
        return ecr_error("ImageTagAlreadyExistsException",
                         fmt::format("The image tag '{}' already exists in the '{}' repository and cannot be "
                                     "overwritten because the repository is immutable.",
                                     tag.value_or(""), name));
      default: return from_status(s);
    }
  }
  ImageId id{put->digest.str(), tag};
  return json::object{{"image", json::object{{"registryId", c.account},
                                             {"repositoryName", name},
                                             {"imageId", id.as_json()},
                                             {"imageManifest", manifest},
                                             {"imageManifestMediaType", parsed->media_type}}}};
}

}  // namespace berth::ecr
