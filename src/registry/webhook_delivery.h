// Delivers the event outbox (meta/event_outbox_store.h) to webhooks: one
// HTTP POST per event and webhook, its body the EventBridge-shaped event
// (core/events.h), signed with HMAC-SHA256 under the webhook's secret.
//
// Headers: Content-Type: application/json, X-Berth-Signature:
// sha256=<hex of HMAC-SHA256(secret, body)>, X-Berth-Event-Id: the event id
// (the same on every attempt: receivers deduplicate by it),
// X-Berth-Event-Type: the detail-type, X-Berth-Timestamp: the attempt's time
// in Unix seconds.
//
// Guarantees: at least once (an event is marked delivered for a webhook
// only after a 2xx answer; a crash before the mark delivers it again), in
// order per repository and webhook (event n+1 of a repository is not sent
// before n was acknowledged: a failed event holds back its repository's later
// events, never other repositories'). A failed delivery is retried after an
// exponential backoff per webhook and repository: first_retry, doubling, at
// most retry_cap. The schedule (next attempt time and current delay) is kept
// in the store (EventOutboxStore::set_webhook_backoff), read at the start of
// each webhook's pass, so a restarted berth, or another node on the same
// database, waits for the stored time and goes on doubling from the stored
// delay. A store error while recording a failure ends the pass before the
// schedule is saved; the next pass tries again. An event a webhook's filters exclude is marked
// settled for it without a request.
//
// Thread-safety: run_once() from one thread at a time (the scheduler's).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/records.h"
#include "core/status.h"
#include "meta/event_outbox_store.h"

namespace berth {

struct WebhookTarget {
  std::string name;                              // the key deliveries are recorded under; unique
  std::string url;                               // http://host[:port]/path
  std::string secret;                            // the HMAC key; never logged
  std::vector<std::string> accounts;             // empty: every account
  std::vector<std::string> repository_prefixes;  // empty: every repository
  std::vector<std::string> event_types;          // detail-types; empty: every type
};

struct DeliveryOptions {
  std::string region = "us-east-1";
  std::chrono::milliseconds first_retry{1000};
  std::chrono::milliseconds retry_cap{5 * 60 * 1000};
  std::chrono::seconds timeout{10};  // connect, send and answer, each
  size_t batch = 500;                // events read per webhook and pass
};

// Whether `target`'s filters let `event` through. Pure.
bool webhook_wants(const WebhookTarget& target, const OutboxEvent& event);

// The X-Berth-Signature value for `body` under `secret`. Pure.
std::string webhook_signature(std::string_view secret, std::string_view body);

// kInvalidArgument naming the problem when `url` is not http://host[:port]/path.
Status check_webhook_url(const std::string& url);

class WebhookDelivery {
 public:
  WebhookDelivery(EventOutboxStore& outbox, std::vector<WebhookTarget> targets,
                  DeliveryOptions options, const Clock& clock);

  // One pass: for each webhook, sends what is due, oldest first. Returns how
  // many events were acknowledged; store errors end the pass (retried at the
  // next one).
  Result<size_t> run_once();

 private:
  // POSTs `body`; ok on a 2xx answer, the reason otherwise.
  Status post(const WebhookTarget& target, const OutboxEvent& event, const std::string& body);

  EventOutboxStore& outbox_;
  std::vector<WebhookTarget> targets_;
  DeliveryOptions options_;
  const Clock& clock_;
  // Per webhook: every event up to this sequence is settled, so a pass reads
  // only above it. Starts at 0 (a restart reads the outbox once from the start).
  // Relies on sequences following commit order (no event becomes visible
  // below one already seen): true of SQLite's single writer; a store with
  // concurrent writers must serialize its appends to keep it.
  std::map<std::string, int64_t> settled_below_;
};

}  // namespace berth
