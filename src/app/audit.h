// The audit trail's records: which finished requests are audited, and the
// JSON line each becomes (README, "Audit log").
//
// Audited: every mutating call (/v2 PUT, POST, PATCH, DELETE; ECR and IAM
// operations that change anything), every denied call on any API (a refused
// credential or signature, an access decision that said no: 401/403 on /v2,
// ECR's and IAM's authentication and AccessDenied errors), and every login
// (GetAuthorizationToken). STS GetCallerIdentity only reads and is audited
// when refused. An anonymous read answered 401 without any
// credentials is the protocol's challenge (every client's first GET /v2/),
// not a denial, and is not audited.
//
// A record never holds a secret: no token, Authorization header, signature,
// password or query string. It is built from the request's principal, its
// path and the fields the API edges attach to the exchange (operation,
// error code, repository, image digests and tags).
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "server/exchange.h"

namespace berth::app {

enum class AuditApi { kOci, kEcr, kIam };  // kIam: IAM and STS (Query protocol)

// The record for `ex`, which has been answered, or nullopt when the request
// is not audited. `time` is the record's time (audit_time_now()). Pure.
std::optional<boost::json::object> audit_record(const server::Exchange& ex, AuditApi api,
                                                std::string_view time);

// Now as RFC 3339 in UTC with milliseconds: 2026-12-07T08:15:00.123Z.
std::string audit_time_now();

}  // namespace berth::app
