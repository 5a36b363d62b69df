// PostgresIdentityStore: user deletion, user tags, groups and memberships
// (meta/identity_store.h). The tables are the metadata schema's (meta/postgres/migrations.cc), in
// the same database.
#include <fmt/format.h>

#include <string>

#include "meta/postgres/identity_generation.h"
#include "meta/postgres/postgres_identity_store.h"

namespace berth {
using pg::Connection;
using pg::Statement;

namespace {

// Whether the one-row query `sql`, bound to (account, name), finds a row.
Result<bool> exists(Connection& c, const char* sql, std::string_view account_id,
                    std::string_view name) {
  BERTH_ASSIGN_OR_RETURN(auto q, c.prepare(sql));
  q.bind(1, account_id).bind(2, name);
  return q.step();
}

Status require_user(Connection& c, std::string_view account_id, std::string_view user) {
  BERTH_ASSIGN_OR_RETURN(
      bool found,
      exists(c, "SELECT 1 FROM users WHERE account_id=$1 AND name=$2", account_id, user));
  if (!found)
    return error(Code::kNotFound, fmt::format("user {} not found in account {}", user, account_id));
  return Status::ok();
}

// In a write transaction, `lock` takes the group's row until the commit, so
// that a member added concurrently cannot slip past delete_group's check.
Status require_group(Connection& c, std::string_view account_id, std::string_view group,
                     bool lock = false) {
  BERTH_ASSIGN_OR_RETURN(
      bool found,
      exists(c,
             lock ? "SELECT 1 FROM iam_groups WHERE account_id=$1 AND name=$2 FOR UPDATE"
                  : "SELECT 1 FROM iam_groups WHERE account_id=$1 AND name=$2",
             account_id, group));
  if (!found)
    return error(Code::kNotFound,
                 fmt::format("group {} not found in account {}", group, account_id));
  return Status::ok();
}

// What still hangs on a user, for delete_user without cascade; empty: nothing.
Result<std::string> user_dependents(Connection& c, std::string_view account_id,
                                    std::string_view user) {
  struct Check {
    const char* what;
    const char* sql;
  };
  static constexpr Check kChecks[] = {
      {"access keys", "SELECT 1 FROM access_keys WHERE account_id=$1 AND user_name=$2 LIMIT 1"},
      {"inline policies",
       "SELECT 1 FROM user_policies WHERE account_id=$1 AND user_name=$2 LIMIT 1"},
      {"attached policies",
       "SELECT 1 FROM user_attached_policies WHERE account_id=$1 AND user_name=$2 LIMIT 1"},
      {"group memberships",
       "SELECT 1 FROM iam_group_members WHERE account_id=$1 AND user_name=$2 LIMIT 1"},
  };
  std::string found;
  for (const auto& check : kChecks) {
    BERTH_ASSIGN_OR_RETURN(bool any, exists(c, check.sql, account_id, user));
    if (any) found += (found.empty() ? "" : ", ") + std::string(check.what);
  }
  return found;
}

}  // namespace

Status PostgresIdentityStore::delete_user(std::string_view account_id, std::string_view name,
                                          bool cascade) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(require_user(c, account_id, name));
    if (!cascade) {
      BERTH_ASSIGN_OR_RETURN(std::string dependents, user_dependents(c, account_id, name));
      if (!dependents.empty()) {
        return error(Code::kFailedPrecondition,
                     fmt::format("Cannot delete entity, must remove {} first.", dependents));
      }
    }
    // The user's own row last; access keys also go by their foreign key.
    static constexpr const char* kDeletes[] = {
        "DELETE FROM access_keys WHERE account_id=$1 AND user_name=$2",
        "DELETE FROM user_policies WHERE account_id=$1 AND user_name=$2",
        "DELETE FROM user_attached_policies WHERE account_id=$1 AND user_name=$2",
        "DELETE FROM iam_group_members WHERE account_id=$1 AND user_name=$2",
        "DELETE FROM user_tags WHERE account_id=$1 AND user_name=$2",
        "DELETE FROM users WHERE account_id=$1 AND name=$2",
    };
    for (const char* sql : kDeletes) {
      BERTH_ASSIGN_OR_RETURN(auto d, c.prepare(sql));
      BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, name).run());
    }
    return pg::bump_identity_generation(c);
  });
}

Status PostgresIdentityStore::tag_user(
    std::string_view account_id, std::string_view user,
    const std::vector<std::pair<std::string, std::string>>& tags) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(require_user(c, account_id, user));
    for (const auto& [key, value] : tags) {
      BERTH_ASSIGN_OR_RETURN(
          auto i, c.prepare("INSERT INTO user_tags (account_id, user_name, key, value) "
                            "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, user_name, key) "
                            "DO UPDATE SET value=excluded.value"));
      BERTH_RETURN_IF_ERROR(i.bind(1, account_id)
                                .bind(2, user)
                                .bind(3, std::string_view(key))
                                .bind(4, std::string_view(value))
                                .run());
    }
    return pg::bump_identity_generation(c);
  });
}

Status PostgresIdentityStore::untag_user(std::string_view account_id, std::string_view user,
                                         const std::vector<std::string>& keys) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(require_user(c, account_id, user));
    for (const auto& key : keys) {
      BERTH_ASSIGN_OR_RETURN(
          auto d,
          c.prepare("DELETE FROM user_tags WHERE account_id=$1 AND user_name=$2 AND key=$3"));
      BERTH_RETURN_IF_ERROR(
          d.bind(1, account_id).bind(2, user).bind(3, std::string_view(key)).run());
    }
    return pg::bump_identity_generation(c);
  });
}

Result<std::vector<std::pair<std::string, std::string>>> PostgresIdentityStore::list_user_tags(
    std::string_view account_id, std::string_view user) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_RETURN_IF_ERROR(require_user(*lease, account_id, user));
  BERTH_ASSIGN_OR_RETURN(auto q,
                         lease->prepare("SELECT key, value FROM user_tags WHERE account_id=$1 AND "
                                        "user_name=$2 ORDER BY key COLLATE \"C\""));
  q.bind(1, account_id).bind(2, user);
  return q.collect<std::pair<std::string, std::string>>(
      [](const Statement& row) { return std::make_pair(row.text(0), row.text(1)); });
}

Status PostgresIdentityStore::create_group(const GroupRecord& g) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM accounts WHERE id=$1"));
    q.bind(1, std::string_view(g.account_id));
    BERTH_ASSIGN_OR_RETURN(bool account, q.step());
    if (!account) return error(Code::kNotFound, fmt::format("account {} not found", g.account_id));
    BERTH_ASSIGN_OR_RETURN(auto i,
                           c.prepare("INSERT INTO iam_groups (account_id, name, created_at) "
                                     "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"));
    BERTH_RETURN_IF_ERROR(i.bind(1, std::string_view(g.account_id))
                              .bind(2, std::string_view(g.name))
                              .bind(3, g.created_at)
                              .run());
    if (i.affected() == 0)
      return error(Code::kAlreadyExists, fmt::format("group {} already exists", g.name));
    return pg::bump_identity_generation(c);
  });
}

Result<GroupRecord> PostgresIdentityStore::get_group(std::string_view account_id,
                                                     std::string_view name) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(auto q, lease->prepare("SELECT account_id, name, created_at FROM "
                                                "iam_groups WHERE account_id=$1 AND name=$2"));
  q.bind(1, account_id).bind(2, name);
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row)
    return error(Code::kNotFound,
                 fmt::format("group {} not found in account {}", name, account_id));
  return GroupRecord{q.text(0), q.text(1), q.int64(2)};
}

Result<std::vector<GroupRecord>> PostgresIdentityStore::list_groups(std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_ASSIGN_OR_RETURN(auto q, lease->prepare("SELECT account_id, name, created_at FROM "
                                                "iam_groups WHERE account_id=$1 "
                                                "ORDER BY name COLLATE \"C\""));
  q.bind(1, account_id);
  return q.collect<GroupRecord>([](const Statement& row) {
    return GroupRecord{row.text(0), row.text(1), row.int64(2)};
  });
}

Status PostgresIdentityStore::delete_group(std::string_view account_id, std::string_view name) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(require_group(c, account_id, name, /*lock=*/true));
    static constexpr const char* kDependents[] = {
        "SELECT 1 FROM iam_group_members WHERE account_id=$1 AND group_name=$2 LIMIT 1",
        "SELECT 1 FROM group_policies WHERE account_id=$1 AND group_name=$2 LIMIT 1",
        "SELECT 1 FROM group_attached_policies WHERE account_id=$1 AND group_name=$2 LIMIT 1",
    };
    for (const char* sql : kDependents) {
      BERTH_ASSIGN_OR_RETURN(bool any, exists(c, sql, account_id, name));
      if (any) {
        return error(Code::kFailedPrecondition,
                     "Cannot delete entity, must remove users and policies from the group first.");
      }
    }
    BERTH_ASSIGN_OR_RETURN(auto d,
                           c.prepare("DELETE FROM iam_groups WHERE account_id=$1 AND name=$2"));
    BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, name).run());
    return pg::bump_identity_generation(c);
  });
}

Status PostgresIdentityStore::add_user_to_group(std::string_view account_id, std::string_view group,
                                                std::string_view user) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_RETURN_IF_ERROR(require_group(c, account_id, group, /*lock=*/true));
    BERTH_RETURN_IF_ERROR(require_user(c, account_id, user));
    BERTH_ASSIGN_OR_RETURN(
        auto i, c.prepare("INSERT INTO iam_group_members (account_id, group_name, user_name) "
                          "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"));
    BERTH_RETURN_IF_ERROR(i.bind(1, account_id).bind(2, group).bind(3, user).run());
    return pg::bump_identity_generation(c);
  });
}

Status PostgresIdentityStore::remove_user_from_group(std::string_view account_id,
                                                     std::string_view group,
                                                     std::string_view user) {
  return pool_.write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM iam_group_members WHERE account_id=$1 "
                                             "AND group_name=$2 AND user_name=$3"));
    BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, group).bind(3, user).run());
    if (d.affected() == 0)
      return error(Code::kNotFound, fmt::format("user {} is not in group {}", user, group));
    return pg::bump_identity_generation(c);
  });
}

Result<std::vector<std::string>> PostgresIdentityStore::list_group_members(
    std::string_view account_id, std::string_view group) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_RETURN_IF_ERROR(require_group(*lease, account_id, group));
  BERTH_ASSIGN_OR_RETURN(
      auto q, lease->prepare("SELECT user_name FROM iam_group_members WHERE account_id=$1 AND "
                             "group_name=$2 ORDER BY user_name COLLATE \"C\""));
  q.bind(1, account_id).bind(2, group);
  return q.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Result<std::vector<std::string>> PostgresIdentityStore::list_groups_for_user(
    std::string_view account_id, std::string_view user) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  BERTH_RETURN_IF_ERROR(require_user(*lease, account_id, user));
  BERTH_ASSIGN_OR_RETURN(
      auto q, lease->prepare("SELECT group_name FROM iam_group_members WHERE account_id=$1 AND "
                             "user_name=$2 ORDER BY group_name COLLATE \"C\""));
  q.bind(1, account_id).bind(2, user);
  return q.collect<std::string>([](const Statement& row) { return row.text(0); });
}

}  // namespace berth
