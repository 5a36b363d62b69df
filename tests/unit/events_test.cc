// core/events.h (the EventBridge shape) and the pure parts of webhook delivery
// (registry/webhook_delivery.h): signature and filters.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/events.h"
#include "registry/webhook_delivery.h"

namespace berth {
namespace {
namespace json = boost::json;

TEST(EventsTest, ImageActionHasEcrShape) {
  OutboxEvent e = image_action_event("id-1", "000000000000", "team/api", "PUSH", "SUCCESS",
                                     "sha256:abc", "1.0", 1'765'095'300'123);
  json::object o = json::parse(render_event(e, "eu-west-1")).as_object();
  EXPECT_EQ(o["version"].as_string(), "0");
  EXPECT_EQ(o["id"].as_string(), "id-1");
  EXPECT_EQ(o["detail-type"].as_string(), "ECR Image Action");
  EXPECT_EQ(o["source"].as_string(), "aws.ecr");
  EXPECT_EQ(o["account"].as_string(), "000000000000");
  EXPECT_EQ(o["time"].as_string(), "2025-12-07T08:15:00Z");
  EXPECT_EQ(o["region"].as_string(), "eu-west-1");
  EXPECT_TRUE(o["resources"].as_array().empty());
  EXPECT_EQ(o["detail"], (json::object{{"result", "SUCCESS"},
                                       {"repository-name", "team/api"},
                                       {"action-type", "PUSH"},
                                       {"image-digest", "sha256:abc"},
                                       {"image-tag", "1.0"}}));
  // Addressed by digest: no image-tag at all.
  OutboxEvent by_digest =
      image_action_event("id-2", "000000000000", "r", "DELETE", "SUCCESS", "sha256:abc", "", 0);
  EXPECT_FALSE(json::parse(by_digest.detail).as_object().contains("image-tag"));
}

TEST(EventsTest, LifecycleActionNamesTheRepository) {
  OutboxEvent e =
      lifecycle_expiry_event("id-3", "000000000000", "team/api", "sha256:def", {"a", "b"}, 0);
  json::object o = json::parse(render_event(e, "us-east-1")).as_object();
  EXPECT_EQ(o["detail-type"].as_string(), "ECR Lifecycle Policy Action");
  EXPECT_EQ(o["resources"],
            (json::array{"arn:aws:ecr:us-east-1:000000000000:repository/team/api"}));
  EXPECT_EQ(o["detail"].as_object()["action-type"].as_string(), "EXPIRE");
  EXPECT_EQ(o["detail"].as_object()["image-tags"], (json::array{"a", "b"}));
}

TEST(EventsTest, ImageScanCarriesStatusCountsAndTheRepository) {
  OutboxEvent e = image_scan_event("id-4", "000000000000", "team/api", "sha256:abc", {"1.0"},
                                   "COMPLETE", {{"HIGH", 2}, {"LOW", 5}}, 1'765'095'300'000);
  EXPECT_EQ(e.detail_type, "ECR Image Scan");
  json::object o = json::parse(render_event(e, "eu-west-1")).as_object();
  EXPECT_EQ(o["detail-type"].as_string(), "ECR Image Scan");
  EXPECT_EQ(o["time"].as_string(), "2025-12-07T08:15:00Z");
  EXPECT_EQ(o["resources"],
            (json::array{"arn:aws:ecr:eu-west-1:000000000000:repository/team/api"}));
  EXPECT_EQ(o["detail"], (json::object{{"scan-status", "COMPLETE"},
                                       {"repository-name", "team/api"},
                                       {"finding-severity-counts", {{"HIGH", 2}, {"LOW", 5}}},
                                       {"image-digest", "sha256:abc"},
                                       {"image-tags", json::array{"1.0"}}}));
  // No findings: an empty object, as ECR sends it.
  OutboxEvent none =
      image_scan_event("id-5", "000000000000", "team/api", "sha256:abc", {}, "COMPLETE", {}, 0);
  json::object d = json::parse(none.detail).as_object();
  EXPECT_TRUE(d["finding-severity-counts"].as_object().empty());
  EXPECT_TRUE(d["image-tags"].as_array().empty());
}

TEST(WebhookDeliveryTest, SignatureIsHmacSha256OfTheBody) {
  // RFC 4231, test case 2.
  EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookDeliveryTest, FiltersAreAllOfAccountsPrefixesAndTypes) {
  OutboxEvent e =
      image_action_event("x", "111111111111", "team/api", "PUSH", "SUCCESS", "sha256:a", "", 0);
  WebhookTarget t{"hook", "http://127.0.0.1:1/", "s", {}, {}, {}};
  EXPECT_TRUE(webhook_wants(t, e));
  t.accounts = {"222222222222"};
  EXPECT_FALSE(webhook_wants(t, e));
  t.accounts = {"222222222222", "111111111111"};
  EXPECT_TRUE(webhook_wants(t, e));
  t.repository_prefixes = {"other/"};
  EXPECT_FALSE(webhook_wants(t, e));
  t.repository_prefixes = {"other/", "team/"};
  EXPECT_TRUE(webhook_wants(t, e));
  t.event_types = {"ECR Lifecycle Policy Action"};
  EXPECT_FALSE(webhook_wants(t, e));
}

TEST(WebhookDeliveryTest, OnlyPlainHttpUrlsWithAHost) {
  EXPECT_TRUE(check_webhook_url("http://127.0.0.1:8080/hook").is_ok());
  EXPECT_TRUE(check_webhook_url("http://example.internal/").is_ok());
  EXPECT_FALSE(check_webhook_url("https://example.internal/").is_ok());
  EXPECT_FALSE(check_webhook_url("http://user:pw@example.internal/").is_ok());
  EXPECT_FALSE(check_webhook_url("http://:80/").is_ok());
  EXPECT_FALSE(check_webhook_url("http://host:99999/").is_ok());
}

}  // namespace
}  // namespace berth
