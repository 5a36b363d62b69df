#include "iam/iam_error.h"

#include <utility>

namespace berth::iam {

namespace {
thread_local std::string internal_cause;
}  // namespace

std::string take_internal_cause() {
  return std::exchange(internal_cause, std::string());
}

IamError from_status(const Status& s) {
  const std::string& m = s.message();
  switch (s.code()) {
    case Code::kNotFound:
      return IamError{"NoSuchEntity", m, 404, true};
    case Code::kAlreadyExists:
      return IamError{"EntityAlreadyExists", m, 409, true};
    case Code::kFailedPrecondition:
      return IamError{"DeleteConflict", m, 409, true};
    case Code::kLimitExceeded:
      return IamError{"LimitExceeded", m, 409, true};
    case Code::kInvalidArgument:
    case Code::kTooLarge:
      return validation_error(m);
    case Code::kPermissionDenied:
      return IamError{"AccessDenied", m, 403, true};
    case Code::kMissingAuthentication:
    case Code::kUnauthenticated:
      return IamError{"MissingAuthenticationToken", "Request is missing Authentication Token", 403,
                      true};
    case Code::kIncompleteSignature:
      return IamError{"IncompleteSignature", m, 400, true};
    case Code::kSignatureInvalid:
      return IamError{"SignatureDoesNotMatch", m, 403, true};
    case Code::kSignatureExpired:
      return IamError{"RequestExpired", m, 400, true};
    case Code::kUnknownAccessKey:
      return IamError{"InvalidClientTokenId",
                      "The security token included in the request is invalid.", 403, true};
    case Code::kResourceExhausted:
      return IamError{"Throttling", m, 400, true};
    case Code::kUnavailable:
      return IamError{"ServiceUnavailable", "service unavailable", 503, false};
    default:
      internal_cause = s.to_string();
      return IamError{"ServiceFailure", "internal server error", 500, false};
  }
}

}  // namespace berth::iam
