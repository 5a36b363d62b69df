#include "registry/webhook_delivery.h"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "core/digest.h"
#include "core/events.h"
#include "log/log.h"

namespace berth {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

struct ParsedUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};

Result<ParsedUrl> parse_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    return error(Code::kInvalidArgument,
                 fmt::format("webhook url '{}' must start with http://", url));
  }
  std::string rest = url.substr(kScheme.size());
  ParsedUrl out;
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.target = rest.substr(slash);
  if (authority.find('@') != std::string::npos) {
    return error(Code::kInvalidArgument,
                 "a webhook url must not carry credentials; use the secret");
  }
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    out.port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), p);
    if (ec != std::errc() || ptr != out.port.data() + out.port.size() || p == 0 || p > 65535) {
      return error(Code::kInvalidArgument, fmt::format("webhook url '{}': invalid port", url));
    }
  }
  if (authority.size() >= 2 && authority.front() == '[' && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);
  }
  if (authority.empty())
    return error(Code::kInvalidArgument, fmt::format("webhook url '{}' names no host", url));
  out.host = authority;
  return out;
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool webhook_wants(const WebhookTarget& t, const OutboxEvent& e) {
  if (!listed(t.accounts, e.account_id) || !listed(t.event_types, e.detail_type)) return false;
  if (t.repository_prefixes.empty()) return true;
  return std::any_of(t.repository_prefixes.begin(), t.repository_prefixes.end(),
                     [&](const std::string& p) { return e.repository.rfind(p, 0) == 0; });
}

std::string webhook_signature(std::string_view secret, std::string_view body) {
  auto mac = hmac_sha256(secret.data(), secret.size(), body);
  return "sha256=" + to_hex(mac.data(), mac.size());
}

Status check_webhook_url(const std::string& url) {
  return parse_url(url).status();
}

WebhookDelivery::WebhookDelivery(EventOutboxStore& outbox, std::vector<WebhookTarget> targets,
                                 DeliveryOptions options, const Clock& clock)
    : outbox_(outbox), targets_(std::move(targets)), options_(std::move(options)), clock_(clock) {}

Status WebhookDelivery::post(const WebhookTarget& target, const OutboxEvent& event,
                             const std::string& body) {
  BERTH_ASSIGN_OR_RETURN(ParsedUrl url, parse_url(target.url));
  try {
    net::io_context io;
    net::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(options_.timeout);
    stream.connect(resolver.resolve(url.host, url.port));
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "berth-webhooks");
    req.set(http::field::content_type, "application/json");
    req.set("X-Berth-Signature", webhook_signature(target.secret, body));
    req.set("X-Berth-Event-Id", event.id);
    req.set("X-Berth-Event-Type", event.detail_type);
    req.set("X-Berth-Timestamp", std::to_string(clock_.now_seconds()));
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(options_.timeout);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    stream.expires_after(options_.timeout);
    http::read(stream, buffer, parser);
    beast::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    const unsigned status = parser.get().result_int();
    if (status / 100 != 2)
      return error(Code::kUnavailable, fmt::format("the receiver answered {}", status));
    return Status::ok();
  } catch (const std::exception& e) {
    return error(Code::kUnavailable, e.what());
  }
}

Result<size_t> WebhookDelivery::run_once() {
  size_t delivered = 0;
  for (const WebhookTarget& target : targets_) {
    int64_t& floor = settled_below_[target.name];
    BERTH_ASSIGN_OR_RETURN(auto events,
                           outbox_.undelivered_events(target.name, floor, options_.batch));
    // The retry schedules by repository key, as stored (by this node or another).
    std::map<std::string, WebhookBackoff> backoff;
    {
      BERTH_ASSIGN_OR_RETURN(auto saved, outbox_.webhook_backoffs(target.name));
      for (WebhookBackoff& b : saved) {
        std::string key = b.repository_key;
        backoff.emplace(std::move(key), std::move(b));
      }
    }
    std::set<std::string> held;  // repositories whose earlier event is not acknowledged
    bool all_settled = true;     // every event so far in this pass is settled: the floor may rise
    for (const OutboxEvent& e : events) {
      const std::string repo_key = e.account_id + "/" + e.repository;
      const int64_t now = clock_.now_millis();
      if (!webhook_wants(target, e)) {
        BERTH_RETURN_IF_ERROR(outbox_.mark_event_delivered(target.name, e.sequence, now));
        if (all_settled) floor = e.sequence;
        continue;
      }
      if (held.count(repo_key) > 0) {
        all_settled = false;
        continue;
      }
      auto scheduled = backoff.find(repo_key);
      if (scheduled != backoff.end() && scheduled->second.next_attempt_ms > now) {
        held.insert(repo_key);
        all_settled = false;
        continue;
      }
      const std::string body = render_event(e, options_.region);
      if (Status s = post(target, e, body); !s.is_ok()) {
        WebhookBackoff& b = backoff[repo_key];
        b.repository_key = repo_key;
        b.delay_ms = b.delay_ms <= 0
                         ? options_.first_retry.count()
                         : std::min<int64_t>(b.delay_ms * 2, options_.retry_cap.count());
        b.next_attempt_ms = clock_.now_millis() + b.delay_ms;
        held.insert(repo_key);
        all_settled = false;
        log::warn("webhook delivery failed; will retry", {{"webhook", target.name},
                                                          {"event_id", e.id},
                                                          {"repository", e.repository},
                                                          {"retry_in_ms", b.delay_ms},
                                                          {"error", s.message()}});
        BERTH_RETURN_IF_ERROR(outbox_.set_webhook_backoff(target.name, b));
        continue;
      }
      BERTH_RETURN_IF_ERROR(
          outbox_.mark_event_delivered(target.name, e.sequence, clock_.now_millis()));
      if (backoff.erase(repo_key) > 0)
        BERTH_RETURN_IF_ERROR(outbox_.clear_webhook_backoff(target.name, repo_key));
      if (all_settled) floor = e.sequence;
      ++delivered;
    }
  }
  return delivered;
}

}  // namespace berth
