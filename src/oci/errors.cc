#include "oci/errors.h"

#include <boost/json.hpp>

namespace berth::oci {

namespace {
constexpr const char* kRetryAfterSeconds = "1";
}  // namespace

WireError wire_error(const Status& s) {
  switch (s.code()) {
    case Code::kBlobUnknown:
      return {404, "BLOB_UNKNOWN"};
    case Code::kBlobUploadUnknown:
      return {404, "BLOB_UPLOAD_UNKNOWN"};
    case Code::kBlobUploadInvalid:
      return {400, "BLOB_UPLOAD_INVALID"};
    case Code::kRangeInvalid:
      return {416, "BLOB_UPLOAD_INVALID"};
    case Code::kDigestInvalid:
      return {400, "DIGEST_INVALID"};
    case Code::kManifestBlobUnknown:
      return {400, "MANIFEST_BLOB_UNKNOWN"};
    case Code::kManifestInvalid:
      return {400, "MANIFEST_INVALID"};
    case Code::kManifestUnknown:
      return {404, "MANIFEST_UNKNOWN"};
    case Code::kManifestReferenced:
      return {409, "DENIED"};
    case Code::kNameInvalid:
      return {400, "NAME_INVALID"};
    case Code::kNameUnknown:
      return {404, "NAME_UNKNOWN"};
    case Code::kSizeInvalid:
      return {400, "SIZE_INVALID"};
    case Code::kTooLarge:
      return {413, "SIZE_INVALID"};
    case Code::kTagInvalid:
      return {400, "TAG_INVALID"};
    case Code::kTagImmutable:
      return {400, "TAG_INVALID"};
    case Code::kUnauthenticated:
    case Code::kMissingAuthentication:
    case Code::kIncompleteSignature:
    case Code::kSignatureInvalid:
    case Code::kUnknownAccessKey:
    case Code::kSignatureExpired:
    case Code::kTokenInvalid:
    case Code::kTokenExpired:
      return {401, "UNAUTHORIZED"};
    case Code::kPermissionDenied:
      return {403, "DENIED"};
    case Code::kUnsupported:
      return {405, "UNSUPPORTED"};
    case Code::kResourceExhausted:
      return {429, "TOOMANYREQUESTS"};
    // A storage quota (meta/quota_store.h): retrying does not help until
    // something is deleted, so DENIED rather than TOOMANYREQUESTS.
    case Code::kLimitExceeded:
      return {403, "DENIED"};
    case Code::kInvalidArgument:
      return {400, "UNSUPPORTED"};
    case Code::kNotFound:
      return {404, "NAME_UNKNOWN"};
    case Code::kUnavailable:
      return {503, "UNAVAILABLE"};
    // 507 Insufficient Storage names the condition in the status line itself
    // (what docker and podman print), stays a server-side 5xx, and keeps the
    // spec's UNKNOWN code since the spec has none for it.
    case Code::kStorageFull:
      return {507, "UNKNOWN"};
    default:
      return {500, "UNKNOWN"};
  }
}

server::Response error_response(const Status& status, unsigned version) {
  WireError w = wire_error(status);
  if (status.code() == Code::kStorageFull) {
    return error_response(w, "no space left on device: the registry's storage is full", version);
  }
  return error_response(w, w.http_status >= 500 ? "internal server error" : status.message(),
                        version);
}

server::Response error_response(WireError w, std::string_view message, unsigned version) {
  server::Response res{static_cast<server::http::status>(w.http_status), version};
  res.set(server::http::field::content_type, "application/json");
  // A store that is away (a database or S3 outage, a full worker queue) comes back
  // without a restart: tell clients when to try again rather than to give up.
  if (w.http_status == 503) res.set(server::http::field::retry_after, kRetryAfterSeconds);
  boost::json::object err{{"code", w.code}, {"message", message}, {"detail", nullptr}};
  boost::json::object body{{"errors", boost::json::array{err}}};
  res.body() = boost::json::serialize(body);
  return res;
}

}  // namespace berth::oci
