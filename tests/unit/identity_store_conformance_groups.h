// The IdentityStore conformance cases for user deletion, user tags, groups
// and memberships (meta/identity_store.h), with the group policies of the
// PolicyStore on the same database. Include it from exactly one translation
// unit, after identity_store_conformance.h.
#pragma once

#include "identity_store_conformance.h"

namespace berth::conformance {

namespace {
constexpr const char* kReadOnlyArn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
using Names = std::vector<std::string>;
using Tags = std::vector<std::pair<std::string, std::string>>;
}  // namespace

// --- user deletion -----------------------------------------------------------------------

TEST_P(IdentityStoreConformance, DeleteUserWithoutCascadeRefusesWhileAnythingHangsOnIt) {
  account(kAccount);
  user(kAccount, "alice");
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "devs", kNow}).is_ok());
  EXPECT_EQ(store().delete_user(kAccount, "nobody", false).code(), Code::kNotFound);
  EXPECT_EQ(store().delete_user(kAccount, "nobody", true).code(), Code::kNotFound);

  // Each dependent alone refuses the delete; removing it lets the next one show.
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice")).is_ok());
  EXPECT_EQ(store().delete_user(kAccount, "alice", false).code(), Code::kFailedPrecondition)
      << "an access key remains";
  ASSERT_TRUE(store().delete_access_key("BKIAAAAAAAAAAAAAAAA1").is_ok());
  ASSERT_TRUE(policies().put_user_policy(kAccount, "alice", "p", "{}").is_ok());
  EXPECT_EQ(store().delete_user(kAccount, "alice", false).code(), Code::kFailedPrecondition)
      << "an inline policy remains";
  ASSERT_TRUE(policies().delete_user_policy(kAccount, "alice", "p").is_ok());
  ASSERT_TRUE(policies().attach_user_policy(kAccount, "alice", kReadOnlyArn).is_ok());
  EXPECT_EQ(store().delete_user(kAccount, "alice", false).code(), Code::kFailedPrecondition)
      << "an attached policy remains";
  ASSERT_TRUE(policies().detach_user_policy(kAccount, "alice", kReadOnlyArn).is_ok());
  ASSERT_TRUE(store().add_user_to_group(kAccount, "devs", "alice").is_ok());
  EXPECT_EQ(store().delete_user(kAccount, "alice", false).code(), Code::kFailedPrecondition)
      << "a group membership remains";
  EXPECT_TRUE(store().get_user(kAccount, "alice").is_ok()) << "a refused delete changes nothing";
  EXPECT_EQ(*store().list_group_members(kAccount, "devs"), Names{"alice"});
  ASSERT_TRUE(store().remove_user_from_group(kAccount, "devs", "alice").is_ok());

  // Tags never hold a user back; they go with it.
  ASSERT_TRUE(store().tag_user(kAccount, "alice", {{"team", "core"}}).is_ok());
  ASSERT_TRUE(store().delete_user(kAccount, "alice", false).is_ok());
  EXPECT_EQ(store().get_user(kAccount, "alice").status().code(), Code::kNotFound);
  user(kAccount, "alice");
  EXPECT_TRUE(store().list_user_tags(kAccount, "alice")->empty())
      << "a new user of the same name starts without the old one's tags";
}

TEST_P(IdentityStoreConformance, DeleteUserWithCascadeRemovesEverythingOfThatUserOnly) {
  account(kAccount);
  user(kAccount, "alice");
  user(kAccount, "bob");
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "devs", kNow}).is_ok());
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA1", kAccount, "alice")).is_ok());
  ASSERT_TRUE(store().create_access_key(key("BKIAAAAAAAAAAAAAAAA2", kAccount, "bob")).is_ok());
  for (const char* u : {"alice", "bob"}) {
    ASSERT_TRUE(policies().put_user_policy(kAccount, u, "p", "{}").is_ok());
    ASSERT_TRUE(policies().attach_user_policy(kAccount, u, kReadOnlyArn).is_ok());
    ASSERT_TRUE(store().add_user_to_group(kAccount, "devs", u).is_ok());
    ASSERT_TRUE(store().tag_user(kAccount, u, {{"team", "core"}}).is_ok());
  }
  const int64_t before = generation();
  ASSERT_TRUE(store().delete_user(kAccount, "alice", true).is_ok());
  EXPECT_GT(generation(), before);
  EXPECT_EQ(store().get_user(kAccount, "alice").status().code(), Code::kNotFound);
  EXPECT_EQ(store().get_access_key("BKIAAAAAAAAAAAAAAAA1").status().code(), Code::kNotFound);
  EXPECT_TRUE(policies().list_user_policies(kAccount, "alice")->empty());
  EXPECT_TRUE(policies().list_attached_user_policies(kAccount, "alice")->empty());
  EXPECT_EQ(*store().list_group_members(kAccount, "devs"), Names{"bob"});
  // bob keeps all of his.
  EXPECT_TRUE(store().get_access_key("BKIAAAAAAAAAAAAAAAA2").is_ok());
  EXPECT_EQ(policies().list_user_policies(kAccount, "bob")->size(), 1u);
  EXPECT_EQ(policies().list_attached_user_policies(kAccount, "bob")->size(), 1u);
  EXPECT_EQ(*store().list_user_tags(kAccount, "bob"), (Tags{{"team", "core"}}));
  EXPECT_EQ(store().delete_user(kAccount, "alice", true).code(), Code::kNotFound);
}

// --- user tags -------------------------------------------------------------------------

TEST_P(IdentityStoreConformance, UserTagsAreAddedReplacedRemovedAndListedByKey) {
  account(kAccount);
  user(kAccount, "alice");
  user(kAccount, "bob");
  EXPECT_EQ(store().tag_user(kAccount, "nobody", {{"a", "b"}}).code(), Code::kNotFound);
  EXPECT_EQ(store().list_user_tags(kAccount, "nobody").status().code(), Code::kNotFound);
  EXPECT_EQ(store().untag_user(kAccount, "nobody", {"a"}).code(), Code::kNotFound);
  EXPECT_TRUE(store().list_user_tags(kAccount, "alice")->empty());
  ASSERT_TRUE(store().tag_user(kAccount, "alice", {{"team", "core"}, {"Env", "prod"}}).is_ok());
  ASSERT_TRUE(store().tag_user(kAccount, "alice", {{"team", "infra"}, {"cost", ""}}).is_ok());
  ASSERT_TRUE(store().tag_user(kAccount, "bob", {{"team", "web"}}).is_ok());
  EXPECT_EQ(*store().list_user_tags(kAccount, "alice"),
            (Tags{{"Env", "prod"}, {"cost", ""}, {"team", "infra"}}));
  ASSERT_TRUE(store().untag_user(kAccount, "alice", {"cost", "absent"}).is_ok());
  EXPECT_EQ(*store().list_user_tags(kAccount, "alice"), (Tags{{"Env", "prod"}, {"team", "infra"}}));
  EXPECT_EQ(*store().list_user_tags(kAccount, "bob"), (Tags{{"team", "web"}}));
}

// --- groups and memberships -----------------------------------------------------------------

TEST_P(IdentityStoreConformance, GroupsAreCreatedPerAccountAndListedInByteOrder) {
  EXPECT_EQ(store().create_group(GroupRecord{kAccount, "devs", kNow}).code(), Code::kNotFound)
      << "the account is missing";
  account(kAccount);
  account(kOtherAccount);
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "devs", kNow}).is_ok());
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "Admins", kNow + 1}).is_ok());
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "ops", kNow + 2}).is_ok());
  ASSERT_TRUE(store().create_group(GroupRecord{kOtherAccount, "devs", kNow + 3}).is_ok());
  EXPECT_EQ(store().create_group(GroupRecord{kAccount, "devs", kNow + 9}).code(),
            Code::kAlreadyExists);
  auto got = store().get_group(kAccount, "devs");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->account_id, kAccount);
  EXPECT_EQ(got->name, "devs");
  EXPECT_EQ(got->created_at, kNow) << "the duplicate changed the group";
  EXPECT_EQ(store().get_group(kAccount, "nobody").status().code(), Code::kNotFound);
  auto listed = store().list_groups(kAccount);
  ASSERT_TRUE(listed.is_ok()) << listed.status().to_string();
  Names names;
  for (const auto& g : *listed) names.push_back(g.name);
  EXPECT_EQ(names, (Names{"Admins", "devs", "ops"}));
  EXPECT_EQ(store().list_groups(kOtherAccount)->size(), 1u);
  EXPECT_TRUE(store().list_groups("333333333333")->empty());
}

TEST_P(IdentityStoreConformance, MembershipsAreListedInByteOrderBothWays) {
  account(kAccount);
  for (const char* u : {"carol", "Bob", "alice"}) user(kAccount, u);
  for (const char* g : {"ops", "devs", "Admins"})
    ASSERT_TRUE(store().create_group(GroupRecord{kAccount, g, kNow}).is_ok());
  EXPECT_EQ(store().add_user_to_group(kAccount, "nogroup", "alice").code(), Code::kNotFound);
  EXPECT_EQ(store().add_user_to_group(kAccount, "devs", "nobody").code(), Code::kNotFound);
  for (const char* u : {"carol", "alice", "Bob"})
    ASSERT_TRUE(store().add_user_to_group(kAccount, "devs", u).is_ok());
  ASSERT_TRUE(store().add_user_to_group(kAccount, "devs", "alice").is_ok()) << "again is fine";
  ASSERT_TRUE(store().add_user_to_group(kAccount, "ops", "alice").is_ok());
  ASSERT_TRUE(store().add_user_to_group(kAccount, "Admins", "alice").is_ok());
  EXPECT_EQ(*store().list_group_members(kAccount, "devs"), (Names{"Bob", "alice", "carol"}));
  EXPECT_EQ(*store().list_groups_for_user(kAccount, "alice"), (Names{"Admins", "devs", "ops"}));
  EXPECT_EQ(*store().list_groups_for_user(kAccount, "carol"), (Names{"devs"}));
  EXPECT_EQ(store().list_group_members(kAccount, "nogroup").status().code(), Code::kNotFound);
  EXPECT_EQ(store().list_groups_for_user(kAccount, "nobody").status().code(), Code::kNotFound);

  ASSERT_TRUE(store().remove_user_from_group(kAccount, "devs", "alice").is_ok());
  EXPECT_EQ(store().remove_user_from_group(kAccount, "devs", "alice").code(), Code::kNotFound)
      << "no longer a member";
  EXPECT_EQ(store().remove_user_from_group(kAccount, "nogroup", "alice").code(), Code::kNotFound);
  EXPECT_EQ(*store().list_group_members(kAccount, "devs"), (Names{"Bob", "carol"}));
  EXPECT_EQ(*store().list_groups_for_user(kAccount, "alice"), (Names{"Admins", "ops"}));
}

TEST_P(IdentityStoreConformance, DeleteGroupRefusesWhileItHasMembersOrPolicies) {
  account(kAccount);
  user(kAccount, "alice");
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "devs", kNow}).is_ok());
  EXPECT_EQ(store().delete_group(kAccount, "nogroup").code(), Code::kNotFound);

  ASSERT_TRUE(store().add_user_to_group(kAccount, "devs", "alice").is_ok());
  EXPECT_EQ(store().delete_group(kAccount, "devs").code(), Code::kFailedPrecondition)
      << "a member remains";
  ASSERT_TRUE(store().remove_user_from_group(kAccount, "devs", "alice").is_ok());
  ASSERT_TRUE(policies().put_group_policy(kAccount, "devs", "p", "{}").is_ok());
  EXPECT_EQ(store().delete_group(kAccount, "devs").code(), Code::kFailedPrecondition)
      << "an inline policy remains";
  ASSERT_TRUE(policies().delete_group_policy(kAccount, "devs", "p").is_ok());
  ASSERT_TRUE(policies().attach_group_policy(kAccount, "devs", kReadOnlyArn).is_ok());
  EXPECT_EQ(store().delete_group(kAccount, "devs").code(), Code::kFailedPrecondition)
      << "an attached policy remains";
  EXPECT_TRUE(store().get_group(kAccount, "devs").is_ok());
  ASSERT_TRUE(policies().detach_group_policy(kAccount, "devs", kReadOnlyArn).is_ok());

  ASSERT_TRUE(store().delete_group(kAccount, "devs").is_ok());
  EXPECT_EQ(store().get_group(kAccount, "devs").status().code(), Code::kNotFound);
  EXPECT_EQ(*store().list_groups_for_user(kAccount, "alice"), Names{});
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "devs", kNow}).is_ok());
  EXPECT_TRUE(store().list_group_members(kAccount, "devs")->empty());
}

TEST_P(IdentityStoreConformance,
       EveryChangeToGroupsMembershipsTagsOrGroupPoliciesBumpsTheGeneration) {
  account(kAccount);
  user(kAccount, "alice");
  int64_t g = generation();
  auto bumped = [&](const char* what) {
    int64_t now = generation();
    EXPECT_GT(now, g) << what << " did not bump the generation";
    g = now;
  };
  ASSERT_TRUE(store().create_group(GroupRecord{kAccount, "devs", kNow}).is_ok());
  bumped("create_group");
  ASSERT_TRUE(store().add_user_to_group(kAccount, "devs", "alice").is_ok());
  bumped("add_user_to_group");
  ASSERT_TRUE(policies().put_group_policy(kAccount, "devs", "p", "{}").is_ok());
  bumped("put_group_policy");
  ASSERT_TRUE(policies().delete_group_policy(kAccount, "devs", "p").is_ok());
  bumped("delete_group_policy");
  ASSERT_TRUE(policies().attach_group_policy(kAccount, "devs", kReadOnlyArn).is_ok());
  bumped("attach_group_policy");
  ASSERT_TRUE(policies().detach_group_policy(kAccount, "devs", kReadOnlyArn).is_ok());
  bumped("detach_group_policy");
  ASSERT_TRUE(store().tag_user(kAccount, "alice", {{"a", "b"}}).is_ok());
  bumped("tag_user");
  ASSERT_TRUE(store().untag_user(kAccount, "alice", {"a"}).is_ok());
  bumped("untag_user");
  ASSERT_TRUE(store().remove_user_from_group(kAccount, "devs", "alice").is_ok());
  bumped("remove_user_from_group");
  ASSERT_TRUE(store().delete_group(kAccount, "devs").is_ok());
  bumped("delete_group");
  ASSERT_TRUE(store().delete_user(kAccount, "alice", false).is_ok());
  bumped("delete_user");

  // Reads and refused changes change nothing.
  (void)store().list_groups(kAccount);
  (void)store().get_group(kAccount, "devs");
  EXPECT_FALSE(store().delete_group(kAccount, "devs").is_ok());
  EXPECT_FALSE(store().remove_user_from_group(kAccount, "devs", "alice").is_ok());
  EXPECT_FALSE(store().delete_user(kAccount, "alice", true).is_ok());
  EXPECT_FALSE(policies().delete_group_policy(kAccount, "devs", "p").is_ok());
  EXPECT_EQ(generation(), g) << "reads or refused changes bumped the generation";
}

}  // namespace berth::conformance
