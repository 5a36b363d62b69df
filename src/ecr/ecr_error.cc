#include "ecr/ecr_error.h"

#include <utility>

namespace berth::ecr {

namespace {
thread_local std::string internal_cause;

// The SDKs retry a 500 a few times, which suits a disk that an operator or
// the garbage collector may free; LimitExceededException would read as an
// account quota the caller could raise, which a full disk is not.
constexpr std::string_view kStorageFullMessage =
    "no space left on device: the registry's storage is full; retry once its operator has freed "
    "space";
}  // namespace

std::string take_internal_cause() {
  return std::exchange(internal_cause, std::string());
}

EcrError from_status(const Status& s) {
  const std::string& m = s.message();
  switch (s.code()) {
    case Code::kStorageFull:
      internal_cause = s.to_string();
      return EcrError{"ServerException", std::string(kStorageFullMessage), 500, {}};
    case Code::kMissingAuthentication:
      return ecr_error("MissingAuthenticationTokenException", "Missing Authentication Token");
    case Code::kIncompleteSignature:
      return ecr_error("IncompleteSignatureException", m);
    case Code::kSignatureInvalid:
      return ecr_error("InvalidSignatureException", m);
    case Code::kSignatureExpired:
      return ecr_error("InvalidSignatureException", m);
    case Code::kUnknownAccessKey:
      return ecr_error("UnrecognizedClientException",
                       "The security token included in the request is invalid.");
    case Code::kUnauthenticated:
      return ecr_error("MissingAuthenticationTokenException", m);
    case Code::kTokenExpired:
      return ecr_error("ExpiredTokenException",
                       "Your authorization token has expired. Reauthenticate and try again.");
    case Code::kPermissionDenied:
      return ecr_error("AccessDeniedException", m);
    case Code::kInvalidArgument:
    case Code::kNameInvalid:
    case Code::kTagInvalid:
    case Code::kDigestInvalid:
    case Code::kManifestInvalid:
      return invalid_parameter(m);
    case Code::kNameUnknown:
      return ecr_error("RepositoryNotFoundException", m);
    case Code::kAlreadyExists:
      return ecr_error("RepositoryAlreadyExistsException", m);
    case Code::kRepositoryNotEmpty:
      return ecr_error("RepositoryNotEmptyException", m);
    case Code::kManifestUnknown:
      return ecr_error("ImageNotFoundException", m);
    case Code::kManifestBlobUnknown:
      return ecr_error("LayersNotFoundException", m);
    case Code::kTagImmutable:
      return ecr_error("ImageTagAlreadyExistsException", m);
    case Code::kBlobUploadUnknown:
      return ecr_error("UploadNotFoundException", m);
    case Code::kBlobUnknown:
      return ecr_error("LayersNotFoundException", m);
    case Code::kTooLarge:
      return invalid_parameter(m);
    case Code::kResourceExhausted:
      return ecr_error("ThrottlingException", m);
    case Code::kLimitExceeded:
      return ecr_error("LimitExceededException", m);
    case Code::kUnavailable:
      return EcrError{"ServiceUnavailableException", "service unavailable", 503, {}};
    default:
      internal_cause = s.to_string();
      return EcrError{"ServerException", "internal server error", 500, {}};
  }
}

}  // namespace berth::ecr
