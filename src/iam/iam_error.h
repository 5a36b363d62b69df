// The errors of the AWS Query protocol APIs (IAM, STS): an error code, its
// HTTP status, who is at fault (Sender or Receiver) and a message, sent as
// <ErrorResponse xmlns=...><Error><Type/><Code/><Message/></Error>
// <RequestId/></ErrorResponse>. iam_error.cc is the one place where a domain
// Status becomes one.
#pragma once

#include <string>
#include <variant>

#include "core/status.h"

namespace berth::iam {

struct IamError {
  std::string code;  // e.g. "NoSuchEntity"
  std::string message;
  unsigned http_status = 400;
  bool sender = true;  // <Type>Sender</Type>; false: Receiver (berth's fault)
};

// What an action answers: the inner XML of its <ActionResult> element (empty:
// the answer has no Result element), or an error.
using IamResult = std::variant<std::string, IamError>;

inline IamError validation_error(std::string message) {
  return IamError{"ValidationError", std::move(message), 400, true};
}

// NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409 (a failed
// precondition), LimitExceeded 409, ValidationError 400, AccessDenied 403,
// the SigV4 failures with AWS's codes; a 5xx hides its cause, which
// take_internal_cause() hands to the dispatcher for the log.
IamError from_status(const Status& status);

// The cause of the last 5xx from_status() made on this thread, cleared by the
// call.
std::string take_internal_cause();

}  // namespace berth::iam
