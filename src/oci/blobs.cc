// /v2/<name>/blobs/<digest>: GET (with Range), HEAD, DELETE.
#include <fmt/format.h>

#include "core/byte_range.h"
#include "oci/oci_api.h"

namespace berth::oci {
namespace http = server::http;
using server::Exchange;
using server::net::awaitable;

awaitable<void> OciApi::get_blob(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto digest = Digest::parse(t.reference);
  if (!digest) co_return co_await fail(ex, digest.status());

  // A store that serves blobs itself (S3) gets the GET by redirect.
  if (ex.method() == http::verb::get) {
    auto redirect = co_await call([&] { return registry_.blob_redirect_url(*repo, *digest); });
    if (!redirect) co_return co_await fail(ex, redirect.status());
    if (*redirect) {
      auto res = response(ex, http::status::temporary_redirect);
      res.set("Docker-Content-Digest", digest->str());
      res.set(http::field::location, **redirect);
      co_return co_await ex.send(std::move(res));
    }
  }
  auto blob = co_await call([&] { return registry_.open_blob(*repo, *digest); });
  if (!blob) co_return co_await fail(ex, blob.status());
  const uint64_t size = blob->reader->size();

  server::ResponseHeader head_fields;
  head_fields.set("Docker-Distribution-API-Version", kApiVersion);
  head_fields.set(http::field::content_type, "application/octet-stream");
  head_fields.set("Docker-Content-Digest", digest->str());
  head_fields.set(http::field::etag, "\"" + digest->str() + "\"");
  head_fields.set(http::field::accept_ranges, "bytes");
  head_fields.set(http::field::cache_control, "max-age=31536000");

  RangeRequest range = interpret_range(ex.header(http::field::range), size);
  if (range.kind == RangeRequest::Kind::kUnsatisfiable) {
    auto res = response(ex, http::status::range_not_satisfiable);
    res.set(http::field::content_range, fmt::format("bytes */{}", size));
    co_return co_await ex.send(std::move(res));
  }
  uint64_t offset = 0;
  uint64_t length = size;
  head_fields.result(http::status::ok);
  if (range.kind == RangeRequest::Kind::kPartial) {
    head_fields.result(http::status::partial_content);
    head_fields.set(http::field::content_range,
                    fmt::format("bytes {}-{}/{}", range.range.first, range.range.last, size));
    offset = range.range.first;
    length = range.range.length();
  }
  co_await ex.send_blob(std::move(head_fields), *blob->reader, offset, length);
}

awaitable<void> OciApi::delete_blob(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto digest = Digest::parse(t.reference);
  if (!digest) co_return co_await fail(ex, digest.status());
  Status s = co_await call([&] { return registry_.delete_blob(*repo, *digest); });
  if (!s.is_ok()) co_return co_await fail(ex, s);
  co_await ex.send(response(ex, http::status::accepted));
}

}  // namespace berth::oci
