// SqliteMetadataStore: the EventOutboxStore role (meta/event_outbox_store.h).
#include "meta/sqlite/sqlite_metadata_store.h"

#include <fmt/format.h>

#include "meta/sqlite/sqlite_metadata_rows.h"
#include "meta/stored_formats.h"

namespace berth {
using sqlite::Connection;
using sqlite::Statement;

namespace sqlite_meta {

Status insert_events(Connection& c, const std::vector<OutboxEvent>& events) {
  for (const OutboxEvent& e : events) {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO event_outbox (id, detail_type, account_id, repository, "
                          "detail, created_at) VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT DO NOTHING"));
    s.bind(1, std::string_view(e.id))
        .bind(2, std::string_view(e.detail_type))
        .bind(3, std::string_view(e.account_id))
        .bind(4, std::string_view(e.repository))
        .bind(5, std::string_view(e.detail))
        .bind(6, e.time_ms);
    BERTH_RETURN_IF_ERROR(s.run());
    if (c.changes() == 0)
      return error(Code::kAlreadyExists, fmt::format("event {} already exists", e.id));
  }
  return Status::ok();
}

}  // namespace sqlite_meta

Status SqliteMetadataStore::append_events(const std::vector<OutboxEvent>& events) {
  if (events.empty()) return Status::ok();
  return pool_->write([&](Connection& c) { return sqlite_meta::insert_events(c, events); });
}

Result<std::vector<OutboxEvent>> SqliteMetadataStore::undelivered_events(std::string_view webhook,
                                                                         int64_t after_sequence,
                                                                         size_t limit) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      lease->prepare(
          "SELECT sequence, id, detail_type, account_id, repository, detail, created_at "
          "FROM event_outbox e WHERE sequence > ?1 AND NOT EXISTS (SELECT 1 FROM event_deliveries "
          "d WHERE d.webhook=?2 AND d.sequence=e.sequence) ORDER BY sequence LIMIT ?3"));
  s.bind(1, after_sequence).bind(2, webhook).bind(3, static_cast<int64_t>(limit));
  return s.collect<OutboxEvent>([](const Statement& row) {
    OutboxEvent e;
    e.sequence = row.int64(0);
    e.id = row.text(1);
    e.detail_type = row.text(2);
    e.account_id = row.text(3);
    e.repository = row.text(4);
    e.detail = row.text(5);
    e.time_ms = row.int64(6);
    return e;
  });
}

Status SqliteMetadataStore::mark_event_delivered(std::string_view webhook, int64_t sequence,
                                                 int64_t when_ms) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto q, c.prepare("SELECT 1 FROM event_outbox WHERE sequence=?1"));
    q.bind(1, sequence);
    BERTH_ASSIGN_OR_RETURN(bool found, q.step());
    if (!found) return error(Code::kNotFound, fmt::format("no event {}", sequence));
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO event_deliveries (webhook, sequence, delivered_at) "
                          "VALUES (?1,?2,?3) ON CONFLICT DO NOTHING"));
    return s.bind(1, webhook).bind(2, sequence).bind(3, when_ms).run();
  });
}

Result<size_t> SqliteMetadataStore::prune_events(const std::vector<std::string>& webhooks,
                                                 int64_t created_before_ms) {
  // One statement; the delivery rows go with their events (ON DELETE CASCADE).
  // ?2 is how many webhooks there are, ?3 their names as a JSON array.
  size_t deleted = 0;
  BERTH_RETURN_IF_ERROR(pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s,
        c.prepare("DELETE FROM event_outbox WHERE sequence < (SELECT MAX(sequence) FROM "
                  "event_outbox) AND (created_at < ?1 OR (?2 > 0 AND (SELECT COUNT(*) FROM "
                  "event_deliveries d WHERE d.sequence=event_outbox.sequence AND d.webhook IN "
                  "(SELECT value FROM json_each(?3))) = ?2))"));
    s.bind(1, created_before_ms)
        .bind(2, static_cast<int64_t>(webhooks.size()))
        .bind(3, std::string_view(stored_formats::strings_to_json(webhooks)));
    BERTH_RETURN_IF_ERROR(s.run());
    deleted = static_cast<size_t>(c.changes());
    return Status::ok();
  }));
  return deleted;
}

Result<std::vector<WebhookBackoff>> SqliteMetadataStore::webhook_backoffs(
    std::string_view webhook) {
  BERTH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  BERTH_ASSIGN_OR_RETURN(auto s, lease->prepare("SELECT repository_key, next_attempt_at, delay_ms "
                                                "FROM webhook_backoffs WHERE webhook=?1 "
                                                "ORDER BY repository_key"));
  s.bind(1, webhook);
  return s.collect<WebhookBackoff>([](const Statement& row) {
    WebhookBackoff b;
    b.repository_key = row.text(0);
    b.next_attempt_ms = row.int64(1);
    b.delay_ms = row.int64(2);
    return b;
  });
}

Status SqliteMetadataStore::set_webhook_backoff(std::string_view webhook,
                                                const WebhookBackoff& backoff) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("INSERT INTO webhook_backoffs (webhook, repository_key, next_attempt_at, "
                          "delay_ms) VALUES (?1,?2,?3,?4) ON CONFLICT (webhook, repository_key) "
                          "DO UPDATE SET next_attempt_at=excluded.next_attempt_at, "
                          "delay_ms=excluded.delay_ms"));
    return s.bind(1, webhook)
        .bind(2, std::string_view(backoff.repository_key))
        .bind(3, backoff.next_attempt_ms)
        .bind(4, backoff.delay_ms)
        .run();
  });
}

Status SqliteMetadataStore::clear_webhook_backoff(std::string_view webhook,
                                                  std::string_view repository_key) {
  return pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(
        auto s, c.prepare("DELETE FROM webhook_backoffs WHERE webhook=?1 AND repository_key=?2"));
    return s.bind(1, webhook).bind(2, repository_key).run();
  });
}

Result<size_t> SqliteMetadataStore::prune_webhook_backoffs(
    const std::vector<std::string>& webhooks) {
  size_t deleted = 0;
  BERTH_RETURN_IF_ERROR(pool_->write([&](Connection& c) -> Status {
    BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("DELETE FROM webhook_backoffs WHERE webhook NOT IN "
                                             "(SELECT value FROM json_each(?1))"));
    s.bind(1, std::string_view(stored_formats::strings_to_json(webhooks)));
    BERTH_RETURN_IF_ERROR(s.run());
    deleted = static_cast<size_t>(c.changes());
    return Status::ok();
  }));
  return deleted;
}

}  // namespace berth
