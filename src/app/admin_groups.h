// `berth admin group ...`: IAM groups, their members and policies, beside
// `berth admin user ...` (admin.cc). Split out to keep each file readable.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "core/status.h"
#include "identity/identity_service.h"
#include "meta/policy_store.h"

namespace berth::app {

// Adds the `group` subcommand tree to `admin`. The returned callback runs
// the parsed group command against the stores (`default_account` when no
// --account is given) and yields the exit code; nullopt when no group
// command was parsed.
std::function<std::optional<int>(identity::IdentityService&, PolicyStore&,
                                 const std::string& default_account)>
add_group_commands(CLI::App& admin);

// Shared with the user policy commands: the text of an identity policy file,
// checked (kInvalidArgument "MalformedPolicyDocument: ..." when it is not a
// valid identity policy); and whether `arn` names a managed policy berth
// knows (kNotFound listing those it knows, otherwise).
Result<std::string> read_identity_policy_file(const std::string& path);
Status check_managed_policy_arn(const std::string& arn);

// Prints "berth admin: <message>" on stderr and yields exit code 1.
int admin_failure(const Status& s);

}  // namespace berth::app
