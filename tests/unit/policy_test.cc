// The policy language and AWS's evaluation logic, table-driven. Documents
// marked "AWS example" are the examples of AWS's IAM and ECR user guides
// (identity-based policy examples, repository policy examples, condition
// operators), with account ids and names changed.
#include "core/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::policy {
namespace {

constexpr const char* kAcct = "111111111111";
constexpr const char* kOther = "222222222222";

Document must_parse(const std::string& text, Kind kind) {
  auto d = parse(text, kind);
  EXPECT_TRUE(d.is_ok()) << d.status().message() << "\n" << text;
  return d.is_ok() ? std::move(d).value() : Document{};
}

RequestContext request(std::string action, std::string repository, std::string user = "ci",
                       std::string principal_account = kAcct,
                       std::string resource_account = kAcct) {
  RequestContext r;
  r.action = std::move(action);
  r.resource = repository.empty()
                   ? "*"
                   : "arn:aws:ecr:us-east-1:" + resource_account + ":repository/" + repository;
  r.resource_account = resource_account;
  r.principal_account = principal_account;
  r.user_name = user;
  r.principal_arn = user_arn(principal_account, user);
  r.source_ip = "10.1.2.3";
  r.secure_transport = true;
  r.now_epoch_seconds = 1'798'761'600;  // 2027-01-01T00:00:00Z
  return r;
}

// --- parsing -----------------------------------------------------------------

struct ParseCase {
  const char* name;
  Kind kind;
  const char* text;
  const char* error;  // substring of the message, or null when valid
};

TEST(PolicyParseTest, AcceptsAndRefusesAsIamDoes) {
  const std::vector<ParseCase> cases = {
      {"single statement object", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}})",
       nullptr},
      {"legacy version", Kind::kResource,
       R"({"Version":"2008-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]})",
       nullptr},
      {"AWS example: repository policy for a second account", Kind::kResource,
       R"({"Version":"2012-10-17","Statement":[{"Sid":"AllowCrossAccountPush","Effect":"Allow",
           "Principal":{"AWS":"arn:aws:iam::222222222222:root"},
           "Action":["ecr:BatchCheckLayerAvailability","ecr:CompleteLayerUpload","ecr:InitiateLayerUpload",
                     "ecr:PutImage","ecr:UploadLayerPart"]}]})",
       nullptr},
      {"principal as a bare account id and a user list", Kind::kResource,
       R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["222222222222",
           "arn:aws:iam::111111111111:user/ci"]},"Action":"ecr:*"}]})",
       nullptr},
      {"every condition family", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"ecr:Describe*","NotResource":"arn:aws:ecr:*:*:repository/x",
           "Condition":{"StringLikeIfExists":{"aws:username":"c?"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
           "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"Bool":{"aws:SecureTransport":false},
           "NumericLessThan":{"aws:EpochTime":2000000000},"Null":{"ecr:ResourceTag/team":"true"},
           "ForAnyValue:StringEquals":{"aws:PrincipalAccount":"111111111111"},
           "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}}]})",
       nullptr},
      {"not JSON", Kind::kIdentity, "{", "Syntax errors in policy"},
      {"not an object", Kind::kIdentity, "[]", "Syntax errors in policy"},
      {"unknown top-level element", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":[],"Foo":1})", "Syntax errors in policy"},
      {"empty statement list", Kind::kIdentity, R"({"Version":"2012-10-17","Statement":[]})",
       "must not be empty"},
      {"no statement", Kind::kIdentity, R"({"Version":"2012-10-17"})", "Statement"},
      {"bad version", Kind::kIdentity,
       R"({"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}})",
       "legacy parsing"},
      {"bad effect", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"ecr:*","Resource":"*"}})",
       "Invalid effect: allow"},
      {"missing effect", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Action":"ecr:*","Resource":"*"}})",
       "Missing required field Effect"},
      {"missing action", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}})",
       "must contain actions"},
      {"identity policy without resource", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}})",
       "must contain resources"},
      {"identity policy with a principal", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}})",
       "should not specify a principal"},
      {"resource policy without principal", Kind::kResource,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}})",
       "Missing required field Principal"},
      {"action without vendor", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"BatchGetImage","Resource":"*"}})",
       "prefaced by a vendor"},
      {"resource not an ARN", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"app/*"}})",
       "ARN format"},
      {"unknown condition operator", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"StringEqualz":{"aws:username":"a"}}}})",
       "Invalid Condition operator: StringEqualz"},
      {"NullIfExists is no operator", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"NullIfExists":{"aws:username":"true"}}}})",
       "Invalid Condition operator: NullIfExists"},
      {"unknown condition key", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"StringEquals":{"aws:Nonsense":"a"}}}})",
       "Invalid Condition key: aws:Nonsense"},
      {"bad CIDR", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}})",
       "Invalid Condition value"},
      {"bad date", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}})",
       "Invalid Condition value"},
      {"principal service unsupported", Kind::kResource,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"ecr:*"}})",
       "Invalid principal"},
      {"principal ARN malformed", Kind::kResource,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::12:root"},"Action":"ecr:*"}})",
       "Invalid principal"},
      {"both Action and NotAction", Kind::kIdentity,
       R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","NotAction":"ecr:PutImage","Resource":"*"}})",
       "not both"},
  };
  for (const auto& c : cases) {
    auto d = parse(c.text, c.kind);
    if (c.error == nullptr) {
      EXPECT_TRUE(d.is_ok()) << c.name << ": " << d.status().message();
    } else {
      ASSERT_FALSE(d.is_ok()) << c.name;
      EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << c.name;
      EXPECT_NE(d.status().message().find(c.error), std::string::npos)
          << c.name << ": got '" << d.status().message() << "'";
    }
  }
}

TEST(PolicyParseTest, ManagedPoliciesParseAndAreFound) {
  for (auto arn : managed_policy_arns()) {
    const Document* d = managed_policy(arn);
    ASSERT_NE(d, nullptr) << arn;
    EXPECT_FALSE(d->statements.empty()) << arn << " did not parse";
  }
  EXPECT_EQ(managed_policy("arn:aws:iam::aws:policy/AdministratorAccess"), nullptr);
}

TEST(PolicyGlobTest, StarAndQuestionMark) {
  struct G {
    const char* pattern;
    const char* text;
    bool ignore_case;
    bool want;
  };
  const std::vector<G> cases = {
      {"ecr:*", "ecr:PutImage", true, true},
      {"ECR:putimage", "ecr:PutImage", true, true},
      {"ecr:Batch*", "ecr:BatchGetImage", true, true},
      {"ecr:Batch*", "ecr:PutImage", true, false},
      {"ecr:?utImage", "ecr:PutImage", true, true},
      {"ecr:?utImage", "ecr:PPutImage", true, false},
      {"a*b*c", "aXbYbZc", false, true},
      {"a*b*c", "aXbYbZ", false, false},
      {"repo/App", "repo/app", false, false},
      {"*", "", false, true},
      {"?", "", false, false},
      {"**a", "a", false, true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(glob_match(c.pattern, c.text, c.ignore_case), c.want) << c.pattern << " ~ " << c.text;
  }
}

// --- evaluation ------------------------------------------------------------------

struct EvalCase {
  const char* name;
  std::vector<const char*> identity;  // identity documents
  const char* resource;               // resource policy or null
  RequestContext request;
  Decision want;
};

const char* kPushAppOnly = R"({"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"},
  {"Effect":"Allow","Action":["ecr:BatchCheckLayerAvailability","ecr:InitiateLayerUpload","ecr:UploadLayerPart",
     "ecr:CompleteLayerUpload","ecr:PutImage","ecr:BatchGetImage"],
   "Resource":"arn:aws:ecr:*:111111111111:repository/app/*"}]})";
const char* kDenyDelete =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecr:BatchDeleteImage","Resource":"*"}})";
const char* kAllowAll =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}})";
const char* kRepoGrantUser = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::222222222222:user/puller"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}})";
const char* kRepoGrantAccount = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":"111111111111"},"Action":"ecr:BatchGetImage"}})";
const char* kRepoPublicPull =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}})";
const char* kRepoDenyAllButCi = R"({"Version":"2012-10-17","Statement":{"Effect":"Deny",
  "NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/ci"},"Action":"ecr:PutImage"}})";
const char* kOnlyFromOffice = R"({"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"ecr:*","Resource":"*"},
  {"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}}]})";
const char* kTeamTag =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
  "Condition":{"StringEquals":{"ecr:ResourceTag/team":"blue"}}}})";
const char* kTlsOnly =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"},
  {"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]})";
const char* kUntil2026 =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
  "Condition":{"DateLessThan":{"aws:CurrentTime":"2026-06-30T00:00:00Z"}}}})";
const char* kNotActionPull =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["ecr:PutImage","ecr:Delete*"],"Resource":"*"}})";
const char* kNotResourceProd =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
  "NotResource":"arn:aws:ecr:us-east-1:111111111111:repository/prod/*"}})";
const char* kIfExistsTag =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
  "Condition":{"StringEqualsIfExists":{"aws:ResourceTag/team":"blue"}}}})";
const char* kNullTag =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
  "Condition":{"Null":{"aws:ResourceTag/team":"true"}}}})";
const char* kStringNotEqualsUser =
    R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
  "Condition":{"StringNotEquals":{"aws:username":["root","admin"]}}}})";

RequestContext with_tags(RequestContext r, std::vector<std::pair<std::string, std::string>> tags) {
  r.resource_tags = std::move(tags);
  return r;
}
RequestContext with_ip(RequestContext r, std::string ip) {
  r.source_ip = std::move(ip);
  return r;
}
RequestContext plain_http(RequestContext r) {
  r.secure_transport = false;
  return r;
}

TEST(PolicyEvaluateTest, AwsEvaluationLogic) {
  const std::vector<EvalCase> cases = {
      {"no policy at all: implicit deny",
       {},
       nullptr,
       request("ecr:BatchGetImage", "app/x"),
       Decision::kImplicitDeny},
      {"identity allow on app/*",
       {kPushAppOnly},
       nullptr,
       request("ecr:PutImage", "app/x"),
       Decision::kAllow},
      {"identity allow is not for other/*",
       {kPushAppOnly},
       nullptr,
       request("ecr:PutImage", "other/x"),
       Decision::kImplicitDeny},
      {"token from identity policy",
       {kPushAppOnly},
       nullptr,
       request("ecr:GetAuthorizationToken", ""),
       Decision::kAllow},
      {"action names are case-insensitive",
       {kPushAppOnly},
       nullptr,
       request("ECR:putimage", "app/x"),
       Decision::kAllow},
      {"resource ARNs are case-sensitive",
       {kPushAppOnly},
       nullptr,
       request("ecr:PutImage", "App/x"),
       Decision::kImplicitDeny},
      {"explicit deny beats allow in another policy",
       {kAllowAll, kDenyDelete},
       nullptr,
       request("ecr:BatchDeleteImage", "app/x"),
       Decision::kExplicitDeny},
      {"explicit deny in the resource policy beats identity allow",
       {kAllowAll},
       kRepoDenyAllButCi,
       request("ecr:PutImage", "app/x", "deploy"),
       Decision::kExplicitDeny},
      {"NotPrincipal spares the named user",
       {kAllowAll},
       kRepoDenyAllButCi,
       request("ecr:PutImage", "app/x", "ci"),
       Decision::kAllow},
      {"same account: resource policy naming the user suffices",
       {},
       kRepoPublicPull,
       request("ecr:BatchGetImage", "app/x"),
       Decision::kAllow},
      {"same account: a grant to the account root leaves it to identity policies",
       {},
       kRepoGrantAccount,
       request("ecr:BatchGetImage", "app/x"),
       Decision::kImplicitDeny},
      {"cross account: resource policy alone is not enough",
       {},
       kRepoGrantUser,
       request("ecr:BatchGetImage", "app/x", "puller", kOther, kAcct),
       Decision::kImplicitDeny},
      {"cross account: identity alone is not enough",
       {kAllowAll},
       nullptr,
       request("ecr:BatchGetImage", "app/x", "puller", kOther, kAcct),
       Decision::kImplicitDeny},
      {"cross account: both allow",
       {kAllowAll},
       kRepoGrantUser,
       request("ecr:BatchGetImage", "app/x", "puller", kOther, kAcct),
       Decision::kAllow},
      {"cross account: the grant names one user, not another",
       {kAllowAll},
       kRepoGrantUser,
       request("ecr:BatchGetImage", "app/x", "other", kOther, kAcct),
       Decision::kImplicitDeny},
      {"cross account: an action the grant omits",
       {kAllowAll},
       kRepoGrantUser,
       request("ecr:PutImage", "app/x", "puller", kOther, kAcct),
       Decision::kImplicitDeny},
      {"AWS example: deny outside the office ranges",
       {kOnlyFromOffice},
       nullptr,
       with_ip(request("ecr:ListImages", "a"), "198.51.100.7"),
       Decision::kExplicitDeny},
      {"AWS example: allowed from the office",
       {kOnlyFromOffice},
       nullptr,
       with_ip(request("ecr:ListImages", "a"), "203.0.113.9"),
       Decision::kAllow},
      {"NotIpAddress over a missing source ip holds (negated)",
       {kOnlyFromOffice},
       nullptr,
       with_ip(request("ecr:ListImages", "a"), ""),
       Decision::kExplicitDeny},
      {"tag condition met",
       {kTeamTag},
       nullptr,
       with_tags(request("ecr:ListImages", "a"), {{"team", "blue"}}),
       Decision::kAllow},
      {"tag condition unmet",
       {kTeamTag},
       nullptr,
       with_tags(request("ecr:ListImages", "a"), {{"team", "red"}}),
       Decision::kImplicitDeny},
      {"tag condition over a missing tag is false",
       {kTeamTag},
       nullptr,
       request("ecr:ListImages", "a"),
       Decision::kImplicitDeny},
      {"IfExists over a missing tag is true",
       {kIfExistsTag},
       nullptr,
       request("ecr:ListImages", "a"),
       Decision::kAllow},
      {"IfExists over a present tag compares",
       {kIfExistsTag},
       nullptr,
       with_tags(request("ecr:ListImages", "a"), {{"team", "red"}}),
       Decision::kImplicitDeny},
      {"Null true: the tag is absent",
       {kNullTag},
       nullptr,
       request("ecr:ListImages", "a"),
       Decision::kAllow},
      {"Null true: the tag is present",
       {kNullTag},
       nullptr,
       with_tags(request("ecr:ListImages", "a"), {{"team", "x"}}),
       Decision::kImplicitDeny},
      {"AWS example: deny without TLS",
       {kTlsOnly},
       nullptr,
       plain_http(request("ecr:ListImages", "a")),
       Decision::kExplicitDeny},
      {"TLS allowed", {kTlsOnly}, nullptr, request("ecr:ListImages", "a"), Decision::kAllow},
      {"date condition past its end",
       {kUntil2026},
       nullptr,
       request("ecr:ListImages", "a"),
       Decision::kImplicitDeny},
      {"NotAction allows what it does not name",
       {kNotActionPull},
       nullptr,
       request("ecr:BatchGetImage", "a"),
       Decision::kAllow},
      {"NotAction does not allow what it names",
       {kNotActionPull},
       nullptr,
       request("ecr:DeleteRepository", "a"),
       Decision::kImplicitDeny},
      {"NotResource allows outside prod",
       {kNotResourceProd},
       nullptr,
       request("ecr:PutImage", "dev/a"),
       Decision::kAllow},
      {"NotResource refuses prod",
       {kNotResourceProd},
       nullptr,
       request("ecr:PutImage", "prod/a"),
       Decision::kImplicitDeny},
      {"StringNotEquals: values OR, negated",
       {kStringNotEqualsUser},
       nullptr,
       request("ecr:PutImage", "a", "admin"),
       Decision::kImplicitDeny},
      {"StringNotEquals: another user",
       {kStringNotEqualsUser},
       nullptr,
       request("ecr:PutImage", "a", "ci"),
       Decision::kAllow},
      {"managed ReadOnly pulls",
       {},
       nullptr,
       request("ecr:BatchGetImage", "a", "deploy"),
       Decision::kAllow},
  };
  for (const auto& c : cases) {
    std::vector<Document> docs;
    docs.reserve(c.identity.size());
    for (const char* t : c.identity) docs.push_back(must_parse(t, Kind::kIdentity));
    PolicySet set;
    for (const auto& d : docs) set.identity.push_back(&d);
    Document resource;
    if (c.resource != nullptr) {
      resource = must_parse(c.resource, Kind::kResource);
      set.resource = &resource;
    }
    if (std::string(c.name).rfind("managed ReadOnly", 0) == 0) {
      set.identity.push_back(
          managed_policy("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"));
    }
    EXPECT_EQ(static_cast<int>(evaluate(set, c.request)), static_cast<int>(c.want)) << c.name;
  }
}

struct ManagedCase {
  const char* policy;
  const char* action;
  bool allowed;
};

TEST(PolicyEvaluateTest, ManagedPoliciesGrantTheirLists) {
  const std::string base = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistry";
  const std::vector<ManagedCase> cases = {
      {"ReadOnly", "ecr:BatchGetImage", true},
      {"ReadOnly", "ecr:GetAuthorizationToken", true},
      {"ReadOnly", "ecr:PutImage", false},
      {"ReadOnly", "ecr:InitiateLayerUpload", false},
      {"PowerUser", "ecr:PutImage", true},
      {"PowerUser", "ecr:DeleteRepository", false},
      {"PowerUser", "ecr:SetRepositoryPolicy", false},
      {"FullAccess", "ecr:DeleteRepository", true},
      {"FullAccess", "ecr:SetRepositoryPolicy", true},
      {"PullOnly", "ecr:BatchGetImage", true},
      {"PullOnly", "ecr:DescribeRepositories", false},
      {"PullOnly", "ecr:BatchCheckLayerAvailability", false},
  };
  for (const auto& c : cases) {
    const Document* d = managed_policy(base + c.policy);
    ASSERT_NE(d, nullptr) << c.policy;
    PolicySet set;
    set.identity.push_back(d);
    const bool registry_level = std::string(c.action) == "ecr:GetAuthorizationToken";
    Decision got = evaluate(set, request(c.action, registry_level ? "" : "a/b"));
    EXPECT_EQ(got == Decision::kAllow, c.allowed) << c.policy << " " << c.action;
  }
}

TEST(PolicyEvaluateTest, ResourceTagUseIsNoted) {
  EXPECT_TRUE(must_parse(kTeamTag, Kind::kIdentity).uses_resource_tags);
  EXPECT_FALSE(must_parse(kAllowAll, Kind::kIdentity).uses_resource_tags);
}

// --- policy variables -----------------------------------------------------------

Decision identity_decision(const std::string& text, const RequestContext& r) {
  Document d = must_parse(text, Kind::kIdentity);
  PolicySet set;
  set.identity.push_back(&d);
  return evaluate(set, r);
}

// AWS example: "allow each user to manage their own ..." with the user name
// as part of the resource.
const char* kOwnNamespace = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":["ecr:PutImage","ecr:BatchGetImage"],
  "Resource":"arn:aws:ecr:*:111111111111:repository/${aws:username}/*"}})";

TEST(PolicyVariablesTest, UserNameInResource) {
  EXPECT_EQ(identity_decision(kOwnNamespace, request("ecr:PutImage", "ci/app", "ci")),
            Decision::kAllow);
  EXPECT_EQ(identity_decision(kOwnNamespace, request("ecr:PutImage", "dev/app", "ci")),
            Decision::kImplicitDeny);
  EXPECT_EQ(identity_decision(kOwnNamespace, request("ecr:PutImage", "dev/app", "dev")),
            Decision::kAllow);
  // The text "${aws:username}" itself is not a repository the user owns.
  EXPECT_EQ(identity_decision(kOwnNamespace, request("ecr:PutImage", "${aws:username}/app", "ci")),
            Decision::kImplicitDeny);
}

TEST(PolicyVariablesTest, OnlyInVersion20121017) {
  const std::string legacy = R"({"Version":"2008-10-17","Statement":{"Effect":"Allow",
    "Action":"ecr:PutImage","Resource":"arn:aws:ecr:*:111111111111:repository/${aws:username}/*"}})";
  EXPECT_FALSE(must_parse(legacy, Kind::kIdentity).statements[0].variables);
  EXPECT_EQ(identity_decision(legacy, request("ecr:PutImage", "ci/app", "ci")),
            Decision::kImplicitDeny);
  EXPECT_EQ(identity_decision(legacy, request("ecr:PutImage", "${aws:username}/app", "ci")),
            Decision::kAllow);
  // The version may come after the statements in the text.
  const std::string late = R"({"Statement":{"Effect":"Allow","Action":"ecr:PutImage",
    "Resource":"arn:aws:ecr:*:111111111111:repository/${aws:username}/*"},"Version":"2012-10-17"})";
  EXPECT_EQ(identity_decision(late, request("ecr:PutImage", "ci/app", "ci")), Decision::kAllow);
}

TEST(PolicyVariablesTest, ReplacedValuesMatchLiterally) {
  // A tag value with wildcards in it matches only itself.
  const std::string by_tag =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
    "Resource":"arn:aws:ecr:*:111111111111:repository/${aws:ResourceTag/owner}"}})";
  EXPECT_TRUE(must_parse(by_tag, Kind::kIdentity).uses_resource_tags);
  EXPECT_EQ(identity_decision(by_tag, with_tags(request("ecr:PutImage", "a*"), {{"owner", "a*"}})),
            Decision::kAllow);
  EXPECT_EQ(identity_decision(by_tag, with_tags(request("ecr:PutImage", "abc"), {{"owner", "a*"}})),
            Decision::kImplicitDeny);
  EXPECT_EQ(identity_decision(by_tag, with_tags(request("ecr:PutImage", "ab"), {{"owner", "a?"}})),
            Decision::kImplicitDeny);
  // ${*} and ${?} are literal characters; a plain '*' beside them is a wildcard.
  const std::string star =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
    "Resource":"*","Condition":{"StringLike":{"aws:username":"a${*}${?}*"}}}})";
  EXPECT_EQ(identity_decision(star, request("ecr:PutImage", "r", "a*?xyz")), Decision::kAllow);
  EXPECT_EQ(identity_decision(star, request("ecr:PutImage", "r", "abcxyz")),
            Decision::kImplicitDeny);
  const std::string dollar =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
    "Resource":"*","Condition":{"StringEquals":{"aws:username":"${$}{x}"}}}})";
  EXPECT_EQ(identity_decision(dollar, request("ecr:PutImage", "r", "${x}")), Decision::kAllow);
}

TEST(PolicyVariablesTest, DefaultsAndMissingKeys) {
  const std::string with_default = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
    "Action":"ecr:*","Resource":"arn:aws:ecr:*:111111111111:repository/${ecr:ResourceTag/team, 'shared'}/*"}})";
  EXPECT_EQ(identity_decision(with_default, request("ecr:PutImage", "shared/app")),
            Decision::kAllow);
  EXPECT_EQ(identity_decision(with_default,
                              with_tags(request("ecr:PutImage", "blue/app"), {{"team", "blue"}})),
            Decision::kAllow);
  EXPECT_EQ(identity_decision(with_default,
                              with_tags(request("ecr:PutImage", "shared/app"), {{"team", "blue"}})),
            Decision::kImplicitDeny);
  // '' is a quote inside a default; spaces around the parts are allowed.
  const std::string quoted =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
    "Resource":"*","Condition":{"StringEquals":{"aws:username":"${ aws:SourceIp , 'o''brien' }"}}}})";
  EXPECT_EQ(identity_decision(quoted, with_ip(request("ecr:PutImage", "r", "o'brien"), "")),
            Decision::kAllow);
  // Without a default, a key the request lacks makes the whole statement not
  // apply, whatever its effect: neither this Deny nor the NotResource Allow.
  const std::string deny_missing = R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"ecr:*","Resource":"*"},
    {"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"StringNotEquals":{"aws:username":"${aws:SourceIp}"}}}]})";
  EXPECT_EQ(identity_decision(deny_missing, request("ecr:PutImage", "r")), Decision::kExplicitDeny);
  EXPECT_EQ(identity_decision(deny_missing, with_ip(request("ecr:PutImage", "r"), "")),
            Decision::kAllow);
  const std::string not_resource = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
    "Action":"ecr:*","NotResource":"arn:aws:ecr:*:111111111111:repository/${aws:ResourceTag/team}/*"}})";
  EXPECT_EQ(identity_decision(not_resource, request("ecr:PutImage", "x/app")),
            Decision::kImplicitDeny);
  EXPECT_EQ(identity_decision(not_resource,
                              with_tags(request("ecr:PutImage", "x/app"), {{"team", "blue"}})),
            Decision::kAllow);
  // A malformed variable never matches.
  for (const char* bad : {"${aws:username", "${}", "${aws:username, shared}", "${aws:username, 'x}",
                          "${aws:user name}"}) {
    const std::string doc = std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
      "Action":"ecr:*","Resource":"arn:aws:ecr:*:111111111111:repository/)") +
                            bad + R"("}})";
    EXPECT_EQ(identity_decision(doc, request("ecr:PutImage", std::string(bad), "ci")),
              Decision::kImplicitDeny)
        << bad;
  }
}

// --- request tags ---------------------------------------------------------------

TEST(PolicyRequestTagsTest, RequestTagAndTagKeys) {
  // AWS example: create only with a team tag of a known value, and no other keys.
  const std::string create_tagged = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
    "Action":"ecr:CreateRepository","Resource":"*","Condition":{
      "StringEquals":{"aws:RequestTag/team":["platform","data"]},
      "ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}}})";
  auto create = [](std::vector<std::pair<std::string, std::string>> tags) {
    RequestContext r = request("ecr:CreateRepository", "new/repo");
    for (const auto& [k, v] : tags) r.tag_keys.push_back(k);
    r.request_tags = std::move(tags);
    return r;
  };
  EXPECT_EQ(identity_decision(create_tagged, create({{"team", "platform"}})), Decision::kAllow);
  EXPECT_EQ(identity_decision(create_tagged, create({{"team", "data"}, {"env", "prod"}})),
            Decision::kAllow);
  EXPECT_EQ(identity_decision(create_tagged, create({})), Decision::kImplicitDeny);
  EXPECT_EQ(identity_decision(create_tagged, create({{"team", "sales"}})), Decision::kImplicitDeny);
  EXPECT_EQ(identity_decision(create_tagged, create({{"team", "data"}, {"owner", "x"}})),
            Decision::kImplicitDeny);
  // A resource tag is not a request tag.
  EXPECT_EQ(identity_decision(create_tagged,
                              with_tags(request("ecr:CreateRepository", "r"), {{"team", "data"}})),
            Decision::kImplicitDeny);

  const std::string keep_protected = R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"ecr:UntagResource","Resource":"*"},
    {"Effect":"Deny","Action":"ecr:UntagResource","Resource":"*",
     "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"protected"}}}]})";
  RequestContext untag = request("ecr:UntagResource", "app/x");
  untag.tag_keys = {"env", "protected"};
  EXPECT_EQ(identity_decision(keep_protected, untag), Decision::kExplicitDeny);
  untag.tag_keys = {"env"};
  EXPECT_EQ(identity_decision(keep_protected, untag), Decision::kAllow);
  EXPECT_TRUE(parse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
    "Resource":"*","Condition":{"Null":{"aws:RequestTag/x":"false"}}}})",
                    Kind::kIdentity)
                  .is_ok());
  EXPECT_FALSE(parse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*",
    "Resource":"*","Condition":{"Null":{"aws:RequestTag/":"false"}}}})",
                     Kind::kIdentity)
                   .is_ok());
}

}  // namespace
}  // namespace berth::policy
