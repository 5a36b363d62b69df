// Image operations: list, describe, get, delete and put. Wire mapping only:
// the meaning lives in the Registry's image functions (registry/images.cc).
#include <fmt/format.h>
#include <boost/json.hpp>

#include <map>
#include <vector>

#include "core/manifest.h"
#include "core/names.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

json::object id_json(const ImageId& id) {
  json::object o;
  if (id.digest) o["imageDigest"] = *id.digest;
  if (id.tag) o["imageTag"] = *id.tag;
  return o;
}

json::object entry_json(const ImageListEntry& e) {
  json::object o{{"imageDigest", e.digest.str()}};
  if (e.tag) o["imageTag"] = *e.tag;
  return o;
}

Field<std::vector<ImageId>> read_image_ids(const json::object& in, bool required) {
  std::vector<ImageId> out;
  ECR_ASSIGN(auto arr, opt_array(in, "imageIds", 1, 100));
  if (!arr) {
    if (required) return constraint_error("imageIds", "must not be null");
    return out;
  }
  for (const auto& v : **arr) {
    if (!v.is_object())
      return serialization_error("imageIds", "a list of ImageIdentifier structures");
    ImageId id;
    ECR_ASSIGN(id.digest, opt_string(v.as_object(), "imageDigest"));
    ECR_ASSIGN(id.tag, opt_string(v.as_object(), "imageTag", 1, 300));
    out.push_back(std::move(id));
  }
  return out;
}

std::string_view failure_code(ImageFailure f) {
  switch (f) {
    case ImageFailure::kMissingDigestAndTag:
      return "MissingDigestAndTag";
    case ImageFailure::kInvalidDigest:
      return "InvalidImageDigest";
    case ImageFailure::kInvalidTag:
      return "InvalidImageTag";
    case ImageFailure::kTagDoesNotMatchDigest:
      return "ImageTagDoesNotMatchDigest";
    case ImageFailure::kReferencedByIndex:
      return "ImageReferencedByManifestList";
    case ImageFailure::kNotFound:
    case ImageFailure::kMediaTypeNotAccepted:
    case ImageFailure::kNone:
      break;
  }
  return "ImageNotFound";
}

json::object failure_json(const ResolvedImage& r) {
  return json::object{{"imageId", id_json(r.id)},
                      {"failureCode", failure_code(r.failure)},
                      {"failureReason", r.reason}};
}

Field<TagStatus> tag_status_filter(const json::object& in) {
  ECR_ASSIGN(auto filter, opt_object(in, "filter"));
  if (!filter) return TagStatus::kAny;
  ECR_ASSIGN(auto status, opt_string(**filter, "tagStatus"));
  TagStatus out = TagStatus::kAny;
  if (status) {
    auto parsed = parse_tag_status(*status);
    if (!parsed) return constraint_error("filter.tagStatus", parsed.status().message());
    out = *parsed;
  }
  ECR_ASSIGN(auto image_status, opt_string(**filter, "imageStatus"));
  if (image_status && *image_status != "ACTIVE" && *image_status != "ANY" &&
      *image_status != "ARCHIVED" && *image_status != "ACTIVATING") {
    return constraint_error(
        "filter.imageStatus",
        "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]");
  }
  return out;
}

}  // namespace

EcrResult EcrApi::list_images(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto page, paging(c.input, 1000, 100));
  ECR_ASSIGN(auto status, tag_status_filter(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  std::string after;
  std::string scope = fmt::format("{}/{}/{}", c.account, name, format_tag_status(status));
  if (page.next_token) {
    auto a = read_next_token(c.operation, scope, *page.next_token);
    if (!a) return invalid_parameter(a.status().message());
    after = *a;
  }
  auto entries = registry_.list_image_ids(*repo, status, after, page.max_results);
  if (!entries) return from_status(entries.status());
  json::array ids;
  for (const auto& e : entries->items) ids.push_back(entry_json(e));
  json::object result;
  if (entries->next_after)
    result["nextToken"] = make_next_token(c.operation, scope, *entries->next_after);
  result["imageIds"] = std::move(ids);
  return result;
}

EcrResult EcrApi::describe_images(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto ids, read_image_ids(c.input, false));
  ECR_ASSIGN(auto page, paging(c.input, 1000, 100));
  ECR_ASSIGN(auto status, tag_status_filter(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());

  // The page's scan summaries come from one query (scan_summaries_json). Each image of a page
  // is described once, so detail() moves its summary's members out rather than copying them.
  std::map<Digest, json::object> summaries;
  auto summarize = [&](const std::vector<ImageDetail>& page) {
    std::vector<Digest> digests;
    digests.reserve(page.size());
    for (const ImageDetail& img : page) digests.push_back(img.manifest.digest);
    summaries = scan_summaries_json(*repo, digests);
  };
  auto detail = [&](const ImageDetail& img) {
    const ManifestRecord& m = img.manifest;
    json::object d{{"registryId", c.account},
                   {"repositoryName", name},
                   {"imageDigest", m.digest.str()},
                   {"imageSizeInBytes", m.image_size},
                   {"imagePushedAt", timestamp_ms(m.pushed_at_ms)},
                   {"imageManifestMediaType", m.media_type}};
    if (!img.tags.empty()) {
      json::array t;
      for (const auto& tag : img.tags) t.emplace_back(tag);
      d["imageTags"] = std::move(t);
    }
    if (!m.artifact_type.empty()) d["artifactMediaType"] = m.artifact_type;
    if (m.last_pulled_at_ms) d["lastRecordedPullTime"] = timestamp_ms(*m.last_pulled_at_ms);
    if (m.subject) d["subjectManifestDigest"] = m.subject->str();
    d["imageStatus"] = "ACTIVE";
    auto summary = summaries.find(m.digest);
    if (summary != summaries.end()) {
      for (auto& [k, v] : summary->second) d[k] = std::move(v);
    }
    return d;
  };

  json::array details;
  if (!ids.empty()) {
    if (page.next_token || page.explicit_max) {
      return invalid_parameter(
          "Invalid parameter: nextToken and maxResults cannot be used with imageIds");
    }
    auto described = registry_.describe_images(*repo, ids);
    if (!described) return from_status(described.status());
    if (const auto& f = described->failure) {
      if (f->failure == ImageFailure::kNotFound ||
          f->failure == ImageFailure::kTagDoesNotMatchDigest) {
        return ecr_error("ImageNotFoundException",
                         fmt::format("The image with imageId {{imageDigest:'{}', imageTag:'{}'}} "
                                     "does not exist within the "
                                     "repository with name '{}' in the registry with id '{}'",
                                     f->id.digest.value_or("null"), f->id.tag.value_or("null"),
                                     name, c.account));
      }
      return invalid_parameter(f->reason);
    }
    summarize(described->details);
    for (const auto& img : described->details) details.push_back(detail(img));
    return json::object{{"imageDetails", std::move(details)}};
  }

  std::string scope = fmt::format("{}/{}/{}", c.account, name, format_tag_status(status));
  std::string after;
  if (page.next_token) {
    auto a = read_next_token(c.operation, scope, *page.next_token);
    if (!a) return invalid_parameter(a.status().message());
    after = *a;
  }
  auto images = registry_.describe_images(*repo, status, after, page.max_results);
  if (!images) return from_status(images.status());
  summarize(images->items);
  for (const auto& img : images->items) details.push_back(detail(img));
  json::object result;
  if (images->next_after)
    result["nextToken"] = make_next_token(c.operation, scope, *images->next_after);
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
  if (!repo) return repository_error(c, name, repo.status());
  auto got = registry_.batch_get_images(*repo, ids, accepted);
  if (!got) return from_status(got.status());
  json::array images;
  json::array failures;
  for (const auto& r : got->images) {
    images.push_back(json::object{{"registryId", c.account},
                                  {"repositoryName", name},
                                  {"imageId", id_json(r.id)},
                                  {"imageManifest", r.manifest->bytes},
                                  {"imageManifestMediaType", r.manifest->media_type}});
  }
  for (const auto& f : got->failures) failures.push_back(failure_json(f));
  return json::object{{"images", std::move(images)}, {"failures", std::move(failures)}};
}

EcrResult EcrApi::batch_delete_image(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto ids, read_image_ids(c.input, true));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto done = registry_.batch_delete_images(*repo, ids);
  if (!done) return from_status(done.status());
  json::array deleted;
  json::array failures;
  for (const auto& e : done->deleted) deleted.push_back(entry_json(e));
  for (const auto& f : done->failures) failures.push_back(failure_json(f));
  return json::object{{"imageIds", std::move(deleted)}, {"failures", std::move(failures)}};
}

EcrResult EcrApi::put_image(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto manifest, req_string(c.input, "imageManifest", 1, kMaxManifestBytes));
  ECR_ASSIGN(auto media_type, opt_string(c.input, "imageManifestMediaType"));
  ECR_ASSIGN(auto tag, opt_string(c.input, "imageTag", 1, 300));
  ECR_ASSIGN(auto digest_text, opt_string(c.input, "imageDigest"));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  if (tag && !validate_tag(*tag).is_ok()) {
    return constraint_error("imageTag",
                            "must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'");
  }
  auto digest = image_digest(manifest, digest_text);
  if (!digest) {
    if (digest.status().code() == Code::kDigestInvalid) {
      return ecr_error("ImageDigestDoesNotMatchException", digest.status().message());
    }
    return invalid_parameter(digest.status().message());
  }
  // The media type is the request's, else the manifest's own; ECR refuses a
  // manifest that names none with the same words as one that is not JSON.
  if (!media_type) {
    boost::system::error_code ec;
    json::value doc = json::parse(manifest, ec);
    if (ec || !doc.is_object() || !doc.as_object().contains("mediaType")) {
      return invalid_parameter(
          "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON "
          "syntax'");
    }
  }
  auto parsed = parse_manifest(manifest, media_type.value_or(""), media_type.has_value());
  if (!parsed) {
    if (!media_type && parsed.status().code() == Code::kManifestInvalid) {
      return invalid_parameter(fmt::format("Invalid parameter: {}", parsed.status().message()));
    }
    return invalid_parameter(parsed.status().message());
  }
  PutImageRequest req{manifest, parsed->media_type, media_type.has_value(), tag, digest_text};
  auto put = registry_.put_image(*repo, req);
  if (!put) {
    const Status& s = put.status();
    switch (s.code()) {
      case Code::kAlreadyExists:
        return ecr_error(
            "ImageAlreadyExistsException",
            fmt::format(
                "Image with digest '{}' and tag '{}' already exists in the repository with name "
                "'{}' in registry with id '{}'",
                digest->str(), tag.value_or("null"), name, c.account));
      case Code::kManifestBlobUnknown:
        return ecr_error("LayersNotFoundException", s.message());
      case Code::kManifestUnknown:
        return ecr_error("ReferencedImagesNotFoundException", s.message());
      case Code::kTagImmutable:
        return ecr_error(
            "ImageTagAlreadyExistsException",
            fmt::format("The image tag '{}' already exists in the '{}' repository and cannot be "
                        "overwritten because the repository is immutable.",
                        tag.value_or(""), name));
      default:
        return from_status(s);
    }
  }
  ImageId id{put->digest.str(), tag};
  return json::object{{"image", json::object{{"registryId", c.account},
                                             {"repositoryName", name},
                                             {"imageId", id_json(id)},
                                             {"imageManifest", manifest},
                                             {"imageManifestMediaType", parsed->media_type}}}};
}

}  // namespace berth::ecr
