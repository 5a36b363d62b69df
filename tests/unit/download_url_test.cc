// Presigned layer download URLs: bound to one blob, one account and one key,
// tamper-evident, and short-lived.
#include "auth/download_url.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::auth {
namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kDigest = "sha256:" + std::string(64, 'a');

class DownloadUrlTest : public ::testing::Test {
 protected:
  DownloadUrlTest() : clock_(kNow * 1000) {
    key_.fill(7);
    grant_.account_id = "123456789012";
    grant_.repository = "team/app";
    grant_.digest = kDigest;
    grant_.access_key_id = "AKIDEXAMPLE";
    grant_.expires_at = kNow + 900;
  }
  Result<DownloadGrant> verify(const std::string& query, const std::string& repo = "team/app",
                               const std::string& digest = kDigest) {
    return verify_download_query(query, repo, digest, key_, clock_);
  }

  FakeClock clock_;
  DownloadUrlKey key_{};
  DownloadGrant grant_;
};

TEST_F(DownloadUrlTest, ValidUntilItExpires) {
  const std::string q = sign_download_query(grant_, key_);
  auto ok = verify(q);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->account_id, "123456789012");
  EXPECT_EQ(ok->access_key_id, "AKIDEXAMPLE");
  clock_.set_seconds(kNow + 899);
  EXPECT_TRUE(verify(q).is_ok());
  clock_.set_seconds(kNow + 900);
  auto expired = verify(q);
  EXPECT_EQ(expired.status().code(), Code::kPermissionDenied);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
}

TEST_F(DownloadUrlTest, BoundToItsBlobAndRepository) {
  const std::string q = sign_download_query(grant_, key_);
  EXPECT_EQ(verify(q, "team/other").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(verify(q, "team/app", "sha256:" + std::string(64, 'b')).status().code(),
            Code::kPermissionDenied);
}

TEST_F(DownloadUrlTest, AlteredFieldsOrAnotherKeyAreRefused) {
  const std::string q = sign_download_query(grant_, key_);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = q;
    auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_FALSE(verify(replace(std::to_string(kNow + 900), std::to_string(kNow + 90000))).is_ok());
  EXPECT_FALSE(verify(replace("123456789012", "999999999999")).is_ok());
  EXPECT_FALSE(verify(replace("AKIDEXAMPLE", "AKIDOTHER")).is_ok());
  std::string flipped = q;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(verify(flipped).is_ok());
  DownloadUrlKey other;
  other.fill(8);
  EXPECT_FALSE(
      verify_download_query(sign_download_query(grant_, other), "team/app", kDigest, key_, clock_)
          .is_ok());
}

TEST_F(DownloadUrlTest, IncompleteOrRepeatedParametersAreRefused) {
  const std::string q = sign_download_query(grant_, key_);
  EXPECT_FALSE(verify("").is_ok());
  EXPECT_FALSE(verify(q.substr(0, q.find("&X-Berth-Signature"))).is_ok());
  EXPECT_FALSE(verify(q + "&X-Berth-Expires=1").is_ok());
  EXPECT_TRUE(verify("foo=bar&" + q).is_ok());  // unrelated parameters do not matter
}

}  // namespace
}  // namespace berth::auth
