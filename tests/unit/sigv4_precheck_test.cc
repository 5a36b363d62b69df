// auth::precheck_request: what SigV4 verification can decide from the head
// alone, before a body is read.
#include <gtest/gtest.h>

#include "auth/sigv4.h"
#include "core/clock.h"

namespace berth::auth {
namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

class SigV4PrecheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.set_seconds(kNow);
    options_.region = "us-east-1";
    options_.service = "ecr";
  }

  // A request signed over `body` by AKIDEXAMPLE at `when`.
  SigV4Request signed_request(const std::string& body, int64_t when,
                              std::string_view region = "us-east-1") {
    SigV4Request r{"POST",
                   "/",
                   "",
                   {{"Host", "registry.example.com"},
                    {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.UploadLayerPart"}},
                   sha256_hex(body)};
    auto signed_ok = sign_request(r, {"AKIDEXAMPLE", "secret-secret-secret-secret-secret-0000"},
                                  region, "ecr", when);
    EXPECT_TRUE(signed_ok.is_ok()) << signed_ok.status().to_string();
    return r;
  }

  FakeClock clock_;
  VerifierOptions options_;
};

TEST_F(SigV4PrecheckTest, WellFormedCurrentRequestPassesWithoutItsBody) {
  SigV4Request r = signed_request("the body", kNow);
  r.payload_sha256.clear();  // the body has not been read yet
  auto key = precheck_request(r, options_, clock_);
  ASSERT_TRUE(key.is_ok()) << key.status().to_string();
  EXPECT_EQ(*key, "AKIDEXAMPLE");
}

TEST_F(SigV4PrecheckTest, RefusesWhatTheHeadAloneShowsIsBad) {
  SigV4Request none{"POST", "/", "", {{"Host", "registry.example.com"}}, ""};
  EXPECT_EQ(precheck_request(none, options_, clock_).status().code(), Code::kMissingAuthentication);

  SigV4Request bearer = none;
  bearer.headers.push_back({"Authorization", "Bearer abc"});
  EXPECT_EQ(precheck_request(bearer, options_, clock_).status().code(), Code::kIncompleteSignature);

  SigV4Request stale = signed_request("", kNow - 3600);
  EXPECT_EQ(precheck_request(stale, options_, clock_).status().code(), Code::kSignatureExpired);

  SigV4Request other_region = signed_request("", kNow, "eu-west-1");
  EXPECT_EQ(precheck_request(other_region, options_, clock_).status().code(),
            Code::kSignatureInvalid);
}

TEST_F(SigV4PrecheckTest, PassingThePrecheckIsNotAuthentication) {
  SigV4Request r = signed_request("the body", kNow);
  r.payload_sha256 = sha256_hex("another body");
  EXPECT_TRUE(precheck_request(r, options_, clock_).is_ok());
  auto lookup = [](std::string_view) -> std::optional<std::string> {
    return std::string("secret-secret-secret-secret-secret-0000");
  };
  EXPECT_EQ(verify_request(r, options_, lookup, clock_).status().code(), Code::kSignatureInvalid);
}

}  // namespace
}  // namespace berth::auth
