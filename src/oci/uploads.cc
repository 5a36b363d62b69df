// /v2/<name>/blobs/uploads/[<id>]: starting (with monolithic and mount forms),
// chunked PATCH, status, finishing PUT and cancel.
#include <fmt/format.h>

#include <charconv>

#include "core/byte_range.h"
#include "oci/errors.h"
#include "oci/oci_api.h"

namespace berth::oci {
namespace http = server::http;
using server::Exchange;
using server::net::awaitable;

namespace {

std::optional<std::string> query_param(const Exchange& ex, std::string_view key) {
  auto params = ex.url().params();
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  return std::string((*it).value);
}

std::string range_header(uint64_t size) {
  // The spec's inclusive "0-<last>"; an empty upload reports "0-0".
  return fmt::format("0-{}", size == 0 ? 0 : size - 1);
}

// The declared Content-Length, if any.
std::optional<uint64_t> content_length(const Exchange& ex) {
  auto v = ex.header(http::field::content_length);
  if (v.empty()) return std::nullopt;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

// Who streams the upload, for the per-account and per-key upload caps.
Uploader uploader_of(const Exchange& ex) {
  return Uploader{ex.principal().account_id, ex.principal().access_key_id};
}

// Streams the request body into `append`.
awaitable<Status> stream_into(Exchange& ex, UploadAppend& append) {
  auto n = co_await ex.stream_body(
      [&append](const char* data, size_t size) { return append.write(data, size); });
  // A body whose framing is broken (a bad chunk) breaks this upload request.
  if (n.status().code() == Code::kInvalidArgument)
    co_return error(Code::kBlobUploadInvalid, n.status().message());
  co_return n.status();
}

}  // namespace

awaitable<void> OciApi::upload_progress(Exchange& ex, const Target& t, http::status status,
                                        const UploadStatus& upload) {
  auto res = response(ex, status);
  res.set(http::field::location, location("/v2/" + t.name + "/blobs/uploads/" + upload.id));
  res.set(http::field::range, range_header(upload.size));
  res.set("Docker-Upload-UUID", upload.id);
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::release(std::unique_ptr<UploadAppend>& append) {
  // Dropping an append gives back its lease and slot: store calls.
  (void)co_await call([&] {
    append.reset();
    return Status::ok();
  });
}

awaitable<void> OciApi::refuse_range(Exchange& ex, const Target& t, const RepositoryRecord& repo,
                                     server::Response res) {
  auto current = co_await call([&] { return registry_.upload_status(repo, t.reference); });
  if (!current) co_return co_await fail(ex, current.status());
  res.set("Docker-Distribution-API-Version", kApiVersion);
  res.set(http::field::range, range_header(current->size));
  res.set(http::field::location, location("/v2/" + t.name + "/blobs/uploads/" + current->id));
  res.set("Docker-Upload-UUID", current->id);
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::start_upload(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), true);
  if (!repo) co_return co_await fail(ex, repo.status());

  if (auto mount = query_param(ex, "mount")) {
    auto digest = Digest::parse(*mount);
    if (!digest) co_return co_await fail(ex, digest.status());
    std::optional<RepositoryRecord> from;
    bool mountable = true;
    if (auto from_name = query_param(ex, "from")) {
      // The caller must be allowed to read the source; otherwise it simply
      // gets an upload session, as if the blob were not there.
      auto src =
          co_await repository_for(ex, *from_name, required_action(Route::kBlob, "GET"), false);
      if (src) {
        from = *src;
      } else {
        mountable = false;
      }
    }
    if (mountable) {
      const std::string source_ip = auth::source_ip_of(ex.remote_address());
      const std::string_view read_action = required_action(Route::kBlob, "GET");
      auto may_read = [&](const RepositoryRecord& r) {
        return access_
            .check(ex.principal(),
                   auth::AccessRequest{read_action, r.account_id, r.name, source_ip})
            .is_ok();
      };
      auto mounted =
          co_await call([&] { return registry_.mount_blob(*repo, *digest, from, may_read); });
      if (mounted) co_return co_await ex.send(blob_created(ex, repo->name, *digest));
      // Over a storage quota an upload could not finish either: say so now.
      if (mounted.status().code() == Code::kLimitExceeded)
        co_return co_await fail(ex, mounted.status());
    }
    // Fall through: open an ordinary upload session.
  }

  std::optional<Digest> digest;
  if (auto d = query_param(ex, "digest")) {
    auto parsed = Digest::parse(*d);
    if (!parsed) co_return co_await fail(ex, parsed.status());
    digest = *parsed;
  }
  if (digest) {
    // Monolithic upload: the body is the whole blob.
    const Uploader uploader = uploader_of(ex);
    auto put = co_await call([&] { return registry_.begin_blob_put(*repo, uploader); });
    if (!put) co_return co_await fail(ex, put.status());
    Status s = co_await stream_into(ex, **put);
    if (s.is_ok()) {
      auto declared = content_length(ex);
      if (declared && *declared != (*put)->written()) {
        s = error(Code::kSizeInvalid, "body length does not match Content-Length");
      }
    }
    if (!s.is_ok()) {
      (void)co_await call([&] {
        registry_.cancel_blob_put(std::move(*put));
        return Status::ok();
      });
      co_return co_await fail(ex, s);
    }
    auto blob =
        co_await call([&] { return registry_.finish_blob_put(*repo, std::move(*put), *digest); });
    if (!blob) co_return co_await fail(ex, blob.status());
    co_return co_await ex.send(blob_created(ex, repo->name, *digest));
  }

  auto upload = co_await call([&] { return registry_.start_upload(*repo); });
  if (!upload) co_return co_await fail(ex, upload.status());
  if (ex.has_body()) {
    const Uploader uploader = uploader_of(ex);
    auto append = co_await call([&] {
      return registry_.begin_append(*repo, upload->id, std::nullopt, /*fresh=*/true, uploader);
    });
    if (!append) co_return co_await fail(ex, append.status());
    Status s = co_await stream_into(ex, **append);
    if (s.is_ok()) s = co_await call([&] { return (*append)->close(); });
    upload->size = (*append)->size();
    co_await release(*append);
    if (!s.is_ok()) co_return co_await fail(ex, s);
  }
  co_await upload_progress(ex, t, http::status::accepted, *upload);
}

awaitable<void> OciApi::upload_status(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto upload = co_await call([&] { return registry_.upload_status(*repo, t.reference); });
  if (!upload) co_return co_await fail(ex, upload.status());
  co_await upload_progress(ex, t, http::status::no_content, *upload);
}

awaitable<void> OciApi::patch_upload(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  std::optional<ByteRange> range;
  if (auto cr = ex.header(http::field::content_range); !cr.empty()) {
    auto parsed = parse_content_range(cr);
    if (!parsed) {
      co_return co_await refuse_range(
          ex, t, *repo,
          error_response(wire_error(parsed.status()), parsed.status().message(),
                         ex.request().version()));
    }
    range = *parsed;
    auto declared = content_length(ex);
    if (declared && *declared != range->length()) {
      co_return co_await fail(
          ex, error(Code::kSizeInvalid, "Content-Range and Content-Length disagree"));
    }
  }
  const Uploader uploader = uploader_of(ex);
  auto append = co_await call(
      [&] { return registry_.begin_append(*repo, t.reference, range, /*fresh=*/false, uploader); });
  if (!append) {
    if (append.status().code() == Code::kRangeInvalid) {
      co_return co_await refuse_range(ex, t, *repo,
                                      error_response(append.status(), ex.request().version()));
    }
    co_return co_await fail(ex, append.status());
  }
  Status s = co_await stream_into(ex, **append);
  if (s.is_ok() && range && (*append)->written() != range->length()) {
    s = error(Code::kSizeInvalid, "chunk length does not match Content-Range");
  }
  if (s.is_ok()) s = co_await call([&] { return (*append)->close(); });
  UploadStatus progress{t.reference, (*append)->size()};
  co_await release(*append);  // release the upload before answering
  if (!s.is_ok()) co_return co_await fail(ex, s);
  co_await upload_progress(ex, t, http::status::accepted, progress);
}

awaitable<void> OciApi::finish_upload(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto d = query_param(ex, "digest");
  if (!d)
    co_return co_await fail(ex,
                            error(Code::kDigestInvalid, "the digest query parameter is required"));
  auto digest = Digest::parse(*d);
  if (!digest) co_return co_await fail(ex, digest.status());
  Result<BlobLink> blob = error(Code::kInternal, "upload not finished");
  if (ex.has_body()) {
    std::optional<ByteRange> range;
    if (auto cr = ex.header(http::field::content_range); !cr.empty()) {
      auto parsed = parse_content_range(cr);
      if (!parsed) co_return co_await fail(ex, parsed.status());
      range = *parsed;
    }
    const Uploader uploader = uploader_of(ex);
    auto append = co_await call([&] {
      return registry_.begin_append(*repo, t.reference, range, /*fresh=*/false, uploader);
    });
    if (!append) co_return co_await fail(ex, append.status());
    Status s = co_await stream_into(ex, **append);
    if (!s.is_ok()) {
      co_await release(*append);
      co_return co_await fail(ex, s);
    }
    blob =
        co_await call([&] { return registry_.finish_upload(*repo, std::move(*append), *digest); });
  } else {
    blob = co_await call([&] { return registry_.finish_upload(*repo, t.reference, *digest); });
  }
  if (!blob) co_return co_await fail(ex, blob.status());
  co_await ex.send(blob_created(ex, repo->name, *digest));
}

awaitable<void> OciApi::cancel_upload(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  Status s = co_await call([&] { return registry_.cancel_upload(*repo, t.reference); });
  if (!s.is_ok()) co_return co_await fail(ex, s);
  co_await ex.send(response(ex, http::status::no_content));
}

}  // namespace berth::oci
