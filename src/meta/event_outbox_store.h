// EventOutboxStore: the durable outbox of events berth reports to webhooks
// (README, "Events"). A role of MetadataStore (meta/metadata_store.h); every
// method is thread-safe and atomic, failures are values as described there.
//
// Events that report a store change are written by that change's own
// transaction (PutManifestRequest::events, DeletionEvents of the deletes and
// expiries, ScanOutcome::events), so an acknowledged push, delete or expiry
// always has its event and a failed one never does. Delivery is at least once:
// an event stays undelivered for a webhook until mark_event_delivered() for
// that webhook, which the deliverer calls only after the receiver answered
// 2xx; a crash in between delivers it again, with the same id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace berth {

// A webhook's retry schedule for one repository (the unit deliveries are
// ordered and held back in): no attempt before `next_attempt_ms`; the next
// failure doubles `delay_ms` (up to the deliverer's cap).
struct WebhookBackoff {
  std::string repository_key;  // "<account>/<repository>"
  int64_t next_attempt_ms = 0;
  int64_t delay_ms = 0;
};

class EventOutboxStore {
 public:
  virtual ~EventOutboxStore() = default;

  // Appends events that report no store change of their own (a failed push)
  // in one transaction; each gets the next sequence number. kAlreadyExists
  // (nothing appended) when an id is taken.
  virtual Status append_events(const std::vector<OutboxEvent>& events) = 0;
  // Events with a sequence above `after_sequence` that `webhook` has not had,
  // oldest (lowest sequence) first, at most `limit`; their sequence is filled in.
  virtual Result<std::vector<OutboxEvent>> undelivered_events(std::string_view webhook,
                                                              int64_t after_sequence,
                                                              size_t limit) = 0;
  // Records that `webhook` acknowledged event `sequence`. Idempotent;
  // kNotFound when there is no such event.
  virtual Status mark_event_delivered(std::string_view webhook, int64_t sequence,
                                      int64_t when_ms) = 0;
  // Deletes, in one transaction, exactly the events (with their delivery
  // rows) that are not the one with the highest sequence and either
  //  - were created before `created_before_ms` (time_ms), delivered or not, or
  //  - `webhooks` is not empty and every webhook it names has a delivery row
  //    for them (mark_event_delivered: acknowledged, or settled by a filter).
  // Deliveries by webhooks not in `webhooks` do not count. The newest event is
  // always kept so that no sequence number is ever handed out twice (SQLite
  // would reuse the highest one), which the deliverer's floor relies on.
  // Returns how many events were deleted.
  virtual Result<size_t> prune_events(const std::vector<std::string>& webhooks,
                                      int64_t created_before_ms) = 0;

  // Retry schedules, kept in the store so that a restarted node (or another
  // node on the same database) continues them rather than starting over.
  // The schedules of `webhook`, by repository key (ascending).
  virtual Result<std::vector<WebhookBackoff>> webhook_backoffs(std::string_view webhook) = 0;
  // Inserts or replaces `webhook`'s schedule for backoff.repository_key.
  virtual Status set_webhook_backoff(std::string_view webhook, const WebhookBackoff& backoff) = 0;
  // Removes `webhook`'s schedule for `repository_key`; ok when there is none.
  virtual Status clear_webhook_backoff(std::string_view webhook,
                                       std::string_view repository_key) = 0;
  // Removes, in one transaction, the schedules of every webhook not named in
  // `webhooks` (those no longer configured); all of them when it is empty.
  // Returns how many were removed.
  virtual Result<size_t> prune_webhook_backoffs(const std::vector<std::string>& webhooks) = 0;
};

}  // namespace berth
