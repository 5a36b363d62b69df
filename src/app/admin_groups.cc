#include "app/admin_groups.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "core/policy.h"

namespace berth::app {
namespace {

struct GroupArgs {
  std::string account;
  std::string group;
  std::string user;
  std::string policy_name;
  std::string policy_file;
  std::string policy_arn;
};

}  // namespace

int admin_failure(const Status& s) {
  std::cerr << "berth admin: " << s.message() << "\n";
  return 1;
}

Result<std::string> read_identity_policy_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error(Code::kNotFound, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  if (auto doc = policy::parse(text.str(), policy::Kind::kIdentity); !doc) {
    return error(Code::kInvalidArgument, "MalformedPolicyDocument: " + doc.status().message());
  }
  return text.str();
}

Status check_managed_policy_arn(const std::string& arn) {
  if (policy::managed_policy(arn) != nullptr) return Status::ok();
  std::string known;
  for (auto a : policy::managed_policy_arns()) known += std::string("\n  ") + std::string(a);
  return error(Code::kNotFound,
               "Policy " + arn + " does not exist or is not attachable; berth knows:" + known);
}

std::function<std::optional<int>(identity::IdentityService&, PolicyStore&, const std::string&)>
add_group_commands(CLI::App& admin) {
  auto args = std::make_shared<GroupArgs>();
  auto* group = admin.add_subcommand("group", "IAM groups: their policies apply to their members")
                    ->require_subcommand(1);
  auto* create = group->add_subcommand("create", "Create a group");
  auto* list = group->add_subcommand("list", "List groups and their members");
  auto* remove = group->add_subcommand("delete", "Delete a group without members or policies");
  auto* add_user = group->add_subcommand("add-user", "Add a user to a group");
  auto* remove_user = group->add_subcommand("remove-user", "Remove a user from a group");
  for (auto* c : {create, list, remove, add_user, remove_user})
    c->add_option("--account", args->account, "Account id (default: the configured account)");
  for (auto* c : {create, remove, add_user, remove_user})
    c->add_option("group", args->group, "Group name")->required();
  for (auto* c : {add_user, remove_user})
    c->add_option("user", args->user, "User name")->required();

  // Identity policies of a group (IAM's PutGroupPolicy and AttachGroupPolicy).
  auto* gpolicy = group->add_subcommand("policy", "A group's IAM policies")->require_subcommand(1);
  auto* put = gpolicy->add_subcommand("put", "Create or replace an inline policy from a JSON file");
  auto* del = gpolicy->add_subcommand("delete", "Delete an inline policy");
  auto* plist =
      gpolicy->add_subcommand("list", "List inline policies and attached managed policies");
  auto* attach = gpolicy->add_subcommand("attach", "Attach an AWS managed ECR policy by ARN");
  auto* detach = gpolicy->add_subcommand("detach", "Detach a managed policy");
  for (auto* c : {put, del, plist, attach, detach}) {
    c->add_option("--account", args->account, "Account id (default: the configured account)");
    c->add_option("group", args->group, "Group name")->required();
  }
  put->add_option("name", args->policy_name, "Policy name")->required();
  put->add_option("file", args->policy_file, "The policy document (JSON)")->required();
  del->add_option("name", args->policy_name, "Policy name")->required();
  attach
      ->add_option("arn", args->policy_arn, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistry...")
      ->required();
  detach->add_option("arn", args->policy_arn, "Policy ARN")->required();

  return [=](identity::IdentityService& id, PolicyStore& policies,
             const std::string& default_account) -> std::optional<int> {
    if (!group->parsed()) return std::nullopt;
    const std::string account = args->account.empty() ? default_account : args->account;
    const std::string& g = args->group;
    if (create->parsed()) {
      if (Status s = id.create_group(account, g); !s.is_ok()) return admin_failure(s);
      std::cout << "group " << g << " created in account " << account << "\n";
    } else if (list->parsed()) {
      auto groups = id.list_groups(account);
      if (!groups) return admin_failure(groups.status());
      for (const auto& each : *groups) {
        auto members = id.list_group_members(account, each.name);
        if (!members) return admin_failure(members.status());
        std::string joined;
        for (const auto& m : *members) joined += (joined.empty() ? "" : ",") + m;
        std::cout << each.name << "\t" << (joined.empty() ? "-" : joined) << "\n";
      }
    } else if (remove->parsed()) {
      if (Status s = id.delete_group(account, g); !s.is_ok()) return admin_failure(s);
      std::cout << "group " << g << " deleted\n";
    } else if (add_user->parsed()) {
      if (Status s = id.add_user_to_group(account, g, args->user); !s.is_ok())
        return admin_failure(s);
      std::cout << "user " << args->user << " added to group " << g << "\n";
    } else if (remove_user->parsed()) {
      if (Status s = id.remove_user_from_group(account, g, args->user); !s.is_ok())
        return admin_failure(s);
      std::cout << "user " << args->user << " removed from group " << g << "\n";
    } else if (gpolicy->parsed()) {
      // The policy store neither checks nor knows groups: look first.
      if (auto found = id.get_group(account, g); !found) return admin_failure(found.status());
      if (put->parsed()) {
        auto text = read_identity_policy_file(args->policy_file);
        if (!text) return admin_failure(text.status());
        if (Status s = policies.put_group_policy(account, g, args->policy_name, *text); !s.is_ok())
          return admin_failure(s);
        std::cout << "policy " << args->policy_name << " put on group " << g << "\n";
      } else if (del->parsed()) {
        if (Status s = policies.delete_group_policy(account, g, args->policy_name); !s.is_ok())
          return admin_failure(s);
        std::cout << "policy " << args->policy_name << " deleted from group " << g << "\n";
      } else if (attach->parsed()) {
        if (Status s = check_managed_policy_arn(args->policy_arn); !s.is_ok())
          return admin_failure(s);
        if (Status s = policies.attach_group_policy(account, g, args->policy_arn); !s.is_ok())
          return admin_failure(s);
        std::cout << "policy " << args->policy_arn << " attached to group " << g << "\n";
      } else if (detach->parsed()) {
        if (Status s = policies.detach_group_policy(account, g, args->policy_arn); !s.is_ok())
          return admin_failure(s);
        std::cout << "policy " << args->policy_arn << " detached from group " << g << "\n";
      } else if (plist->parsed()) {
        auto inline_policies = policies.list_group_policies(account, g);
        if (!inline_policies) return admin_failure(inline_policies.status());
        auto attached = policies.list_attached_group_policies(account, g);
        if (!attached) return admin_failure(attached.status());
        for (const auto& [name, text] : *inline_policies) std::cout << "inline\t" << name << "\n";
        for (const auto& arn : *attached) std::cout << "attached\t" << arn << "\n";
      }
    }
    return 0;
  };
}

}  // namespace berth::app
