// ECR's wire errors: {"__type": <exception>, "message": ...} with a status.
// Operations return EcrResult; errors.cc is the one place where a domain
// Status becomes an ECR exception.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <variant>

#include "core/status.h"

namespace berth::ecr {

struct EcrError {
  std::string type;  // exception name, e.g. "RepositoryNotFoundException"
  std::string message;
  unsigned http_status = 400;
  boost::json::object extra;  // modeled extra members (e.g. lastValidByteReceived)
};

using EcrResult = std::variant<boost::json::object, EcrError>;

inline EcrError ecr_error(std::string type, std::string message) {
  return EcrError{std::move(type), std::move(message), 400, {}};
}

inline EcrError invalid_parameter(std::string message) {
  return ecr_error("InvalidParameterException", std::move(message));
}

// The generic mapping of a domain Status; operations map the codes whose
// exception depends on context (e.g. a missing blob in PutImage) themselves.
// A 5xx hides the cause from the client ("internal server error"); the
// cause is kept for the dispatcher, which logs it once with the request id.
EcrError from_status(const Status& status);

// The cause of the last 5xx that from_status() made on this thread, cleared
// by the call. Operations run synchronously on the dispatching thread, so the
// dispatcher takes it after each operation.
std::string take_internal_cause();

}  // namespace berth::ecr
