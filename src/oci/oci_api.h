// The OCI Distribution API v1.1 (/v2/...). One handler per resource, in one
// file per resource; routing in routes.cc, errors in errors.cc. Handlers speak
// HTTP and the Registry application layer, nothing below it, and call the
// Registry only through the Offloader (server/offload.h), so that its
// blocking store calls never run on an event-loop thread. The one exception:
// a manifest pull the manifest cache can answer (registry/manifest_cache.h),
// which makes no store call and so is answered on the event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "auth/access_control.h"
#include "oci/routes.h"
#include "registry/manifest_cache.h"
#include "registry/registry.h"
#include "server/exchange.h"
#include "server/offload.h"

namespace berth::oci {

// The Docker-Distribution-API-Version every /v2 answer carries.
inline constexpr std::string_view kApiVersion = "registry/2.0";

struct OciOptions {
  std::string public_url;       // prefix for Location headers; empty: relative
  std::string default_account;  // the account of unauthenticated requests
  size_t catalog_default_page = 1000;
  size_t max_page = 10000;
  // The metadata store's write generation: a number, read without I/O, that
  // changes whenever a write commits through the store. When set, pulled
  // manifests are kept in a ManifestCache and served from it, with no store
  // call and no trip to a worker, while the number is unchanged; unset (a
  // store other nodes write too), every pull asks the store.
  std::function<std::optional<uint64_t>()> metadata_generation;
};

class OciApi {
 public:
  OciApi(Registry& registry, const auth::AccessControl& access, server::Offloader& offload,
         OciOptions options)
      : registry_(registry), access_(access), offload_(offload), options_(std::move(options)) {}

  // Serves one /v2 request. Never throws.
  server::net::awaitable<void> handle(server::Exchange& ex);

 private:
  using Awaitable = server::net::awaitable<void>;

  Awaitable base(server::Exchange& ex);
  Awaitable catalog(server::Exchange& ex);
  Awaitable tags(server::Exchange& ex, const Target& t);
  Awaitable get_manifest(server::Exchange& ex, const Target& t);
  Awaitable put_manifest(server::Exchange& ex, const Target& t);
  Awaitable delete_manifest(server::Exchange& ex, const Target& t);
  Awaitable get_blob(server::Exchange& ex, const Target& t);
  Awaitable delete_blob(server::Exchange& ex, const Target& t);
  Awaitable start_upload(server::Exchange& ex, const Target& t);
  Awaitable upload_status(server::Exchange& ex, const Target& t);
  Awaitable patch_upload(server::Exchange& ex, const Target& t);
  Awaitable finish_upload(server::Exchange& ex, const Target& t);
  Awaitable cancel_upload(server::Exchange& ex, const Target& t);
  Awaitable referrers(server::Exchange& ex, const Target& t);

  // Helpers shared by the resource files.
  // The account a request addresses: the one a host name of the form
  // "<twelve digits>.<...>" names (as ECR's registry host names do), else
  // the caller's own, else default_account.
  std::string account_of(const server::Exchange& ex) const;
  static std::string_view action_of(const server::Exchange& ex, const Target& t);
  // The access decision for `action` on `repository` of account_of(ex), on a
  // worker (policies are read from the stores).
  server::net::awaitable<Status> authorize(const server::Exchange& ex, std::string_view action,
                                           std::string_view repository);
  server::Response response(const server::Exchange& ex, server::http::status status) const;
  // 201 Created for a blob now in `repository`, with its Location and digest.
  server::Response blob_created(const server::Exchange& ex, std::string_view repository,
                                const Digest& digest) const;
  Awaitable fail(server::Exchange& ex, Status status);
  std::string location(std::string_view path) const;
  Awaitable upload_progress(server::Exchange& ex, const Target& t, server::http::status status,
                            const UploadStatus& upload);
  // The repository for a request: authorizes `action`, then looks it up
  // (on a worker; creates it when `for_push` and options allow).
  server::net::awaitable<Result<RepositoryRecord>> repository_for(const server::Exchange& ex,
                                                                  std::string_view name,
                                                                  std::string_view action,
                                                                  bool for_push);
  // Drops an upload append on a worker (its destructor gives back a lease).
  server::net::awaitable<void> release(std::unique_ptr<UploadAppend>& append);
  // 416 for a chunk that does not continue the upload: `res` with the
  // upload's current Range, Location and id.
  Awaitable refuse_range(server::Exchange& ex, const Target& t, const RepositoryRecord& repo,
                         server::Response res);
  // Runs a registry call on the offload pool (see server/offload.h).
  template <typename F>
  server::net::awaitable<std::invoke_result_t<F&>> call(F fn) {
    return offload_.run(std::move(fn));
  }

  // The generation of the metadata store now, when it has one.
  std::optional<uint64_t> metadata_generation() const {
    return options_.metadata_generation ? options_.metadata_generation() : std::nullopt;
  }

  Registry& registry_;
  const auth::AccessControl& access_;
  server::Offloader& offload_;
  OciOptions options_;
  ManifestCache manifests_;
};

}  // namespace berth::oci
