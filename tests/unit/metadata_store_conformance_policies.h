// The PolicyStore conformance suite: repository, registry and user policy
// texts. Written against the role interface (meta/policy_store.h): the role
// under test is store(); the other roles only arrange state. Include it from
// exactly one translation unit, after metadata_store_conformance.h.
#pragma once

#include "metadata_store_conformance.h"

namespace berth::conformance {

TEST_P(PolicyStoreConformance, RepositoryPolicyIsSetReplacedRemovedAndGoesWithTheRepository) {
  RepositoryRecord r = repo("policies/a");
  RepositoryRecord other = repo("policies/b");
  auto none = store().get_repository_policy(r.id);
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_FALSE(none->has_value());

  auto first = store().set_repository_policy(r.id, std::string("{\"v\":1}"));
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_FALSE(first->has_value()) << "nothing was replaced";
  auto second = store().set_repository_policy(r.id, std::string("{\"v\":2}"));
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->value_or(""), "{\"v\":1}");
  EXPECT_EQ(store().get_repository_policy(r.id)->value_or(""), "{\"v\":2}");
  EXPECT_FALSE(store().get_repository_policy(other.id)->has_value());

  auto removed = store().set_repository_policy(r.id, std::nullopt);
  ASSERT_TRUE(removed.is_ok());
  EXPECT_EQ(removed->value_or(""), "{\"v\":2}");
  EXPECT_FALSE(store().get_repository_policy(r.id)->has_value());
  auto removed_again = store().set_repository_policy(r.id, std::nullopt);
  ASSERT_TRUE(removed_again.is_ok());
  EXPECT_FALSE(removed_again->has_value());

  ASSERT_TRUE(store().set_repository_policy(r.id, std::string("{}")).is_ok());
  ASSERT_TRUE(repositories().delete_repository(r.id, false).is_ok());
  RepositoryRecord again = repo("policies/a");
  EXPECT_FALSE(store().get_repository_policy(again.id)->has_value())
      << "a new repository starts without policy";
}

TEST_P(PolicyStoreConformance, RepositoryPolicyForAMissingRepositoryIsNameUnknown) {
  auto s = store().set_repository_policy(987654, std::string("{}"));
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kNameUnknown);
}

TEST_P(PolicyStoreConformance, RegistryPolicyPerAccount) {
  EXPECT_FALSE(store().get_registry_policy(kAccount)->has_value());
  ASSERT_TRUE(store().set_registry_policy(kAccount, std::string("a")).is_ok());
  auto replaced = store().set_registry_policy(kAccount, std::string("b"));
  ASSERT_TRUE(replaced.is_ok());
  EXPECT_EQ(replaced->value_or(""), "a");
  EXPECT_EQ(store().get_registry_policy(kAccount)->value_or(""), "b");
  EXPECT_FALSE(store().get_registry_policy(kOtherAccount)->has_value());
  auto removed = store().set_registry_policy(kAccount, std::nullopt);
  ASSERT_TRUE(removed.is_ok());
  EXPECT_EQ(removed->value_or(""), "b");
  EXPECT_FALSE(store().get_registry_policy(kAccount)->has_value());
}

TEST_P(PolicyStoreConformance, UserInlinePolicies) {
  using List = std::vector<std::pair<std::string, std::string>>;
  EXPECT_TRUE(store().list_user_policies(kAccount, "ci")->empty());
  ASSERT_TRUE(store().put_user_policy(kAccount, "ci", "push", "p1").is_ok());
  ASSERT_TRUE(store().put_user_policy(kAccount, "ci", "pull", "p2").is_ok());
  ASSERT_TRUE(store().put_user_policy(kAccount, "ci", "push", "p3").is_ok());  // replaces
  ASSERT_TRUE(store().put_user_policy(kOtherAccount, "ci", "push", "other").is_ok());
  EXPECT_EQ(*store().list_user_policies(kAccount, "ci"), (List{{"pull", "p2"}, {"push", "p3"}}));
  EXPECT_TRUE(store().list_user_policies(kAccount, "deploy")->empty());
  ASSERT_TRUE(store().delete_user_policy(kAccount, "ci", "pull").is_ok());
  EXPECT_EQ(store().delete_user_policy(kAccount, "ci", "pull").code(), Code::kNotFound);
  EXPECT_EQ(*store().list_user_policies(kAccount, "ci"), (List{{"push", "p3"}}));
  EXPECT_EQ(*store().list_user_policies(kOtherAccount, "ci"), (List{{"push", "other"}}));
}

TEST_P(PolicyStoreConformance, UserAttachedPolicies) {
  using List = std::vector<std::string>;
  const std::string ro = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
  const std::string pu = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser";
  EXPECT_TRUE(store().list_attached_user_policies(kAccount, "deploy")->empty());
  ASSERT_TRUE(store().attach_user_policy(kAccount, "deploy", ro).is_ok());
  ASSERT_TRUE(store().attach_user_policy(kAccount, "deploy", ro).is_ok())
      << "attaching twice is fine";
  ASSERT_TRUE(store().attach_user_policy(kAccount, "deploy", pu).is_ok());
  EXPECT_EQ(*store().list_attached_user_policies(kAccount, "deploy"), (List{pu, ro}));
  EXPECT_TRUE(store().list_attached_user_policies(kAccount, "ci")->empty());
  ASSERT_TRUE(store().detach_user_policy(kAccount, "deploy", pu).is_ok());
  EXPECT_EQ(store().detach_user_policy(kAccount, "deploy", pu).code(), Code::kNotFound);
  EXPECT_EQ(*store().list_attached_user_policies(kAccount, "deploy"), (List{ro}));
}

TEST_P(PolicyStoreConformance, GroupInlinePoliciesAreKeptApartFromUsers) {
  using List = std::vector<std::pair<std::string, std::string>>;
  EXPECT_TRUE(store().list_group_policies(kAccount, "devs")->empty());
  ASSERT_TRUE(store().put_group_policy(kAccount, "devs", "push", "g1").is_ok());
  ASSERT_TRUE(store().put_group_policy(kAccount, "devs", "Pull", "g2").is_ok());
  ASSERT_TRUE(store().put_group_policy(kAccount, "devs", "push", "g3").is_ok());  // replaces
  ASSERT_TRUE(store().put_group_policy(kOtherAccount, "devs", "push", "other").is_ok());
  ASSERT_TRUE(store().put_user_policy(kAccount, "devs", "user-one", "u").is_ok());
  EXPECT_EQ(*store().list_group_policies(kAccount, "devs"), (List{{"Pull", "g2"}, {"push", "g3"}}))
      << "byte order of name";
  EXPECT_EQ(*store().list_user_policies(kAccount, "devs"), (List{{"user-one", "u"}}))
      << "a user named like a group keeps its own policies";
  ASSERT_TRUE(store().delete_group_policy(kAccount, "devs", "Pull").is_ok());
  EXPECT_EQ(store().delete_group_policy(kAccount, "devs", "Pull").code(), Code::kNotFound);
  EXPECT_EQ(store().delete_group_policy(kAccount, "devs", "user-one").code(), Code::kNotFound);
  EXPECT_EQ(*store().list_group_policies(kAccount, "devs"), (List{{"push", "g3"}}));
  EXPECT_EQ(*store().list_group_policies(kOtherAccount, "devs"), (List{{"push", "other"}}));
}

TEST_P(PolicyStoreConformance, GroupAttachedPolicies) {
  using List = std::vector<std::string>;
  const std::string ro = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
  const std::string pu = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser";
  EXPECT_TRUE(store().list_attached_group_policies(kAccount, "ops")->empty());
  ASSERT_TRUE(store().attach_group_policy(kAccount, "ops", ro).is_ok());
  ASSERT_TRUE(store().attach_group_policy(kAccount, "ops", ro).is_ok())
      << "attaching twice is fine";
  ASSERT_TRUE(store().attach_group_policy(kAccount, "ops", pu).is_ok());
  EXPECT_EQ(*store().list_attached_group_policies(kAccount, "ops"), (List{pu, ro}));
  EXPECT_TRUE(store().list_attached_user_policies(kAccount, "ops")->empty());
  EXPECT_TRUE(store().list_attached_group_policies(kOtherAccount, "ops")->empty());
  ASSERT_TRUE(store().detach_group_policy(kAccount, "ops", pu).is_ok());
  EXPECT_EQ(store().detach_group_policy(kAccount, "ops", pu).code(), Code::kNotFound);
  EXPECT_EQ(*store().list_attached_group_policies(kAccount, "ops"), (List{ro}));
}

}  // namespace berth::conformance
