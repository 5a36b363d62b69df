// SqliteMetadataStore: the PolicyStore role (meta/policy_store.h).
#include "meta/sqlite/identity_generation.h"
#include "meta/sqlite/sqlite_metadata_store.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;

namespace {

Result<std::optional<std::string>> one_text(Connection& c, const char* sql, auto bind) {
  BERTH_ASSIGN_OR_RETURN(auto q, c.prepare(sql));
  bind(q);
  BERTH_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.text(0));
}

}  // namespace

Result<std::optional<std::string>> SqliteMetadataStore::get_repository_policy(RepositoryId repo) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return one_text(*lease, "SELECT policy_text FROM repository_policies WHERE repo_id=?1",
                  [&](Statement& q) { q.bind(1, repo); });
}

Result<std::optional<std::string>> SqliteMetadataStore::set_repository_policy(
    RepositoryId repo, const std::optional<std::string>& text) {
  std::optional<std::string> before;
  Status st = pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        before, one_text(c, "SELECT policy_text FROM repository_policies WHERE repo_id=?1",
                         [&](Statement& q) { q.bind(1, repo); }));
    if (!text) {
      BERTH_ASSIGN_OR_RETURN(auto d, c.prepare("DELETE FROM repository_policies WHERE repo_id=?1"));
      return d.bind(1, repo).run();
    }
    BERTH_ASSIGN_OR_RETURN(auto e, c.prepare("SELECT 1 FROM repositories WHERE id=?1"));
    BERTH_ASSIGN_OR_RETURN(bool exists, e.bind(1, repo).step());
    if (!exists) return error(Code::kNameUnknown, "repository unknown");
    BERTH_ASSIGN_OR_RETURN(
        auto i, c.prepare("INSERT INTO repository_policies (repo_id, policy_text) VALUES (?1, ?2) "
                          "ON CONFLICT (repo_id) DO UPDATE SET policy_text=excluded.policy_text"));
    return i.bind(1, repo).bind(2, std::string_view(*text)).run();
  });
  if (!st.is_ok()) return st;
  return before;
}

Result<std::optional<std::string>> SqliteMetadataStore::get_registry_policy(
    std::string_view account_id) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return one_text(*lease, "SELECT policy_text FROM registry_policies WHERE account_id=?1",
                  [&](Statement& q) { q.bind(1, account_id); });
}

Result<std::optional<std::string>> SqliteMetadataStore::set_registry_policy(
    std::string_view account_id, const std::optional<std::string>& text) {
  std::optional<std::string> before;
  Status st = pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        before, one_text(c, "SELECT policy_text FROM registry_policies WHERE account_id=?1",
                         [&](Statement& q) { q.bind(1, account_id); }));
    if (!text) {
      BERTH_ASSIGN_OR_RETURN(auto d,
                             c.prepare("DELETE FROM registry_policies WHERE account_id=?1"));
      return d.bind(1, account_id).run();
    }
    BERTH_ASSIGN_OR_RETURN(
        auto i,
        c.prepare("INSERT INTO registry_policies (account_id, policy_text) VALUES (?1, ?2) "
                  "ON CONFLICT (account_id) DO UPDATE SET policy_text=excluded.policy_text"));
    return i.bind(1, account_id).bind(2, std::string_view(*text)).run();
  });
  if (!st.is_ok()) return st;
  return before;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteMetadataStore::list_user_policies(
    std::string_view account_id, std::string_view user) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare("SELECT policy_name, policy_text FROM user_policies "
                     "WHERE account_id=?1 AND user_name=?2 ORDER BY policy_name COLLATE BINARY"));
  q.bind(1, account_id).bind(2, user);
  return q.collect<std::pair<std::string, std::string>>(
      [](const Statement& row) { return std::make_pair(row.text(0), row.text(1)); });
}

Status SqliteMetadataStore::put_user_policy(std::string_view account_id, std::string_view user,
                                            std::string_view name, std::string_view text) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto i,
        c.prepare("INSERT INTO user_policies (account_id, user_name, policy_name, policy_text) "
                  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account_id, user_name, policy_name) "
                  "DO UPDATE SET policy_text=excluded.policy_text"));
    return i.bind(1, account_id).bind(2, user).bind(3, name).bind(4, text).run();
  });
}

Status SqliteMetadataStore::delete_user_policy(std::string_view account_id, std::string_view user,
                                               std::string_view name) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto d, c.prepare("DELETE FROM user_policies WHERE account_id=?1 AND user_name=?2 "
                          "AND policy_name=?3"));
    BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, user).bind(3, name).run());
    if (c.changes() == 0) return error(Code::kNotFound, "no such user policy");
    return Status::ok();
  });
}

Result<std::vector<std::string>> SqliteMetadataStore::list_attached_user_policies(
    std::string_view account_id, std::string_view user) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare("SELECT policy_arn FROM user_attached_policies "
                     "WHERE account_id=?1 AND user_name=?2 ORDER BY policy_arn COLLATE BINARY"));
  q.bind(1, account_id).bind(2, user);
  return q.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Status SqliteMetadataStore::attach_user_policy(std::string_view account_id, std::string_view user,
                                               std::string_view arn) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto i, c.prepare("INSERT INTO user_attached_policies (account_id, user_name, policy_arn) "
                          "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"));
    return i.bind(1, account_id).bind(2, user).bind(3, arn).run();
  });
}

Status SqliteMetadataStore::detach_user_policy(std::string_view account_id, std::string_view user,
                                               std::string_view arn) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto d, c.prepare("DELETE FROM user_attached_policies WHERE account_id=?1 AND user_name=?2 "
                          "AND policy_arn=?3"));
    BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, user).bind(3, arn).run());
    if (c.changes() == 0) return error(Code::kNotFound, "policy not attached");
    return Status::ok();
  });
}

// A group's policies: as the user's, and each change moves the identity
// generation so that every node drops what it decided for the members.

Result<std::vector<std::pair<std::string, std::string>>> SqliteMetadataStore::list_group_policies(
    std::string_view account_id, std::string_view group) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare("SELECT policy_name, policy_text FROM group_policies "
                     "WHERE account_id=?1 AND group_name=?2 ORDER BY policy_name COLLATE BINARY"));
  q.bind(1, account_id).bind(2, group);
  return q.collect<std::pair<std::string, std::string>>(
      [](const Statement& row) { return std::make_pair(row.text(0), row.text(1)); });
}

Status SqliteMetadataStore::put_group_policy(std::string_view account_id, std::string_view group,
                                             std::string_view name, std::string_view text) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto i,
        c.prepare("INSERT INTO group_policies (account_id, group_name, policy_name, policy_text) "
                  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account_id, group_name, policy_name) "
                  "DO UPDATE SET policy_text=excluded.policy_text"));
    BERTH_RETURN_IF_ERROR(i.bind(1, account_id).bind(2, group).bind(3, name).bind(4, text).run());
    return sqlite::bump_identity_generation(c);
  });
}

Status SqliteMetadataStore::delete_group_policy(std::string_view account_id, std::string_view group,
                                                std::string_view name) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto d, c.prepare("DELETE FROM group_policies WHERE account_id=?1 AND group_name=?2 "
                          "AND policy_name=?3"));
    BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, group).bind(3, name).run());
    if (c.changes() == 0) return error(Code::kNotFound, "no such group policy");
    return sqlite::bump_identity_generation(c);
  });
}

Result<std::vector<std::string>> SqliteMetadataStore::list_attached_group_policies(
    std::string_view account_id, std::string_view group) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto q,
      lease->prepare("SELECT policy_arn FROM group_attached_policies "
                     "WHERE account_id=?1 AND group_name=?2 ORDER BY policy_arn COLLATE BINARY"));
  q.bind(1, account_id).bind(2, group);
  return q.collect<std::string>([](const Statement& row) { return row.text(0); });
}

Status SqliteMetadataStore::attach_group_policy(std::string_view account_id, std::string_view group,
                                                std::string_view arn) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto i,
                           c.prepare("INSERT INTO group_attached_policies (account_id, group_name, "
                                     "policy_arn) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"));
    BERTH_RETURN_IF_ERROR(i.bind(1, account_id).bind(2, group).bind(3, arn).run());
    return sqlite::bump_identity_generation(c);
  });
}

Status SqliteMetadataStore::detach_group_policy(std::string_view account_id, std::string_view group,
                                                std::string_view arn) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto d,
                           c.prepare("DELETE FROM group_attached_policies WHERE account_id=?1 AND "
                                     "group_name=?2 AND policy_arn=?3"));
    BERTH_RETURN_IF_ERROR(d.bind(1, account_id).bind(2, group).bind(3, arn).run());
    if (c.changes() == 0) return error(Code::kNotFound, "policy not attached");
    return sqlite::bump_identity_generation(c);
  });
}

}  // namespace berth
