// The EventOutboxStore conformance suite: the durable event outbox and its per-webhook
// deliveries. Written against the role interface (meta/event_outbox_store.h): the role under
// test is store(); the other roles only arrange state. Include it from exactly one translation
// unit, after metadata_store_conformance.h.
#pragma once

#include "core/events.h"
#include "metadata_store_conformance.h"

namespace berth::conformance {

namespace {
OutboxEvent outbox_event(const std::string& id, const std::string& repository,
                         int64_t time_ms = 1000) {
  return image_action_event(id, "111111111111", repository, "PUSH", "SUCCESS", Digest::of(id).str(),
                            "v1", time_ms);
}

std::vector<std::string> ids_of(const std::vector<OutboxEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}
}  // namespace

TEST_P(EventOutboxStoreConformance, AppendedEventsComeBackInOrderWithTheirFacts) {
  ASSERT_TRUE(store().append_events({outbox_event("e1", "a"), outbox_event("e2", "b")}).is_ok());
  ASSERT_TRUE(store().append_events({outbox_event("e3", "a", 2000)}).is_ok());
  auto got = store().undelivered_events("hook", 0, 10);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(ids_of(*got), (std::vector<std::string>{"e1", "e2", "e3"}));
  EXPECT_LT((*got)[0].sequence, (*got)[1].sequence);
  EXPECT_LT((*got)[1].sequence, (*got)[2].sequence);
  const OutboxEvent want = outbox_event("e3", "a", 2000);
  EXPECT_EQ((*got)[2].detail_type, want.detail_type);
  EXPECT_EQ((*got)[2].account_id, want.account_id);
  EXPECT_EQ((*got)[2].repository, "a");
  EXPECT_EQ((*got)[2].detail, want.detail);
  EXPECT_EQ((*got)[2].time_ms, 2000);

  // Paging by sequence and limit.
  auto after_first = store().undelivered_events("hook", (*got)[0].sequence, 1);
  ASSERT_TRUE(after_first.is_ok());
  EXPECT_EQ(ids_of(*after_first), (std::vector<std::string>{"e2"}));
}

TEST_P(EventOutboxStoreConformance, DeliveriesAreMarkedPerWebhook) {
  ASSERT_TRUE(store().append_events({outbox_event("e1", "a"), outbox_event("e2", "a")}).is_ok());
  auto all = store().undelivered_events("one", 0, 10);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  ASSERT_TRUE(store().mark_event_delivered("one", (*all)[0].sequence, 5).is_ok());
  ASSERT_TRUE(store().mark_event_delivered("one", (*all)[0].sequence, 6).is_ok()) << "idempotent";
  EXPECT_EQ(ids_of(*store().undelivered_events("one", 0, 10)), (std::vector<std::string>{"e2"}));
  EXPECT_EQ(ids_of(*store().undelivered_events("two", 0, 10)),
            (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(store().mark_event_delivered("one", (*all)[1].sequence + 1000, 7).code(),
            Code::kNotFound);
}

TEST_P(EventOutboxStoreConformance, DuplicateIdAppendsNothing) {
  ASSERT_TRUE(store().append_events({outbox_event("e1", "a")}).is_ok());
  EXPECT_EQ(store().append_events({outbox_event("e2", "a"), outbox_event("e1", "a")}).code(),
            Code::kAlreadyExists);
  EXPECT_EQ(ids_of(*store().undelivered_events("hook", 0, 10)), (std::vector<std::string>{"e1"}));
}

TEST_P(EventOutboxStoreConformance, PutManifestWritesItsEventsInItsOwnTransaction) {
  RepositoryRecord r = repo("events/put");
  ManifestRecord m = manifest("{\"events\":1}");
  const Digest blob = linked_blob(r, "config of events");
  PutManifestRequest ok = request(r, m, "v1", {blob});
  ok.events.push_back(outbox_event("push-ok", r.name));
  ASSERT_TRUE(manifests().put_manifest(ok).is_ok());

  // A put that fails (a blob the repository lacks) leaves no event behind.
  PutManifestRequest bad = request(r, manifest("{\"events\":2}"), "v2", {Digest::of("not linked")});
  bad.events.push_back(outbox_event("push-bad", r.name));
  EXPECT_EQ(manifests().put_manifest(bad).code(), Code::kManifestBlobUnknown);
  // Nor does one refused by tag immutability.
  PutManifestRequest immutable = request(r, manifest("{\"events\":3}"), "v1", {blob});
  immutable.tag_immutable = true;
  immutable.events.push_back(outbox_event("push-immutable", r.name));
  EXPECT_EQ(manifests().put_manifest(immutable).code(), Code::kTagImmutable);

  EXPECT_EQ(ids_of(*store().undelivered_events("hook", 0, 10)),
            (std::vector<std::string>{"push-ok"}));
}

TEST_P(EventOutboxStoreConformance, PruneDeletesEventsDeliveredToEveryWebhook) {
  ASSERT_TRUE(store()
                  .append_events({outbox_event("e1", "a"), outbox_event("e2", "a"),
                                  outbox_event("e3", "a"), outbox_event("e4", "a")})
                  .is_ok());
  auto all = store().undelivered_events("one", 0, 10);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 4u);
  const int64_t s1 = (*all)[0].sequence, s2 = (*all)[1].sequence, s4 = (*all)[3].sequence;
  for (const char* hook : {"one", "two"}) {
    ASSERT_TRUE(store().mark_event_delivered(hook, s1, 10).is_ok());
    ASSERT_TRUE(store().mark_event_delivered(hook, s4, 10).is_ok());
  }
  // e2: by "one" and by a webhook no longer configured; that one does not count.
  ASSERT_TRUE(store().mark_event_delivered("one", s2, 10).is_ok());
  ASSERT_TRUE(store().mark_event_delivered("gone", s2, 10).is_ok());

  auto pruned = store().prune_events({"one", "two"}, 0);
  ASSERT_TRUE(pruned.is_ok()) << pruned.status().to_string();
  EXPECT_EQ(*pruned, 1u) << "e1 only: e4, delivered to both too, is the newest and stays";
  EXPECT_EQ(ids_of(*store().undelivered_events("three", 0, 10)),
            (std::vector<std::string>{"e2", "e3", "e4"}));
  EXPECT_EQ(ids_of(*store().undelivered_events("two", 0, 10)),
            (std::vector<std::string>{"e2", "e3"}));
  EXPECT_EQ(store().mark_event_delivered("one", s1, 11).code(), Code::kNotFound);
  EXPECT_EQ(*store().prune_events({"one", "two"}, 0), 0u) << "nothing more is delivered to all";

  // A sequence is never handed out again: a new event comes after the newest.
  ASSERT_TRUE(store().append_events({outbox_event("e5", "a")}).is_ok());
  auto after = store().undelivered_events("three", s4, 10);
  ASSERT_TRUE(after.is_ok());
  ASSERT_EQ(ids_of(*after), (std::vector<std::string>{"e5"}));
  EXPECT_GT((*after)[0].sequence, s4);
}

TEST_P(EventOutboxStoreConformance, PruneKeepsEventsDeliveredToSomeUntilTheRetention) {
  ASSERT_TRUE(store()
                  .append_events({outbox_event("e1", "a", 1000), outbox_event("e2", "a", 5000)})
                  .is_ok());
  auto all = store().undelivered_events("one", 0, 10);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  ASSERT_TRUE(store().mark_event_delivered("one", (*all)[0].sequence, 10).is_ok());

  EXPECT_EQ(*store().prune_events({"one", "two"}, 1000), 0u) << "created at 1000: not before it";
  EXPECT_EQ(ids_of(*store().undelivered_events("two", 0, 10)),
            (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(*store().prune_events({"one", "two"}, 1001), 1u);
  EXPECT_EQ(ids_of(*store().undelivered_events("two", 0, 10)), (std::vector<std::string>{"e2"}));
}

TEST_P(EventOutboxStoreConformance, PruneKeepsUndeliveredEventsUntilTheRetention) {
  ASSERT_TRUE(store()
                  .append_events({outbox_event("e1", "a", 1000), outbox_event("e2", "b", 2000),
                                  outbox_event("e3", "a", 3000)})
                  .is_ok());
  // Webhooks configured, nothing delivered; then none configured.
  EXPECT_EQ(*store().prune_events({"one"}, 1000), 0u);
  EXPECT_EQ(*store().prune_events({"one"}, 1500), 1u);
  EXPECT_EQ(ids_of(*store().undelivered_events("one", 0, 10)),
            (std::vector<std::string>{"e2", "e3"}));
  EXPECT_EQ(*store().prune_events({}, 2500), 1u);
  EXPECT_EQ(*store().prune_events({}, 1000000), 0u) << "the newest event always stays";
  EXPECT_EQ(ids_of(*store().undelivered_events("one", 0, 10)), (std::vector<std::string>{"e3"}));
}

// Deletes and expiries write their events in their own transaction, built
// from what they deleted; one that is refused writes none.
TEST_P(EventOutboxStoreConformance, DeletesAndExpiriesWriteTheirEventsWithTheChange) {
  RepositoryRecord r = repo("events/deletes");
  std::vector<std::pair<std::string, std::vector<std::string>>> seen;  // digest, tags
  int n = 0;
  const DeletionEvents events = [&](const Digest& d, const std::vector<std::string>& tags) {
    seen.emplace_back(d.str(), tags);
    return std::vector<OutboxEvent>{outbox_event("del-" + std::to_string(++n), r.name)};
  };
  auto written = [&] { return ids_of(*store().undelivered_events("hook", 0, 100)); };

  // Refused: nothing written.
  ManifestRecord child = put_image(r, "{\"image\":\"child\"}");
  put_index(r, "{\"index\":1}", {child.digest}, "idx");
  EXPECT_EQ(manifests().delete_manifest(r.id, child.digest, events).code(),
            Code::kManifestReferenced);
  EXPECT_EQ(manifests().delete_tag(r.id, "no-such-tag", events).code(), Code::kManifestUnknown);
  EXPECT_EQ(lifecycle().expire_manifest(r.id, child.digest, {"wrong"}, events).code(),
            Code::kFailedPrecondition);
  EXPECT_TRUE(written().empty());
  EXPECT_TRUE(seen.empty());

  // A tag delete names the digest it pointed at and that tag.
  ManifestRecord a = put_image(r, "{\"image\":\"a\"}", "a1");
  ASSERT_TRUE(manifests().delete_tag(r.id, "a1", events).is_ok());
  // A manifest delete, with its remaining tags.
  ManifestRecord b = put_image(r, "{\"image\":\"b\"}", "b1");
  ASSERT_TRUE(manifests().delete_manifest(r.id, b.digest, events).is_ok());
  // BatchDeleteImage by tag, and an expiry.
  ManifestRecord c = put_image(r, "{\"image\":\"c\"}", "c1");
  ASSERT_TRUE(manifests().delete_image(r.id, c.digest, "c1", events).is_ok());
  ManifestRecord d = put_image(r, "{\"image\":\"d\"}", "d1");
  ASSERT_TRUE(lifecycle().expire_manifest(r.id, d.digest, {"d1"}, events).is_ok());

  EXPECT_EQ(written(), (std::vector<std::string>{"del-1", "del-2", "del-3", "del-4"}));
  using Seen = std::vector<std::pair<std::string, std::vector<std::string>>>;
  EXPECT_EQ(seen, (Seen{{a.digest.str(), {"a1"}},
                        {b.digest.str(), {"b1"}},
                        {c.digest.str(), {"c1"}},
                        {d.digest.str(), {"d1"}}}));
  EXPECT_EQ(manifests().get_manifest(r.id, b.digest).status().code(), Code::kManifestUnknown);
  EXPECT_EQ(manifests().get_manifest(r.id, d.digest).status().code(), Code::kManifestUnknown);
}

TEST_P(EventOutboxStoreConformance, WebhookBackoffsAreKeptPerWebhookAndRepository) {
  auto none = store().webhook_backoffs("one");
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(store().set_webhook_backoff("one", {"111111111111/b", 5000, 2000}).is_ok());
  ASSERT_TRUE(store().set_webhook_backoff("one", {"111111111111/a", 3000, 1000}).is_ok());
  ASSERT_TRUE(store().set_webhook_backoff("two", {"111111111111/a", 9000, 8000}).is_ok());
  // Replacing one schedule leaves the others as they were.
  ASSERT_TRUE(store().set_webhook_backoff("one", {"111111111111/b", 7000, 4000}).is_ok());

  auto one = store().webhook_backoffs("one");
  ASSERT_TRUE(one.is_ok()) << one.status().to_string();
  ASSERT_EQ(one->size(), 2u);
  EXPECT_EQ((*one)[0].repository_key, "111111111111/a");
  EXPECT_EQ((*one)[0].next_attempt_ms, 3000);
  EXPECT_EQ((*one)[0].delay_ms, 1000);
  EXPECT_EQ((*one)[1].repository_key, "111111111111/b");
  EXPECT_EQ((*one)[1].next_attempt_ms, 7000);
  EXPECT_EQ((*one)[1].delay_ms, 4000);

  ASSERT_TRUE(store().clear_webhook_backoff("one", "111111111111/a").is_ok());
  ASSERT_TRUE(store().clear_webhook_backoff("one", "111111111111/a").is_ok()) << "idempotent";
  one = store().webhook_backoffs("one");
  ASSERT_TRUE(one.is_ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].repository_key, "111111111111/b");
  auto two = store().webhook_backoffs("two");
  ASSERT_TRUE(two.is_ok());
  ASSERT_EQ(two->size(), 1u) << "another webhook's schedule for the same repository stays";
  EXPECT_EQ((*two)[0].next_attempt_ms, 9000);

  // A webhook removed from the configuration loses its schedules; the
  // configured ones keep theirs.
  ASSERT_TRUE(store().set_webhook_backoff("gone", {"111111111111/a", 1, 1}).is_ok());
  ASSERT_TRUE(store().set_webhook_backoff("gone", {"111111111111/c", 1, 1}).is_ok());
  auto pruned = store().prune_webhook_backoffs({"one", "two"});
  ASSERT_TRUE(pruned.is_ok()) << pruned.status().to_string();
  EXPECT_EQ(*pruned, 2u);
  EXPECT_TRUE(store().webhook_backoffs("gone")->empty());
  EXPECT_EQ(store().webhook_backoffs("one")->size(), 1u);
  EXPECT_EQ(store().webhook_backoffs("two")->size(), 1u);
  pruned = store().prune_webhook_backoffs({});
  ASSERT_TRUE(pruned.is_ok());
  EXPECT_EQ(*pruned, 2u) << "no webhook configured: every schedule goes";
  EXPECT_TRUE(store().webhook_backoffs("one")->empty());
}

}  // namespace berth::conformance
