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
EcrError from_status(const Status& status);

}  // namespace berth::ecr
