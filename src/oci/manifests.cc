// /v2/<name>/manifests/<reference>: GET, HEAD, PUT, DELETE.
#include "core/manifest.h"
#include "core/names.h"
#include "oci/oci_api.h"

namespace berth::oci {
namespace http = server::http;
using server::Exchange;
using server::net::awaitable;

awaitable<void> OciApi::get_manifest(Exchange& ex, const Target& t) {
  Status allowed = co_await authorize(ex, action_of(ex, t), t.name);
  if (!allowed.is_ok()) co_return co_await fail(ex, allowed);
  const std::string account = account_of(ex);
  const bool record_pull = ex.method() == http::verb::get;
  // A manifest the cache holds current is answered right here, on the event
  // loop: no store call, so nothing that could block. Everything else, and a
  // GET whose pull is due to be recorded (a write), goes through the offloader.
  Result<ResolvedManifest> found = error(Code::kInternal, "manifest not looked up");
  const std::optional<uint64_t> generation =
      metadata_generation();  // before the read: a racing write makes
                              // the entry stale, never wrong
  std::optional<ResolvedManifest> cached;
  if (generation)
    cached =
        manifests_.get(account, t.name, t.reference, *generation, registry_.clock().now_millis());
  const bool pull_due = cached && record_pull &&
                        (!cached->manifest.last_pulled_at_ms ||
                         registry_.clock().now_millis() - *cached->manifest.last_pulled_at_ms >=
                             Registry::kPullRecordIntervalMs);
  if (cached && !pull_due) {
    found = std::move(*cached);
  } else {
    found = co_await call(
        [&] { return registry_.pull_manifest(account, t.name, t.reference, record_pull); });
    if (found && generation) {
      manifests_.put(account, t.name, t.reference, *found, *generation,
                     registry_.clock().now_millis());
    }
  }
  if (!found) {
    Status s = found.status();
    if (s.code() == Code::kTagInvalid) s = error(Code::kManifestUnknown, s.message());
    co_return co_await fail(ex, s);
  }
  ManifestRecord* m = &found->manifest;
  auto res = response(ex, http::status::ok);
  res.set(http::field::content_type, m->media_type);
  res.set("Docker-Content-Digest", m->digest.str());
  res.set(http::field::etag, "\"" + m->digest.str() + "\"");
  res.body() = std::move(m->bytes);
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::put_manifest(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), true);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto body = co_await ex.read_body(kMaxManifestBytes);
  if (!body) {
    Status s = body.status();
    if (s.code() == Code::kInvalidArgument)
      s = error(Code::kManifestInvalid, s.message());  // a broken chunk
    co_return co_await fail(ex, s);
  }
  const std::string_view content_type = ex.header(http::field::content_type);
  auto put = co_await call(
      [&] { return registry_.put_manifest(*repo, t.reference, *body, content_type); });
  if (!put) {
    Status s = put.status();
    // The spec reports a missing child manifest like a missing blob: the
    // pushed document refers to content the repository lacks.
    if (s.code() == Code::kManifestUnknown) s = error(Code::kManifestBlobUnknown, s.message());
    co_return co_await fail(ex, s);
  }
  ex.add_log_field("image_digest", put->digest.str());
  auto res = response(ex, http::status::created);
  res.set(http::field::location, location("/v2/" + repo->name + "/manifests/" + put->digest.str()));
  res.set("Docker-Content-Digest", put->digest.str());
  if (put->subject) res.set("OCI-Subject", put->subject->str());
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::delete_manifest(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  Status s = co_await call([&] { return registry_.delete_manifest(*repo, t.reference); });
  if (s.code() == Code::kTagInvalid) s = error(Code::kManifestUnknown, s.message());
  if (!s.is_ok()) co_return co_await fail(ex, s);
  co_await ex.send(response(ex, http::status::accepted));
}

}  // namespace berth::oci
