// The image and repository vocabulary of the application layer: what the ECR
// operations and the /v2 listings ask for and get back, free of any wire
// format. Registry (registry.h) implements the operations over these types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/records.h"
#include "core/status.h"

namespace berth {

// ECR's filter.tagStatus.
enum class TagStatus { kAny, kTagged, kUntagged };

// "TAGGED", "UNTAGGED" or "ANY" (exact). kInvalidArgument otherwise, with a
// message naming the enum value set.
Result<TagStatus> parse_tag_status(std::string_view text);
std::string_view format_tag_status(TagStatus status);
// Whether an image with (tagged) or without tags passes the filter.
bool tag_status_passes(TagStatus status, bool tagged);

// An image as a caller names it: by digest, by tag, or both.
struct ImageId {
  std::optional<std::string> digest;
  std::optional<std::string> tag;
};

// Why an ImageId names no image (ECR's failure codes).
enum class ImageFailure {
  kNone,
  kMissingDigestAndTag,
  kInvalidDigest,
  kInvalidTag,
  kNotFound,
  kTagDoesNotMatchDigest,
  kReferencedByIndex,     // delete only: an index lists the image
  kMediaTypeNotAccepted,  // batch get only
};

// An ImageId resolved to a manifest, or the reason it is not.
struct ResolvedImage {
  ImageId id;
  std::optional<ManifestRecord> manifest;
  ImageFailure failure = ImageFailure::kNone;
  std::string reason;  // set with `failure`, in ECR's words
};

// One image with its tags (sorted).
struct ImageDetail {
  ManifestRecord manifest;  // bytes left empty
  std::vector<std::string> tags;
};

// A page of a listing. `next_after`, when set, is the key to continue after.
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_after;
};

// One ListImages entry: an image digest with one of its tags, or none.
struct ImageListEntry {
  Digest digest;
  std::optional<std::string> tag;
};

// What BatchDeleteImage did: each deleted (digest, tag) pair, and the ids
// that failed with their reasons.
struct ImageDeleteOutcome {
  std::vector<ImageListEntry> deleted;
  std::vector<ResolvedImage> failures;
};

// What BatchGetImage found.
struct ImageGetOutcome {
  std::vector<ResolvedImage> images;  // manifest set, bytes filled in; id.digest filled in
  std::vector<ResolvedImage> failures;
};

// PutImage's request.
struct PutImageRequest {
  std::string manifest;
  std::string media_type;         // the request's, else the manifest's own
  bool media_type_given = false;  // as parse_manifest's
  std::optional<std::string> tag;
  std::optional<std::string> digest;  // when given, must match the manifest
};

// The digest PutImage stores `manifest` under: `digest` when given (then it
// must match the bytes: kDigestInvalid with ECR's words otherwise;
// kInvalidArgument when malformed), else the manifest's sha256.
Result<Digest> image_digest(std::string_view manifest, const std::optional<std::string>& digest);

// DescribeImages by ids: each named image once, in request order, or the
// first id that names none.
struct DescribedImages {
  std::vector<ImageDetail> details;
  std::optional<ResolvedImage> failure;
};

using ResourceTags = std::vector<std::pair<std::string, std::string>>;
// ECR's limit on resource tags per repository.
inline constexpr size_t kMaxResourceTags = 50;

// A repository's settings as CreateRepository gives them.
struct NewRepository {
  std::string account;
  std::string name;
  std::string tag_mutability = "MUTABLE";
  std::vector<std::string> exclusion_filters;
  bool scan_on_push = false;
  std::string encryption_type = "AES256";
  std::string kms_key;
  ResourceTags tags;
};

// One planned expiration of a lifecycle preview.
// One image a preview expires (digest, tags, push time, the rule's priority).
using PreviewEntry = LifecyclePreviewResult;

struct LifecyclePreview {
  std::string policy_text;
  std::string status;
  int64_t created_at = 0;
  std::vector<PreviewEntry> entries;  // in planned order
};

}  // namespace berth
