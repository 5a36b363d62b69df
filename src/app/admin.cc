#include "app/admin.h"

#include <unistd.h>

#include <iostream>
#include <memory>

#include "app/admin_groups.h"
#include "app/audit_command.h"
#include "app/config.h"
#include "app/stores.h"
#include "log/log.h"

namespace berth::app {
namespace {

struct AdminArgs {
  std::string config_file;
  std::string data_dir;
  std::string account;
  std::string name;
  std::string user;
  std::string key_id;
  std::string policy_name;
  std::string policy_file;
  std::string policy_arn;
  bool admin = false;
  bool force = false;
  AuditQuery audit;
};

int fail(const Status& s) {
  return admin_failure(s);
}

}  // namespace

std::function<int()> add_admin_commands(CLI::App& cli) {
  auto args = std::make_shared<AdminArgs>();
  auto* admin = cli.add_subcommand("admin", "Manage accounts, users and access keys");
  admin->require_subcommand(1);
  admin->add_option("-c,--config", args->config_file, "YAML configuration file");
  admin->add_option("--data-dir", args->data_dir,
                    "Data directory (default from the config, else ./berth-data)");

  auto* account = admin->add_subcommand("account", "Accounts (registries)")->require_subcommand(1);
  auto* account_create = account->add_subcommand("create", "Create an account");
  account_create->add_option("--id", args->account, "Twelve-digit account id")->required();
  account_create->add_option("--name", args->name, "A name for people")->required();
  auto* account_list = account->add_subcommand("list", "List accounts");

  auto* user = admin->add_subcommand("user", "Users within an account")->require_subcommand(1);
  auto* user_create = user->add_subcommand("create", "Create a user");
  user_create->add_option("--account", args->account, "Account id")->required();
  user_create->add_option("--name", args->name, "User name")->required();
  user_create->add_flag("--admin", args->admin, "May do everything within its account");
  auto* user_list = user->add_subcommand("list", "List users");
  user_list->add_option("--account", args->account, "Only this account");
  auto* user_delete = user->add_subcommand(
      "delete", "Delete a user; refused while it has keys, policies or groups, unless --force");
  user_delete->add_option("--account", args->account,
                          "Account id (default: the configured account)");
  user_delete->add_option("name", args->name, "User name")->required();
  user_delete->add_flag("--force", args->force,
                        "Also delete its access keys and policies and leave its groups");

  // Identity policies of a user (IAM's PutUserPolicy and AttachUserPolicy).
  auto* upolicy = user->add_subcommand("policy", "A user's IAM policies")->require_subcommand(1);
  auto* policy_put =
      upolicy->add_subcommand("put", "Create or replace an inline policy from a JSON file");
  auto* policy_delete = upolicy->add_subcommand("delete", "Delete an inline policy");
  auto* policy_list =
      upolicy->add_subcommand("list", "List inline policies and attached managed policies");
  auto* policy_attach =
      upolicy->add_subcommand("attach", "Attach an AWS managed ECR policy by ARN");
  auto* policy_detach = upolicy->add_subcommand("detach", "Detach a managed policy");
  for (auto* c : {policy_put, policy_delete, policy_list, policy_attach, policy_detach}) {
    c->add_option("--account", args->account, "Account id (default: the configured account)");
    c->add_option("user", args->user, "User name")->required();
  }
  policy_put->add_option("name", args->policy_name, "Policy name")->required();
  policy_put->add_option("file", args->policy_file, "The policy document (JSON)")->required();
  policy_delete->add_option("name", args->policy_name, "Policy name")->required();
  policy_attach
      ->add_option("arn", args->policy_arn, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistry...")
      ->required();
  policy_detach->add_option("arn", args->policy_arn, "Policy ARN")->required();

  auto run_group_command = add_group_commands(*admin);

  auto* key = admin->add_subcommand("key", "Access keys")->require_subcommand(1);
  auto* key_create =
      key->add_subcommand("create", "Create an access key; its secret is printed once");
  key_create->add_option("--account", args->account, "Account id")->required();
  key_create->add_option("--user", args->user, "User name")->required();
  auto* key_list = key->add_subcommand("list", "List access keys (never their secrets)");
  key_list->add_option("--account", args->account, "Only this account");
  auto* key_disable =
      key->add_subcommand("disable", "Disable an access key (its tokens stop working)");
  key_disable->add_option("id", args->key_id, "Access key id")->required();
  auto* key_enable = key->add_subcommand("enable", "Enable a disabled access key");
  key_enable->add_option("id", args->key_id, "Access key id")->required();
  auto* key_delete = key->add_subcommand("delete", "Delete an access key");
  key_delete->add_option("id", args->key_id, "Access key id")->required();

  auto* usage = admin->add_subcommand("usage", "Storage used per repository and per account");
  usage->add_option("--account", args->account, "Account id (default: the configured account)");
  auto* expirations =
      admin->add_subcommand("expirations", "What lifecycle policies expired, newest first");
  expirations->add_option("--account", args->account, "Only this account");

  auto* audit = admin->add_subcommand(
      "audit", "The audit trail, oldest first (JSON lines; a table on a terminal)");
  audit->add_option("--since", args->audit.since,
                    "From this RFC 3339 time, or this long ago (e.g. 1h)");
  audit->add_option("--account", args->audit.account, "Only this account");
  audit->add_option("--repository", args->audit.repository, "Only this repository");

  return [=]() -> int {
    if (!admin->parsed()) return 0;
    log::set_level("warn");
    auto loaded = operator_config(args->config_file, args->data_dir);
    if (!loaded) return fail(loaded.status());
    Config& config = *loaded;
    if (audit->parsed()) {  // reads only the audit log, never the stores
      AuditQuery query = args->audit;
      query.table = ::isatty(STDOUT_FILENO) == 1;
      return print_audit_log(config, query, std::cout, std::cerr);
    }
    auto stores = open_stores(config, OpenMode::kExisting);
    if (!stores) return fail(stores.status());
    auto& id = *stores->identity;
    if (auto ran = run_group_command(id, *stores->meta, config.account_id)) return *ran;

    if (account_create->parsed()) {
      if (Status s = id.create_account(args->account, args->name); !s.is_ok()) return fail(s);
      std::cout << "account " << args->account << " created\n";
    } else if (account_list->parsed()) {
      auto list = id.store().list_accounts();
      if (!list) return fail(list.status());
      for (const auto& a : *list) std::cout << a.id << "\t" << a.name << "\n";
    } else if (user_create->parsed()) {
      if (Status s = id.create_user(args->account, args->name, args->admin); !s.is_ok())
        return fail(s);
      std::cout << "user " << args->name << " created in account " << args->account << "\n";
    } else if (user_list->parsed()) {
      auto list = id.store().list_users(args->account);
      if (!list) return fail(list.status());
      for (const auto& u : *list)
        std::cout << u.account_id << "\t" << u.name << "\t" << (u.admin ? "admin" : "-") << "\n";
    } else if (user_delete->parsed()) {
      const std::string account = args->account.empty() ? config.account_id : args->account;
      if (Status s = id.delete_user(account, args->name, args->force); !s.is_ok()) return fail(s);
      std::cout << "user " << args->name << " deleted from account " << account << "\n";
    } else if (key_create->parsed()) {
      auto k = id.create_access_key(args->account, args->user);
      if (!k) return fail(k.status());
      std::cout << "access_key_id=" << k->access_key_id << "\n"
                << "secret_access_key=" << k->secret_access_key << "\n";
    } else if (key_list->parsed()) {
      auto list = id.store().list_access_keys(args->account);
      if (!list) return fail(list.status());
      for (const auto& k : *list) {
        std::cout << k.id << "\t" << k.account_id << "\t" << k.user_name << "\t"
                  << (k.active ? "Active" : "Inactive") << "\n";
      }
    } else if (key_disable->parsed() || key_enable->parsed()) {
      bool active = key_enable->parsed();
      if (Status s = id.set_access_key_active(args->key_id, active); !s.is_ok()) return fail(s);
      std::cout << "access key " << args->key_id << (active ? " enabled" : " disabled") << "\n";
    } else if (usage->parsed()) {
      std::string account = args->account.empty() ? config.account_id : args->account;
      auto repos = stores->meta->repository_usage(account);
      if (!repos) return fail(repos.status());
      auto total = stores->meta->account_usage(account);
      if (!total) return fail(total.status());
      for (const auto& r : *repos) std::cout << r.name << "\t" << r.bytes << "\n";
      std::cout << "total (account " << account << ", each blob once)\t" << *total << "\n";
    } else if (expirations->parsed()) {
      auto list = stores->meta->list_expirations(args->account, 1000);
      if (!list) return fail(list.status());
      for (const auto& e : *list) {
        std::string tags;
        for (const auto& t : e.tags) tags += (tags.empty() ? "" : ",") + t;
        std::cout << e.expired_at << "\t" << e.repository << "\t" << e.digest.str() << "\t"
                  << (tags.empty() ? "-" : tags) << "\trule " << e.rule_priority << "\n";
      }
    } else if (upolicy->parsed()) {
      const std::string account = args->account.empty() ? config.account_id : args->account;
      if (auto u = id.store().get_user(account, args->user); !u) {
        return fail(error(Code::kNotFound, "no user " + args->user + " in account " + account));
      }
      PolicyStore& policies = *stores->meta;
      if (policy_put->parsed()) {
        auto text = read_identity_policy_file(args->policy_file);
        if (!text) return fail(text.status());
        if (Status s = policies.put_user_policy(account, args->user, args->policy_name, *text);
            !s.is_ok()) {
          return fail(s);
        }
        std::cout << "policy " << args->policy_name << " put on user " << args->user << "\n";
      } else if (policy_delete->parsed()) {
        if (Status s = policies.delete_user_policy(account, args->user, args->policy_name);
            !s.is_ok())
          return fail(s);
        std::cout << "policy " << args->policy_name << " deleted from user " << args->user << "\n";
      } else if (policy_attach->parsed()) {
        if (Status s = check_managed_policy_arn(args->policy_arn); !s.is_ok()) return fail(s);
        if (Status s = policies.attach_user_policy(account, args->user, args->policy_arn);
            !s.is_ok())
          return fail(s);
        std::cout << "policy " << args->policy_arn << " attached to user " << args->user << "\n";
      } else if (policy_detach->parsed()) {
        if (Status s = policies.detach_user_policy(account, args->user, args->policy_arn);
            !s.is_ok())
          return fail(s);
        std::cout << "policy " << args->policy_arn << " detached from user " << args->user << "\n";
      } else if (policy_list->parsed()) {
        auto inline_policies = policies.list_user_policies(account, args->user);
        if (!inline_policies) return fail(inline_policies.status());
        auto attached = policies.list_attached_user_policies(account, args->user);
        if (!attached) return fail(attached.status());
        for (const auto& [name, text] : *inline_policies) std::cout << "inline\t" << name << "\n";
        for (const auto& arn : *attached) std::cout << "attached\t" << arn << "\n";
      }
    } else if (key_delete->parsed()) {
      if (Status s = id.delete_access_key(args->key_id); !s.is_ok()) return fail(s);
      std::cout << "access key " << args->key_id << " deleted\n";
    }
    return 0;
  };
}

}  // namespace berth::app
