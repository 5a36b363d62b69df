// The one place where a Status becomes an OCI distribution-spec error:
// {"errors":[{"code","message","detail"}]} with the spec's HTTP status.
#pragma once

#include "core/status.h"
#include "server/exchange.h"

namespace berth::oci {

struct WireError {
  unsigned http_status;
  const char* code;
};

// The spec code and HTTP status for a Status.
WireError wire_error(const Status& status);

// A complete error response. Internal errors keep their detail out of the body;
// a 503 (a store away for now) carries Retry-After.
server::Response error_response(const Status& status, unsigned version);
// The same for an explicit wire error (where the context, not the Status, decides it).
server::Response error_response(WireError wire, std::string_view message, unsigned version);

}  // namespace berth::oci
