// `berth admin audit`: reads the audit trail back, filtered, newest last.
#pragma once

#include <iosfwd>
#include <string>

#include "app/config.h"

namespace berth::app {

struct AuditQuery {
  std::string since;       // RFC 3339 time, or a duration back from now ("1h"); empty: all
  std::string account;     // only records of this account
  std::string repository;  // only records about this repository
  bool table = false;      // a table for people instead of JSON lines
};

// Prints the records of `config`'s audit log that match `query` to `out`,
// oldest first. Lines that are not JSON objects (a torn last line after a
// crash) are skipped and counted on `err`. Returns the exit code: 0, or 1
// (with the reason on `err`) when the log is off, on stderr or unreadable, or
// `since` is malformed.
int print_audit_log(const Config& config, const AuditQuery& query, std::ostream& out,
                    std::ostream& err);

}  // namespace berth::app
