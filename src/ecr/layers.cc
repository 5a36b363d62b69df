// Layer operations: availability, the three-step upload, download URLs.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/base64.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {
constexpr int64_t kPartSize = 10 * 1024 * 1024;
constexpr size_t kMaxPartBytes = 20 * 1024 * 1024;

// An upload the registry does not know (kBlobUploadUnknown) is ECR's
// UploadNotFoundException with its message; any other failure of the check
// (e.g. the store unavailable) is reported as itself.
EcrError upload_error(const Status& why) {
  if (why.code() == Code::kBlobUploadUnknown)
    return ecr_error("UploadNotFoundException", "The upload does not exist or has completed");
  return from_status(why);
}
}  // namespace

EcrResult EcrApi::batch_check_layer_availability(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto digests, opt_array(c.input, "layerDigests", 1, 100));
  if (!digests) return constraint_error("layerDigests", "must not be null");
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  json::array layers;
  json::array failures;
  for (const auto& v : **digests) {
    if (!v.is_string()) return serialization_error("layerDigests", "a list of strings");
    std::string text(v.as_string());
    if (text.empty()) {
      failures.push_back(json::object{{"layerDigest", text},
                                      {"failureCode", "MissingLayerDigest"},
                                      {"failureReason", "The layer digest is empty"}});
      continue;
    }
    auto digest = Digest::parse(text);
    if (!digest) {
      failures.push_back(json::object{{"layerDigest", text},
                                      {"failureCode", "InvalidLayerDigest"},
                                      {"failureReason", "Invalid layer digest"}});
      continue;
    }
    auto link = registry_.stat_blob(*repo, *digest);
    if (!link && link.status().code() != Code::kBlobUnknown) return from_status(link.status());
    if (link) {
      layers.push_back(
          json::object{{"layerDigest", text},
                       {"layerAvailability", "AVAILABLE"},
                       {"layerSize", link->size},
                       {"mediaType", "application/vnd.docker.image.rootfs.diff.tar.gzip"}});
    } else {
      layers.push_back(json::object{{"layerDigest", text}, {"layerAvailability", "UNAVAILABLE"}});
    }
  }
  return json::object{{"layers", std::move(layers)}, {"failures", std::move(failures)}};
}

EcrResult EcrApi::initiate_layer_upload(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto upload = registry_.start_upload(*repo);
  if (!upload) return from_status(upload.status());
  return json::object{{"uploadId", upload->id}, {"partSize", kPartSize}};
}

EcrResult EcrApi::upload_layer_part(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto upload_id, req_string(c.input, "uploadId"));
  ECR_ASSIGN(auto first, opt_int(c.input, "partFirstByte", 0, INT64_MAX));
  ECR_ASSIGN(auto last, opt_int(c.input, "partLastByte", 0, INT64_MAX));
  ECR_ASSIGN(auto blob_b64, req_string(c.input, "layerPartBlob", 0));
  if (!first) return constraint_error("partFirstByte", "must not be null");
  if (!last) return constraint_error("partLastByte", "must not be null");
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto data = base64_decode(blob_b64);
  if (!data) return serialization_error("layerPartBlob", "base64-encoded bytes");
  if (data->size() > kMaxPartBytes) {
    return constraint_error("layerPartBlob", "must have length less than or equal to 20971520");
  }
  auto invalid_part = [&](uint64_t size, std::string message) {
    EcrError e = ecr_error("InvalidLayerPartException", std::move(message));
    e.extra["registryId"] = c.account;
    e.extra["repositoryName"] = name;
    e.extra["uploadId"] = upload_id;
    e.extra["lastValidByteReceived"] = static_cast<int64_t>(size) - 1;
    return e;
  };
  auto status = registry_.upload_status(*repo, upload_id);
  if (!status) return upload_error(status.status());
  if (*last < *first || static_cast<uint64_t>(*last - *first) + 1 != data->size()) {
    return invalid_part(status->size,
                        "partLastByte - partFirstByte + 1 must equal the part's length");
  }
  auto append = registry_.begin_append(
      *repo, upload_id, ByteRange{static_cast<uint64_t>(*first), static_cast<uint64_t>(*last)},
      /*fresh=*/false, Uploader{c.principal.account_id, c.principal.access_key_id});
  if (!append) {
    if (append.status().code() == Code::kRangeInvalid) {
      return invalid_part(status->size,
                          "parts must be uploaded in order, starting where the last one ended");
    }
    return from_status(append.status());
  }
  if (Status s = (*append)->write(data->data(), data->size()); !s.is_ok()) return from_status(s);
  if (Status s = (*append)->close(); !s.is_ok()) return from_status(s);
  uint64_t size = (*append)->size();
  append->reset();
  return json::object{{"registryId", c.account},
                      {"repositoryName", name},
                      {"uploadId", upload_id},
                      {"lastByteReceived", static_cast<int64_t>(size) - 1}};
}

EcrResult EcrApi::complete_layer_upload(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto upload_id, req_string(c.input, "uploadId"));
  ECR_ASSIGN(auto digests, opt_array(c.input, "layerDigests", 1, 100));
  if (!digests) return constraint_error("layerDigests", "must not be null");
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  const auto& first = (**digests)[0];
  if (!first.is_string()) return serialization_error("layerDigests", "a list of strings");
  auto digest = Digest::parse(std::string_view(first.as_string()));
  if (!digest) return ecr_error("InvalidLayerException", "The layer digest is not valid");
  auto status = registry_.upload_status(*repo, upload_id);
  if (!status) return upload_error(status.status());
  if (registry_.stat_blob(*repo, *digest).is_ok()) {
    (void)registry_.cancel_upload(*repo, upload_id);
    return ecr_error("LayerAlreadyExistsException",
                     fmt::format("The layer {} already exists in the repository", digest->str()));
  }
  if (status->size == 0) return ecr_error("EmptyUploadException", "The upload has no parts");
  auto blob = registry_.finish_upload(*repo, upload_id, *digest);
  if (!blob) {
    if (blob.status().code() == Code::kDigestInvalid) {
      return ecr_error("InvalidLayerException", blob.status().message());
    }
    return from_status(blob.status());
  }
  return json::object{{"registryId", c.account},
                      {"repositoryName", name},
                      {"uploadId", upload_id},
                      {"layerDigest", digest->str()}};
}

EcrResult EcrApi::get_download_url_for_layer(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto digest_text, req_string(c.input, "layerDigest"));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto digest = Digest::parse(digest_text);
  if (!digest)
    return constraint_error("layerDigest",
                            "must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
  if (!registry_.stat_blob(*repo, *digest)) {
    return ecr_error("LayersNotFoundException",
                     fmt::format("The layer {} does not exist in the repository", digest_text));
  }
  auto direct = registry_.blob_redirect_url(*repo, *digest, kDownloadUrlTtlSeconds);
  if (direct && *direct)
    return json::object{{"downloadUrl", **direct}, {"layerDigest", digest->str()}};
  // Like ECR's presigned object-storage URL: any HTTP client may fetch it,
  // without credentials, for a short while, and only this layer.
  std::string query =
      identity_.presign_download(c.principal, name, digest->str(), kDownloadUrlTtlSeconds);
  return json::object{{"downloadUrl", fmt::format("{}/v2/{}/blobs/{}?{}", options_.public_url, name,
                                                  digest->str(), query)},
                      {"layerDigest", digest->str()}};
}

}  // namespace berth::ecr
