// The cost of one authorization decision: evaluating a typical user's
// identity policies (two inline documents and the managed ReadOnly policy)
// plus a repository policy with a condition, as AccessControl does for every
// /v2 and ECR request; and parsing such a document (paid once per text: the
// policy source keeps parsed documents).
#include <benchmark/benchmark.h>

#include <string>

#include "core/policy.h"

namespace {

using namespace berth::policy;

const char* kPush = R"({"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"},
  {"Effect":"Allow","Action":["ecr:BatchCheckLayerAvailability","ecr:InitiateLayerUpload","ecr:UploadLayerPart",
     "ecr:CompleteLayerUpload","ecr:PutImage","ecr:BatchGetImage"],
   "Resource":"arn:aws:ecr:*:111111111111:repository/app/*"}]})";
const char* kDeny =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecr:BatchDeleteImage",
  "Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}})";
const char* kRepo = R"({"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow",
  "Principal":{"AWS":["arn:aws:iam::222222222222:root","arn:aws:iam::111111111111:user/deploy"]},
  "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"Bool":{"aws:SecureTransport":"true"}}}]})";

RequestContext typical_request() {
  RequestContext r;
  r.action = "ecr:GetDownloadUrlForLayer";
  r.resource = "arn:aws:ecr:us-east-1:111111111111:repository/app/api";
  r.resource_account = "111111111111";
  r.principal_account = "111111111111";
  r.user_name = "ci";
  r.principal_arn = user_arn("111111111111", "ci");
  r.source_ip = "10.1.2.3";
  r.secure_transport = true;
  r.now_epoch_seconds = 1'798'761'600;
  return r;
}

void BM_PolicyEvaluateTypicalUser(benchmark::State& state) {
  const Document push = parse(kPush, Kind::kIdentity).value();
  const Document deny = parse(kDeny, Kind::kIdentity).value();
  const Document repo = parse(kRepo, Kind::kResource).value();
  PolicySet set;
  set.identity = {&push, &deny,
                  managed_policy("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")};
  set.resource = &repo;
  const RequestContext r = typical_request();
  for (auto _ : state) benchmark::DoNotOptimize(evaluate(set, r));
}
BENCHMARK(BM_PolicyEvaluateTypicalUser);

void BM_PolicyParseRepositoryPolicy(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse(kRepo, Kind::kResource));
}
BENCHMARK(BM_PolicyParseRepositoryPolicy);

}  // namespace
