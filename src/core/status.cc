#include "core/status.h"

namespace berth {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kAlreadyExists:
      return "ALREADY_EXISTS";
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Code::kUnauthenticated:
      return "UNAUTHENTICATED";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Code::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case Code::kUnsupported:
      return "UNSUPPORTED";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kStorageFull:
      return "STORAGE_FULL";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kNameInvalid:
      return "NAME_INVALID";
    case Code::kNameUnknown:
      return "NAME_UNKNOWN";
    case Code::kTagInvalid:
      return "TAG_INVALID";
    case Code::kDigestInvalid:
      return "DIGEST_INVALID";
    case Code::kBlobUnknown:
      return "BLOB_UNKNOWN";
    case Code::kBlobUploadUnknown:
      return "BLOB_UPLOAD_UNKNOWN";
    case Code::kBlobUploadInvalid:
      return "BLOB_UPLOAD_INVALID";
    case Code::kRangeInvalid:
      return "RANGE_INVALID";
    case Code::kSizeInvalid:
      return "SIZE_INVALID";
    case Code::kManifestInvalid:
      return "MANIFEST_INVALID";
    case Code::kManifestUnknown:
      return "MANIFEST_UNKNOWN";
    case Code::kManifestBlobUnknown:
      return "MANIFEST_BLOB_UNKNOWN";
    case Code::kManifestReferenced:
      return "MANIFEST_REFERENCED";
    case Code::kTagImmutable:
      return "TAG_IMMUTABLE";
    case Code::kTooLarge:
      return "TOO_LARGE";
    case Code::kRepositoryNotEmpty:
      return "REPOSITORY_NOT_EMPTY";
    case Code::kLimitExceeded:
      return "LIMIT_EXCEEDED";
    case Code::kLifecyclePolicyPreviewNotFound:
      return "LIFECYCLE_POLICY_PREVIEW_NOT_FOUND";
    case Code::kMissingAuthentication:
      return "MISSING_AUTHENTICATION";
    case Code::kIncompleteSignature:
      return "INCOMPLETE_SIGNATURE";
    case Code::kSignatureInvalid:
      return "SIGNATURE_INVALID";
    case Code::kUnknownAccessKey:
      return "UNKNOWN_ACCESS_KEY";
    case Code::kSignatureExpired:
      return "SIGNATURE_EXPIRED";
    case Code::kTokenInvalid:
      return "TOKEN_INVALID";
    case Code::kTokenExpired:
      return "TOKEN_EXPIRED";
  }
  return "UNKNOWN";
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string s(code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace berth
