// The AWS managed policies for ECR, as AWS's managed policy reference
// (docs.aws.amazon.com/aws-managed-policy/latest/reference/) published them,
// read on 2026-12-07:
//   AmazonEC2ContainerRegistryFullAccess  ecr:* (AWS adds cloudtrail:LookupEvents
//                                         and iam:CreateServiceLinkedRole, which
//                                         berth has no use for)
//   AmazonEC2ContainerRegistryPowerUser   v3, edited 2019-12-10
//   AmazonEC2ContainerRegistryReadOnly    v3, edited 2019-12-10
//   AmazonEC2ContainerRegistryPullOnly    v1, created 2024-10-04
#include <array>
#include <string_view>

#include "core/policy.h"

namespace berth::policy {
namespace {

struct Managed {
  std::string_view arn;
  std::string_view text;
};

constexpr std::array<Managed, 4> kManaged = {{
    {"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:*"],"Resource":"*"}]})"},
    {"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
        "ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages",
        "ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource","ecr:DescribeImageScanFindings","ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage"],"Resource":"*"}]})"},
    {"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
        "ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages",
        "ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource","ecr:DescribeImageScanFindings"],"Resource":"*"}]})"},
    {"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
        "ecr:GetAuthorizationToken","ecr:BatchGetImage","ecr:GetDownloadUrlForLayer",
        "ecr:BatchImportUpstreamImage"],"Resource":"*"}]})"},
}};

// Parsed once, on first use; the texts are constants that parse (a unit test
// holds them to it).
const std::array<Document, 4>& documents() {
  static const std::array<Document, 4> docs = [] {
    std::array<Document, 4> out;
    for (size_t i = 0; i < kManaged.size(); ++i) {
      auto d = parse(kManaged[i].text, Kind::kIdentity);
      if (d) out[i] = std::move(d).value();
    }
    return out;
  }();
  return docs;
}

}  // namespace

const Document* managed_policy(std::string_view arn) {
  for (size_t i = 0; i < kManaged.size(); ++i) {
    if (kManaged[i].arn == arn) return &documents()[i];
  }
  return nullptr;
}

std::vector<std::string_view> managed_policy_arns() {
  std::vector<std::string_view> out;
  for (const auto& m : kManaged) out.push_back(m.arn);
  return out;
}

}  // namespace berth::policy
