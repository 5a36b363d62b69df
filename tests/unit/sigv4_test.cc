// SigV4: every case of shared/testdata/sigv4 (the AWS suite as shipped by
// botocore plus berth's ecr-extra captures) stage by stage and end to end, then
// the verifier's rejections. See shared/testdata/sigv4/README.md for the
// parameters baked into the vectors.
#include "auth/sigv4.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

// The README's parameters for every vector.
constexpr std::string_view kAccessKeyId = "AKIDEXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kRegion = "us-east-1";
constexpr std::string_view kVectorAmzDate = "20150830T123600Z";
constexpr int64_t kVectorTime = 1440938160;  // 2015-08-30T12:36:00Z (date -u -d ... +%s)

// The vectors are part of the checkout (tests/testdata/sigv4, see its README); CMake passes the
// path.
fs::path testdata_dir() {
  return BERTH_TESTDATA_DIR;
}

fs::path sigv4_dir() {
  return testdata_dir() / "sigv4";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  std::erase(s, '\r');  // in case a checkout converted line endings
  return s;
}

// One vector: `id` is its directory relative to sigv4/ ("normalize-path/get-space"),
// `base` the path of its files without the suffix.
struct Vector {
  std::string id;
  fs::path base;
  fs::path file(std::string_view suffix) const { return base.string() + std::string(suffix); }
  std::string service() const { return id.starts_with("ecr-extra/") ? "ecr" : "service"; }
};

void PrintTo(const Vector& v, std::ostream* os) {
  *os << v.id;
}

std::vector<Vector> discover_vectors() {
  std::vector<Vector> vectors;
  std::error_code ec;
  if (!fs::is_directory(sigv4_dir(), ec)) return vectors;
  for (const auto& entry : fs::recursive_directory_iterator(sigv4_dir(), ec)) {
    if (entry.path().extension() != ".req") continue;
    fs::path dir = entry.path().parent_path();
    vectors.push_back({fs::relative(dir, sigv4_dir()).generic_string(), dir / entry.path().stem()});
  }
  std::sort(vectors.begin(), vectors.end(),
            [](const Vector& a, const Vector& b) { return a.id < b.id; });
  return vectors;
}

// The vectors the suite is instantiated with. Missing or incomplete test data must fail the
// run, never shrink it: then the suite holds one case that fails and says where it looked.
constexpr size_t kExpectedVectors = 37;
constexpr std::string_view kMissingVectors = "testdata_missing";

std::vector<Vector> vector_params() {
  std::vector<Vector> vectors = discover_vectors();
  if (vectors.size() < kExpectedVectors) return {Vector{std::string(kMissingVectors), sigv4_dir()}};
  return vectors;
}

// Parses the suite's raw HTTP form: request line, `Name:value` lines (a line
// starting with whitespace continues the previous header, as an obs-fold), a
// blank line, then the body.
SigV4Request parse_http(const std::string& text) {
  std::string head = text;
  std::string body;
  if (size_t split = text.find("\n\n"); split != std::string::npos) {
    head = text.substr(0, split);
    body = text.substr(split + 2);
  }
  std::vector<std::string> lines;
  std::istringstream in(head);
  for (std::string line; std::getline(in, line);) lines.push_back(line);

  SigV4Request request;
  const std::string& request_line = lines.at(0);
  size_t first_space = request_line.find(' ');
  size_t last_space = request_line.rfind(' ');
  request.method = request_line.substr(0, first_space);
  std::string target = request_line.substr(first_space + 1, last_space - first_space - 1);
  size_t question = target.find('?');
  request.raw_path = target.substr(0, question);
  if (question != std::string::npos) request.raw_query = target.substr(question + 1);

  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      request.headers.back().value += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    request.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  request.payload_sha256 = sha256_hex(body);
  return request;
}

std::optional<std::string> header_value(const SigV4Request& request, std::string_view name) {
  for (const HttpHeader& h : request.headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

// `Key=value` of one parameter of an Authorization header value.
std::string authz_param(const std::string& authz, const std::string& key) {
  size_t start = authz.find(key + "=");
  EXPECT_NE(start, std::string::npos) << authz;
  if (start == std::string::npos) return "";
  start += key.size() + 1;
  return authz.substr(start, authz.find(',', start) - start);
}

std::vector<std::string> split_semicolons(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ';');) out.push_back(part);
  return out;
}

// The README: get-vanilla-with-session-token's .req lacks the token that its
// .creq signs; a harness adds it from the .creq before signing.
void add_session_token_from_creq(SigV4Request& request, const std::string& creq) {
  constexpr std::string_view kPrefix = "x-amz-security-token:";
  size_t at = creq.find(kPrefix);
  if (at == std::string::npos || header_value(request, "X-Amz-Security-Token")) return;
  at += kPrefix.size();
  request.headers.push_back({"X-Amz-Security-Token", creq.substr(at, creq.find('\n', at) - at)});
}

SecretLookup lookup_returning(std::string_view key_id, std::string_view secret,
                              std::vector<std::string>* seen = nullptr) {
  return [key_id = std::string(key_id), secret = std::string(secret),
          seen](std::string_view asked) -> std::optional<std::string> {
    if (seen != nullptr) seen->emplace_back(asked);
    if (asked != key_id) return std::nullopt;
    return secret;
  };
}

VerifierOptions vector_options(std::string service) {
  VerifierOptions options;
  options.region = kRegion;
  options.service = std::move(service);
  options.allow_security_token = true;
  return options;
}

std::string sanitize_test_name(const std::string& id) {
  std::string out = id;
  std::replace_if(
      out.begin(), out.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
      '_');
  return out;
}

// --- Every vector ---------------------------------------------------------------

TEST(SigV4VectorSuite, AllVectorsArePresent) {
  std::vector<Vector> vectors = discover_vectors();
  ASSERT_GE(vectors.size(), kExpectedVectors) << "test data not found under " << sigv4_dir();
  int ecr = static_cast<int>(std::count_if(vectors.begin(), vectors.end(),
                                           [](const Vector& v) { return v.service() == "ecr"; }));
  EXPECT_EQ(ecr, 3);
}

class SigV4Vector : public ::testing::TestWithParam<Vector> {
 protected:
  void SetUp() override {
    const Vector& v = GetParam();
    ASSERT_NE(v.id, kMissingVectors)
        << "fewer than " << kExpectedVectors << " SigV4 vectors found under " << sigv4_dir();
    request_ = parse_http(read_file(v.file(".req")));
    creq_ = read_file(v.file(".creq"));
    sts_ = read_file(v.file(".sts"));
    authz_ = read_file(v.file(".authz"));
    add_session_token_from_creq(request_, creq_);
    scope_ = {std::string(kVectorAmzDate.substr(0, 8)), std::string(kRegion), v.service()};
  }

  SigV4Request request_;
  std::string creq_, sts_, authz_;
  CredentialScope scope_;
};

TEST_P(SigV4Vector, CanonicalRequestMatches) {
  auto creq = canonical_request(request_, split_semicolons(authz_param(authz_, "SignedHeaders")));
  ASSERT_TRUE(creq.is_ok()) << creq.status().to_string();
  EXPECT_EQ(*creq, creq_);
}

TEST_P(SigV4Vector, StringToSignMatches) {
  auto amz_date = header_value(request_, "X-Amz-Date");
  ASSERT_TRUE(amz_date.has_value());
  EXPECT_EQ(string_to_sign(*amz_date, scope_, creq_), sts_);
}

TEST_P(SigV4Vector, SignatureMatches) {
  EXPECT_EQ(signature(signing_key(kSecret, scope_), sts_), authz_param(authz_, "Signature"));
}

TEST_P(SigV4Vector, ClientSignerProducesAuthorization) {
  SigV4Request request = request_;
  auto authz = sign_request(request, {std::string(kAccessKeyId), std::string(kSecret)}, kRegion,
                            GetParam().service(), kVectorTime);
  ASSERT_TRUE(authz.is_ok()) << authz.status().to_string();
  EXPECT_EQ(*authz, authz_);
  EXPECT_EQ(header_value(request, "Authorization"), authz_);
}

TEST_P(SigV4Vector, VerifierAcceptsRequestWithExpectedAuthorization) {
  SigV4Request request = request_;
  request.headers.push_back({"Authorization", authz_});
  FakeClock clock(kVectorTime * 1000);
  std::vector<std::string> asked;
  auto verified = verify_request(request, vector_options(GetParam().service()),
                                 lookup_returning(kAccessKeyId, kSecret, &asked), clock);
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(asked, std::vector<std::string>{std::string(kAccessKeyId)});
  EXPECT_EQ(verified->access_key_id, kAccessKeyId);
  EXPECT_EQ(verified->scope.to_string(),
            authz_param(authz_, "Credential").substr(kAccessKeyId.size() + 1));
  EXPECT_EQ(verified->request_time, kVectorTime);
  EXPECT_EQ(verified->signed_headers, split_semicolons(authz_param(authz_, "SignedHeaders")));
  EXPECT_FALSE(verified->presigned);
}

TEST_P(SigV4Vector, VerifierJudgesShippedSignedRequest) {
  SigV4Request sreq = parse_http(read_file(GetParam().file(".sreq")));
  FakeClock clock(kVectorTime * 1000);
  auto verified = verify_request(sreq, vector_options(GetParam().service()),
                                 lookup_returning(kAccessKeyId, kSecret), clock);
  if (GetParam().id == "get-vanilla-with-session-token") {
    // This .sreq carries get-vanilla's signature (not its own .authz) over a
    // request that also signs the token: a correct verifier must refuse it.
    ASSERT_NE(header_value(sreq, "Authorization"), " " + authz_);
    EXPECT_EQ(verified.status().code(), Code::kSignatureInvalid);
    return;
  }
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(verified->request_time, kVectorTime);
  EXPECT_EQ(verified->security_token, header_value(sreq, "X-Amz-Security-Token"));
}

INSTANTIATE_TEST_SUITE_P(Testdata, SigV4Vector, ::testing::ValuesIn(vector_params()),
                         [](const ::testing::TestParamInfo<Vector>& info) {
                           return sanitize_test_name(info.param.id);
                         });

// --- Stages against reference values ----------------------------------------------

// ECR-API.md §8.3 lists kSigning for both services the vectors use.
TEST(SigV4Stages, SigningKeyMatchesReferenceTable) {
  auto hex = [](const std::array<uint8_t, 32>& key) {
    std::string out;
    for (uint8_t b : key) out += fmt::format("{:02x}", b);
    return out;
  };
  EXPECT_EQ(hex(signing_key(kSecret, {"20150830", "us-east-1", "service"})),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
  EXPECT_EQ(hex(signing_key(kSecret, {"20150830", "us-east-1", "ecr"})),
            "68ce73d35403d53a9f776a559e665298d12bf3a0b3404de623a49073e6efe760");
}

TEST(SigV4Stages, PayloadHashesFromReference) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(SigV4Stages, CanonicalUriEncodesTheWirePathOnceMore) {
  EXPECT_EQ(canonical_uri("/example%20space/"), "/example%2520space/");
  EXPECT_EQ(canonical_uri(""), "/");
  EXPECT_EQ(canonical_uri("/a/b/../c/./d//"), "/a/c/d/");
  EXPECT_EQ(canonical_uri("/../.."), "/");
  EXPECT_EQ(canonical_uri("/v2/team/app"), "/v2/team/app");
}

TEST(SigV4Stages, CanonicalQueryStringRules) {
  EXPECT_EQ(canonical_query_string("b=2&a&a=1").value(), "a=&a=1&b=2");
  EXPECT_EQ(canonical_query_string("k=a+b%20c%2f").value(), "k=a%2Bb%20c%2F");
  EXPECT_EQ(canonical_query_string("&&x=1&").value(), "x=1");
  EXPECT_EQ(canonical_query_string("").value(), "");
  EXPECT_EQ(canonical_query_string("a=%zz").status().code(), Code::kInvalidArgument);
}

TEST(SigV4Stages, CanonicalRequestRejectsAbsentSignedHeader) {
  SigV4Request request{"GET", "/", "", {{"Host", "example.com"}}, sha256_hex("")};
  EXPECT_EQ(canonical_request(request, {"host", "x-amz-date"}).status().code(),
            Code::kSignatureInvalid);
}

TEST(SigV4Stages, AmzDateFormatAndParse) {
  EXPECT_EQ(format_amz_date(kVectorTime), kVectorAmzDate);
  EXPECT_EQ(parse_amz_date(kVectorAmzDate), kVectorTime);
  EXPECT_EQ(format_amz_date(0), "19700101T000000Z");
  for (int64_t t : {int64_t{951782400}, int64_t{4102444799}, kVectorTime + 86399}) {
    EXPECT_EQ(parse_amz_date(format_amz_date(t)), t);
  }
  for (std::string_view bad :
       {"20150830T123600", "20150830 123600Z", "2015083OT123600Z", "20150230T000000Z",
        "20151330T000000Z", "20150830T246000Z", "20150830T123660Z", "", "+0150830T123600Z"}) {
    EXPECT_FALSE(parse_amz_date(bad).has_value()) << bad;
  }
}

TEST(SigV4Stages, HttpDateParse) {
  EXPECT_EQ(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), kVectorTime);
  EXPECT_FALSE(parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC").has_value());
  EXPECT_FALSE(parse_http_date("Sunday, 30-Aug-15 12:36:00 GMT").has_value());
  EXPECT_FALSE(parse_http_date("Sun, 31 Feb 2015 12:36:00 GMT").has_value());
  EXPECT_FALSE(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT").has_value());
}

// --- Verifier rejections, on the ECR capture -------------------------------------

class SigV4Verify : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path base = sigv4_dir() / "ecr-extra/ecr-describe-repositories-endpoint-url" /
                    "ecr-describe-repositories-endpoint-url";
    ASSERT_TRUE(fs::exists(base.string() + ".sreq")) << "test data not found under " << sigv4_dir();
    signed_ = parse_http(read_file(base.string() + ".sreq"));
    unsigned_ = parse_http(read_file(base.string() + ".req"));
    options_.region = kRegion;
    options_.service = "ecr";
  }

  Result<VerifiedRequest> verify(const SigV4Request& request) const {
    return verify_request(request, options_, lookup_returning(kAccessKeyId, kSecret), clock_);
  }

  // The unsigned capture signed afresh, optionally with extra headers.
  SigV4Request resign(std::string_view region = kRegion, std::string_view service = "ecr",
                      int64_t time = kVectorTime, std::vector<HttpHeader> extra = {}) const {
    SigV4Request request = unsigned_;
    for (HttpHeader& h : extra) request.headers.push_back(std::move(h));
    auto authz = sign_request(request, {std::string(kAccessKeyId), std::string(kSecret)}, region,
                              service, time);
    EXPECT_TRUE(authz.is_ok());
    return request;
  }

  // Replaces the value of every header called `name`.
  static void set_header(SigV4Request& request, std::string_view name, std::string value) {
    for (HttpHeader& h : request.headers) {
      if (h.name == name) h.value = value;
    }
  }

  // Builds an Authorization header by hand over `names`, for cases the client
  // signer will not produce.
  static std::string manual_authorization(const SigV4Request& request,
                                          const std::vector<std::string>& names,
                                          std::string_view amz_date) {
    CredentialScope scope{std::string(amz_date.substr(0, 8)), std::string(kRegion), "ecr"};
    auto creq = canonical_request(request, names);
    EXPECT_TRUE(creq.is_ok());
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ";") + n;
    return fmt::format(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}", kAccessKeyId,
        scope.to_string(), list,
        signature(signing_key(kSecret, scope), string_to_sign(amz_date, scope, creq.value())));
  }

  SigV4Request signed_, unsigned_;
  VerifierOptions options_;
  FakeClock clock_{kVectorTime * 1000};
};

TEST_F(SigV4Verify, AcceptsCapture) {
  auto verified = verify(signed_);
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(verified->scope.service, "ecr");
  EXPECT_EQ(verified->scope.region, kRegion);
  EXPECT_EQ(verified->scope.date, "20150830");
}

TEST_F(SigV4Verify, WrongSecretIsSignatureInvalid) {
  auto result =
      verify_request(signed_, options_, lookup_returning(kAccessKeyId, "not-the-secret"), clock_);
  EXPECT_EQ(result.status().code(), Code::kSignatureInvalid);
  EXPECT_NE(result.status().message().find("The Canonical String for this request"),
            std::string::npos);
}

TEST_F(SigV4Verify, UnknownKeyIsUnknownAccessKey) {
  auto result = verify_request(signed_, options_, lookup_returning("AKIDOTHER", kSecret), clock_);
  EXPECT_EQ(result.status().code(), Code::kUnknownAccessKey);
}

TEST_F(SigV4Verify, NoAuthorizationIsMissingAuthentication) {
  EXPECT_EQ(verify(unsigned_).status().code(), Code::kMissingAuthentication);
}

TEST_F(SigV4Verify, StaleRequestExpiresAfterFiveMinutes) {
  clock_.set_seconds(kVectorTime + 300);
  EXPECT_TRUE(verify(signed_).is_ok()) << "exactly 5 minutes of skew is allowed";
  clock_.set_seconds(kVectorTime + 301);
  EXPECT_EQ(verify(signed_).status().code(), Code::kSignatureExpired);
  clock_.set_seconds(kVectorTime + 360);
  auto result = verify(signed_);
  EXPECT_EQ(result.status().code(), Code::kSignatureExpired);
  EXPECT_EQ(result.status().message(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
            "(20150830T124200Z - 5 min.)");
}

TEST_F(SigV4Verify, FutureRequestIsNotYetCurrent) {
  clock_.set_seconds(kVectorTime - 300);
  EXPECT_TRUE(verify(signed_).is_ok());
  clock_.set_seconds(kVectorTime - 360);
  auto result = verify(signed_);
  EXPECT_EQ(result.status().code(), Code::kSignatureExpired);
  EXPECT_NE(result.status().message().find("Signature not yet current"), std::string::npos);
}

TEST_F(SigV4Verify, SkewWindowIsConfigurable) {
  options_.max_clock_skew_seconds = 900;
  clock_.set_seconds(kVectorTime + 600);
  EXPECT_TRUE(verify(signed_).is_ok());
}

TEST_F(SigV4Verify, WrongServiceIsSignatureInvalid) {
  auto result = verify(resign(kRegion, "s3"));
  EXPECT_EQ(result.status().code(), Code::kSignatureInvalid);
  EXPECT_EQ(result.status().message(), "Credential should be scoped to correct service: 'ecr'.");
}

TEST_F(SigV4Verify, WrongRegionIsSignatureInvalid) {
  SigV4Request west = resign("us-west-2");
  EXPECT_EQ(verify(west).status().code(), Code::kSignatureInvalid);
  options_.region.clear();  // any well-formed region
  auto verified = verify(west);
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(verified->scope.region, "us-west-2");
  EXPECT_EQ(verify(resign("US_WEST")).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, WrongRegionErrorNamesTheExpectedRegion) {
  auto result = verify(resign("eu-west-1"));
  EXPECT_EQ(result.status().code(), Code::kSignatureInvalid);
  EXPECT_NE(result.status().message().find("not 'eu-west-1'"), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("expects region '" + std::string(kRegion) + "'"),
            std::string::npos)
      << result.status().message();
}

TEST_F(SigV4Verify, ClaimedAccessKeyIdIsReadWhetherOrNotTheRequestVerifies) {
  SigV4Request request = signed_;
  EXPECT_EQ(claimed_access_key_id(request), kAccessKeyId);
  request.payload_sha256 = sha256_hex("altered");
  EXPECT_FALSE(verify(request).is_ok());
  EXPECT_EQ(claimed_access_key_id(request), kAccessKeyId);
  SigV4Request none;
  EXPECT_EQ(claimed_access_key_id(none), "");
  SigV4Request odd;
  odd.headers.push_back({"Authorization", "AWS4-HMAC-SHA256 Credential=\"><script>/20150830/x"});
  EXPECT_EQ(claimed_access_key_id(odd), "");
  SigV4Request query;
  query.raw_query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDQUERY%2F20150830%2Fus-east-1";
  EXPECT_EQ(claimed_access_key_id(query), "AKIDQUERY");
}

TEST_F(SigV4Verify, TamperedBodyIsSignatureInvalid) {
  SigV4Request request = signed_;
  request.payload_sha256 = sha256_hex(R"({"repositoryNames":["other"]})");
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, TamperedSignedHeaderIsSignatureInvalid) {
  SigV4Request request = signed_;
  set_header(request, "X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DeleteRepository");
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, UnsignedHeadersMayChange) {
  SigV4Request request = signed_;
  request.headers.push_back({"User-Agent", "aws-cli/1.45.11"});
  request.headers.push_back({"amz-sdk-request", "attempt=2; max=5"});
  EXPECT_TRUE(verify(request).is_ok());
}

// Found by tests/fuzz/sigv4_fuzz.cc: a request that already carried two
// X-Amz-Date headers kept the second one, and the verifier refuses a repeated
// X-Amz-Date, so sign_request produced a request that could never verify.
TEST_F(SigV4Verify, SigningReplacesEveryXAmzDate) {
  SigV4Request request = resign(kRegion, "ecr", kVectorTime, {{"x-amz-date", "20000101T000000Z"}});
  size_t dates = 0;
  for (const HttpHeader& h : request.headers)
    dates += h.name == "X-Amz-Date" || h.name == "x-amz-date";
  EXPECT_EQ(dates, 1u);
  auto verified = verify(request);
  EXPECT_TRUE(verified.is_ok()) << verified.status().to_string();
}

TEST_F(SigV4Verify, SignatureComparisonIsExactLowercaseHex) {
  SigV4Request request = signed_;
  for (HttpHeader& h : request.headers) {
    if (h.name != "Authorization") continue;
    size_t at = h.value.find("Signature=") + 10;
    std::transform(h.value.begin() + at, h.value.end(), h.value.begin() + at, ::toupper);
  }
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, MalformedAuthorizationIsIncompleteSignature) {
  const std::string good = header_value(signed_, "Authorization").value();
  const std::string credential = "Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request";
  const std::string signed_headers = "SignedHeaders=content-type;host;x-amz-date;x-amz-target";
  const std::string sig = "Signature=" + authz_param(good, "Signature");
  const std::vector<std::string> malformed = {
      "",
      "AWS4-HMAC-SHA256",
      "AWS4-HMAC-SHA512 " + credential + ", " + signed_headers + ", " + sig,
      "Basic QVdTOnNlY3JldA==",
      "AWS4-HMAC-SHA256 " + credential + ", " + signed_headers,
      "AWS4-HMAC-SHA256 " + signed_headers + ", " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", " + signed_headers + ", Signature",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr, " + signed_headers + ", " +
          sig,
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE//us-east-1/ecr/aws4_request, " + signed_headers +
          ", " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", SignedHeaders=host;;x-amz-date, " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", SignedHeaders=host;host, " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", " + credential + ", " + signed_headers + ", " + sig,
  };
  for (const std::string& value : malformed) {
    SigV4Request request = unsigned_;
    request.headers.push_back({"Authorization", value});
    EXPECT_EQ(verify(request).status().code(), Code::kIncompleteSignature) << value;
  }
  SigV4Request request = unsigned_;
  request.headers.push_back({"Authorization", "AWS4-HMAC-SHA256 " + credential});
  EXPECT_EQ(verify(request).status().message(),
            "Authorization header requires 'Signature' parameter. Authorization header requires "
            "'SignedHeaders' parameter.");
}

// The error body goes back to the caller and into logs: it must never repeat
// the Authorization header, whose signature is replayable for five minutes.
TEST_F(SigV4Verify, ErrorMessagesNeverEchoTheAuthorizationHeader) {
  const std::string marker = "Zq9SecretMarkerZq9";
  const std::string credential = "Credential=" + marker + "/20150830/us-east-1/ecr/aws4_request";
  const std::string sig = "Signature=" + marker;
  const std::vector<std::string> malformed = {
      marker,
      "AWS4-HMAC-SHA256 " + credential,
      "AWS4-HMAC-SHA256 " + marker + ", " + credential + ", SignedHeaders=host, " + sig,
      "AWS4-HMAC-SHA256 Credential=" + marker + "/x, SignedHeaders=host, " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", SignedHeaders=host;;" + marker + ", " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", SignedHeaders=" + marker + ";" + marker + ", " + sig,
      "AWS4-HMAC-SHA256 " + credential + ", " + credential + ", SignedHeaders=host, " + sig,
  };
  for (const std::string& value : malformed) {
    SigV4Request request = unsigned_;
    request.headers.push_back({"Authorization", value});
    auto result = verify(request);
    ASSERT_FALSE(result.is_ok()) << value;
    EXPECT_EQ(result.status().message().find(marker), std::string::npos)
        << result.status().message();
  }
  // No Date header either: that message used to end in "Authorization=<value>".
  SigV4Request undated = unsigned_;
  std::erase_if(undated.headers, [](const HttpHeader& h) { return h.name == "X-Amz-Date"; });
  undated.headers.push_back({"Authorization",
                             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/"
                             "aws4_request, SignedHeaders=host, " +
                                 sig});
  auto result = verify(undated);
  EXPECT_EQ(result.status().code(), Code::kIncompleteSignature);
  EXPECT_EQ(result.status().message().find(marker), std::string::npos) << result.status().message();
}

// Listing Authorization as signed would put its value in the canonical request,
// which the signature-mismatch message shows.
TEST_F(SigV4Verify, AuthorizationCannotBeASignedHeader) {
  SigV4Request request = unsigned_;
  request.headers.push_back({"Authorization",
                             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                             "us-east-1/ecr/aws4_request, SignedHeaders="
                             "authorization;host;x-amz-date, Signature=00"});
  auto result = verify(request);
  EXPECT_EQ(result.status().code(), Code::kIncompleteSignature);
  EXPECT_EQ(result.status().message().find("Signature=00"), std::string::npos);
}

// A request signed without X-Amz-Target could be replayed as any other
// operation (signed as CreateRepository, sent as DeleteRepository).
TEST_F(SigV4Verify, RequiredHeadersMustBeSigned) {
  options_.required_signed_headers = {"Content-Type", "X-Amz-Target"};
  auto verified = verify(signed_);  // botocore signs both
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();

  SigV4Request no_target = unsigned_;
  no_target.headers.push_back(
      {"Authorization",
       manual_authorization(no_target, {"content-type", "host", "x-amz-date"}, kVectorAmzDate)});
  auto result = verify(no_target);
  EXPECT_EQ(result.status().code(), Code::kIncompleteSignature);
  EXPECT_NE(result.status().message().find("'X-Amz-Target' must be a 'SignedHeader'"),
            std::string::npos)
      << result.status().message();
  // Replayed under another operation it is refused the same way, before any
  // signature is compared.
  set_header(no_target, "X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DeleteRepository");
  EXPECT_EQ(verify(no_target).status().code(), Code::kIncompleteSignature);

  SigV4Request no_type = unsigned_;
  no_type.headers.push_back(
      {"Authorization",
       manual_authorization(no_type, {"host", "x-amz-date", "x-amz-target"}, kVectorAmzDate)});
  result = verify(no_type);
  EXPECT_EQ(result.status().code(), Code::kIncompleteSignature);
  EXPECT_NE(result.status().message().find("'Content-Type'"), std::string::npos);

  // Without the requirement both are still accepted (the generic verifier).
  options_.required_signed_headers.clear();
  EXPECT_TRUE(verify(no_type).is_ok());
}

TEST_F(SigV4Verify, LenientSpacingInAuthorizationIsAccepted) {
  const std::string good = header_value(signed_, "Authorization").value();
  std::string compact = good;
  std::erase(compact, ' ');
  compact.insert(std::string_view("AWS4-HMAC-SHA256").size(), "  ");
  SigV4Request request = unsigned_;
  request.headers.push_back({"Authorization", compact + " ,"});
  auto verified = verify(request);
  EXPECT_TRUE(verified.is_ok()) << compact << " " << verified.status().to_string();
}

TEST_F(SigV4Verify, RepeatedAuthorizationIsIncompleteSignature) {
  SigV4Request request = signed_;
  request.headers.push_back({"Authorization", header_value(signed_, "Authorization").value()});
  EXPECT_EQ(verify(request).status().code(), Code::kIncompleteSignature);
}

TEST_F(SigV4Verify, HostMustBeSigned) {
  SigV4Request request = unsigned_;
  request.headers.push_back(
      {"Authorization",
       manual_authorization(request, {"content-type", "x-amz-date", "x-amz-target"},
                            kVectorAmzDate)});
  auto result = verify(request);
  EXPECT_EQ(result.status().code(), Code::kIncompleteSignature);
  EXPECT_NE(result.status().message().find("'Host'"), std::string::npos);
}

TEST_F(SigV4Verify, SignedHostMissingFromRequestIsSignatureInvalid) {
  SigV4Request request = signed_;
  std::erase_if(request.headers, [](const HttpHeader& h) { return h.name == "Host"; });
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, MissingDateIsIncompleteSignature) {
  SigV4Request request = signed_;
  std::erase_if(request.headers, [](const HttpHeader& h) { return h.name == "X-Amz-Date"; });
  auto result = verify(request);
  EXPECT_EQ(result.status().code(), Code::kIncompleteSignature);
  EXPECT_NE(result.status().message().find("either a 'X-Amz-Date' or a 'Date' header"),
            std::string::npos);
}

TEST_F(SigV4Verify, MalformedDateIsIncompleteSignature) {
  SigV4Request request = signed_;
  set_header(request, "X-Amz-Date", "2015-08-30T12:36:00Z");
  EXPECT_EQ(verify(request).status().code(), Code::kIncompleteSignature);
}

TEST_F(SigV4Verify, DateHeaderIsAcceptedWithoutXAmzDate) {
  SigV4Request request = unsigned_;
  std::erase_if(request.headers, [](const HttpHeader& h) { return h.name == "X-Amz-Date"; });
  request.headers.push_back({"Date", "Sun, 30 Aug 2015 12:36:00 GMT"});
  request.headers.push_back(
      {"Authorization", manual_authorization(request, {"content-type", "date", "host"},
                                             format_amz_date(kVectorTime))});
  auto verified = verify(request);
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(verified->request_time, kVectorTime);
  clock_.set_seconds(kVectorTime + 3600);
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureExpired);
}

TEST_F(SigV4Verify, ScopeDateMustMatchRequestDate) {
  // Signed at 23:59:00 on the 30th, X-Amz-Date then moved into the 31st.
  const int64_t signed_at = kVectorTime + 11 * 3600 + 23 * 60;
  SigV4Request request = resign(kRegion, "ecr", signed_at);
  set_header(request, "X-Amz-Date", format_amz_date(signed_at + 120));
  clock_.set_seconds(signed_at + 60);
  auto result = verify(request);
  EXPECT_EQ(result.status().code(), Code::kSignatureInvalid);
  EXPECT_NE(result.status().message().find("Date in Credential scope does not match"),
            std::string::npos);
}

TEST_F(SigV4Verify, WrongTerminatorIsSignatureInvalid) {
  SigV4Request request = signed_;
  set_header(request, "Authorization",
             std::string(header_value(signed_, "Authorization").value())
                 .replace(header_value(signed_, "Authorization")->find("aws4_request"), 12,
                          "aws5_request"));
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, ContentSha256HeaderMustMatchPayload) {
  SigV4Request request =
      resign(kRegion, "ecr", kVectorTime, {{"X-Amz-Content-SHA256", sha256_hex("{}")}});
  EXPECT_TRUE(verify(request).is_ok());
  SigV4Request lying =
      resign(kRegion, "ecr", kVectorTime, {{"X-Amz-Content-SHA256", sha256_hex("something else")}});
  EXPECT_EQ(verify(lying).status().code(), Code::kSignatureInvalid);
  SigV4Request unsigned_payload =
      resign(kRegion, "ecr", kVectorTime, {{"X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"}});
  EXPECT_EQ(verify(unsigned_payload).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Verify, SecurityTokenRejectedUnlessAllowed) {
  fs::path base = sigv4_dir() / "ecr-extra/ecr-get-authorization-token-session-token" /
                  "ecr-get-authorization-token-session-token";
  SigV4Request request = parse_http(read_file(base.string() + ".sreq"));
  EXPECT_EQ(verify(request).status().code(), Code::kUnknownAccessKey);
  options_.allow_security_token = true;
  auto verified = verify(request);
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_EQ(verified->security_token, header_value(request, "X-Amz-Security-Token"));
}

TEST_F(SigV4Verify, VectorSignedForAnotherServiceIsRejected) {
  SigV4Request request = parse_http(read_file(sigv4_dir() / "post-vanilla" / "post-vanilla.sreq"));
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
}

// --- Presigned query form ------------------------------------------------------------

class SigV4Presigned : public SigV4Verify {
 protected:
  SigV4Request presigned(int64_t expires = 60) const {
    SigV4Request request{"GET",
                         "/v2/team/app/blobs/sha256:abc",
                         "x-id=1",
                         {{"Host", "registry.example:5000"}},
                         sha256_hex("")};
    auto query = presign_query(request, {std::string(kAccessKeyId), std::string(kSecret)}, kRegion,
                               "ecr", kVectorTime, expires);
    EXPECT_TRUE(query.is_ok());
    request.raw_query = query.value();
    return request;
  }
};

TEST_F(SigV4Presigned, RoundTrip) {
  auto verified = verify(presigned());
  ASSERT_TRUE(verified.is_ok()) << verified.status().to_string();
  EXPECT_TRUE(verified->presigned);
  EXPECT_EQ(verified->signed_headers, std::vector<std::string>{"host"});
}

TEST_F(SigV4Presigned, ValidUntilExpiry) {
  SigV4Request request = presigned(60);
  clock_.set_seconds(kVectorTime + 60);
  EXPECT_TRUE(verify(request).is_ok());
  clock_.set_seconds(kVectorTime + 61);
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureExpired);
}

TEST_F(SigV4Presigned, TamperedQueryOrPathIsSignatureInvalid) {
  SigV4Request request = presigned();
  request.raw_query.replace(0, 6, "x-id=2");
  EXPECT_EQ(verify(request).status().code(), Code::kSignatureInvalid);
  SigV4Request other_path = presigned();
  other_path.raw_path = "/v2/team/other/blobs/sha256:abc";
  EXPECT_EQ(verify(other_path).status().code(), Code::kSignatureInvalid);
}

TEST_F(SigV4Presigned, MissingParameterIsIncompleteSignature) {
  SigV4Request request = presigned();
  size_t at = request.raw_query.find("&X-Amz-Expires=");
  request.raw_query.erase(at, request.raw_query.find('&', at + 1) - at);
  EXPECT_EQ(verify(request).status().code(), Code::kIncompleteSignature);
}

TEST_F(SigV4Presigned, ExcessiveExpiryIsIncompleteSignature) {
  EXPECT_EQ(verify(presigned(7 * 24 * 3600 + 1)).status().code(), Code::kIncompleteSignature);
}

TEST_F(SigV4Presigned, BothFormsAtOnceIsIncompleteSignature) {
  SigV4Request request = presigned();
  request.headers.push_back({"Authorization", header_value(signed_, "Authorization").value()});
  EXPECT_EQ(verify(request).status().code(), Code::kIncompleteSignature);
}

}  // namespace
}  // namespace berth::auth
