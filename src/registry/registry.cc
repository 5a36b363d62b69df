#include "registry/registry.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <boost/json.hpp>

#include <thread>

#include "blob/blob_store.h"
#include "blob/space_reserve.h"
#include "core/events.h"
#include "core/names.h"
#include "core/tag_mutability.h"
#include "log/log.h"
#include "meta/metadata_store.h"

namespace berth {

Registry::Registry(MetadataStore& meta, BlobStore& blobs, const Clock& clock,
                   RegistryOptions options)
    : meta_(meta),
      blobs_(blobs),
      clock_(clock),
      options_(options),
      hashing_pool_(options.hashing_threads, 4 * std::max<size_t>(options.hashing_threads, 1)) {}

Status run_releasing_reserve(SpaceReserve* reserve, std::string_view what,
                             const std::function<Status()>& op) {
  Status st = op();
  if (st.code() != Code::kStorageFull || reserve == nullptr || !reserve->release()) return st;
  log::warn("the disk is full: released the space reserve so that this can proceed",
            {{"operation", what}, {"cause", st.message()}});
  return op();
}

// --- repositories ------------------------------------------------------------------

void Registry::test_delay(std::string_view name) const {
  if (options_.test_delay_repository.empty() || name != options_.test_delay_repository) return;
  std::this_thread::sleep_for(options_.test_delay);
}

Result<RepositoryRecord> Registry::repository(std::string_view account, std::string_view name) {
  test_delay(name);
  BERTH_RETURN_IF_ERROR(validate_repository_name(name));
  return meta_.get_repository(account, name);
}

Result<RepositoryRecord> Registry::repository_for_push(std::string_view account,
                                                       std::string_view name) {
  test_delay(name);
  BERTH_RETURN_IF_ERROR(validate_repository_name(name));
  auto existing = meta_.get_repository(account, name);
  if (existing.is_ok() || existing.status().code() != Code::kNameUnknown) return existing;
  if (!options_.create_repository_on_push) {
    return error(Code::kNameUnknown,
                 fmt::format("repository '{}' does not exist in account {}; create it with "
                             "`aws ecr create-repository --repository-name {}`",
                             name, account, name));
  }
  auto created = meta_.ensure_repository(account, name, clock_.now_seconds());
  if (created) {
    log::info("created a repository on push",
              {{"account", std::string(account)}, {"repository", std::string(name)}});
  }
  return created;
}

// --- blobs ---------------------------------------------------------------------------------

Status Registry::check_stored(const BlobLink& link, std::optional<uint64_t> stored_size) {
  if (stored_size && *stored_size == static_cast<uint64_t>(link.size)) return Status::ok();
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = reported_broken_.insert(link.digest.str()).second;
  }
  if (first) {
    boost::json::object f{{"digest", link.digest.str()}, {"recorded_size", link.size}};
    if (stored_size) f["stored_size"] = *stored_size;
    log::error(
        stored_size
            ? "a stored blob's size differs from the recorded size; it is treated as missing "
              "until pushed again (run berth scrub)"
            : "a linked blob's file is missing; it is treated as missing until pushed again "
              "(run berth scrub)",
        std::move(f));
  }
  return error(Code::kBlobUnknown, "blob unknown to registry");
}

Result<BlobLink> Registry::stat_blob(const RepositoryRecord& repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto link, meta_.get_blob_link(repo.id, digest));
  auto stored = blobs_.stat(digest);
  if (!stored && stored.status().code() != Code::kBlobUnknown) return stored.take_status();
  BERTH_RETURN_IF_ERROR(
      check_stored(link, stored ? std::optional<uint64_t>(*stored) : std::nullopt));
  return link;
}

Result<OpenedBlob> Registry::open_blob(const RepositoryRecord& repo, const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto link, meta_.get_blob_link(repo.id, digest));
  auto reader = blobs_.open(digest);
  if (!reader) {
    if (reader.status().code() != Code::kBlobUnknown) return reader.take_status();
    BERTH_RETURN_IF_ERROR(check_stored(link, std::nullopt));
  }
  BERTH_RETURN_IF_ERROR(check_stored(link, (*reader)->size()));
  return OpenedBlob{link, std::move(reader).value()};
}

Result<std::optional<std::string>> Registry::blob_redirect_url(const RepositoryRecord& repo,
                                                               const Digest& digest,
                                                               std::optional<int64_t> ttl_seconds) {
  const std::chrono::seconds ttl(ttl_seconds.value_or(options_.blob_redirect_seconds));
  BERTH_ASSIGN_OR_RETURN(auto url, blobs_.redirect_url(digest, ttl));
  if (!url) return url;
  BERTH_RETURN_IF_ERROR(stat_blob(repo, digest).status());
  return url;
}

Status Registry::delete_blob(const RepositoryRecord& repo, const Digest& digest) {
  // Only the link goes; the bytes are reclaimed by garbage collection once no
  // repository links them.
  return run_releasing_reserve(options_.space_reserve, "delete blob",
                               [&] { return meta_.unlink_blob(repo.id, digest); });
}

// --- manifests -----------------------------------------------------------------------------

namespace {}  // namespace

TagMutabilityConfig tag_mutability_of(const RepositoryRecord& repo) {
  TagMutabilityConfig config;
  auto mode = parse_tag_mutability(repo.tag_mutability);
  config.mode = mode ? *mode : TagMutability::kMutable;
  config.exclusion_filters = repo.tag_mutability_exclusions;
  return config;
}

namespace {

bool tag_is_immutable(const RepositoryRecord& repo, std::string_view tag) {
  return is_tag_immutable(tag_mutability_of(repo), tag);
}

}  // namespace

Result<PutManifestResult> Registry::put_manifest(const RepositoryRecord& repo,
                                                 std::string_view reference, std::string_view bytes,
                                                 std::string_view content_type,
                                                 bool media_type_given, bool refuse_existing) {
  return store_manifest(repo, reference, bytes, content_type, media_type_given, refuse_existing,
                        /*system_write=*/false);
}

Result<PutManifestResult> Registry::store_manifest(
    const RepositoryRecord& repo, std::string_view reference, std::string_view bytes,
    std::string_view content_type, bool media_type_given, bool refuse_existing, bool system_write) {
  std::optional<std::string> tag;
  Digest digest;
  if (reference_is_digest(reference)) {
    BERTH_ASSIGN_OR_RETURN(Digest wanted, Digest::parse(reference));
    digest = Digest::of(bytes, wanted.algorithm());
    if (!(digest == wanted)) {
      return error(Code::kDigestInvalid,
                   fmt::format("manifest digest {} does not match the reference {}", digest.str(),
                               wanted.str()));
    }
  } else {
    BERTH_RETURN_IF_ERROR(validate_tag(reference));
    tag = std::string(reference);
    digest = Digest::of(bytes);
  }
  BERTH_ASSIGN_OR_RETURN(ParsedManifest parsed,
                         parse_manifest(bytes, content_type, media_type_given));
  BERTH_RETURN_IF_ERROR(check_descriptor_urls(parsed, options_.manifest_urls));
  // A descriptor's size is part of what it promises: clients trust it to
  // bound their downloads. Blobs are content-addressed, so a stored blob's
  // size cannot change between this read and the store's own existence check.
  for (const auto& [where, d] : parsed.required_blob_descriptors()) {
    auto link = meta_.get_blob_link(repo.id, d->digest);
    if (!link) {
      if (link.status().code() == Code::kBlobUnknown) continue;  // put_manifest reports it
      return link.take_status();
    }
    if (link->size != d->size) {
      return error(Code::kManifestInvalid,
                   fmt::format("{}: size {} does not match the size {} of blob {}", where, d->size,
                               link->size, d->digest.str()));
    }
  }

  PutManifestRequest req;
  req.repository = repo.id;
  req.tag = tag;
  req.tag_immutable = tag && tag_is_immutable(repo, *tag);
  req.refuse_existing = refuse_existing;
  ManifestRecord& m = req.manifest;
  m.digest = digest;
  m.media_type = parsed.media_type;
  m.artifact_type = parsed.artifact_type;
  if (parsed.subject) m.subject = parsed.subject->digest;
  m.annotations = parsed.annotations;
  m.bytes = std::string(bytes);
  m.pushed_at_ms = clock_.now_millis();
  // ECR's imageSizeInBytes: the layers of an image; for an index, its
  // largest child image.
  for (const auto& l : parsed.layers) m.image_size += l.size;
  for (size_t i = 0; i < parsed.manifests.size(); ++i) {
    const Descriptor& c = parsed.manifests[i];
    auto child = meta_.get_manifest(repo.id, c.digest);
    if (!child) continue;  // put_manifest reports a missing child
    if (static_cast<int64_t>(child->bytes.size()) != c.size) {
      return error(Code::kManifestInvalid,
                   fmt::format("manifests[{}]: size {} does not match the size {} of manifest {}",
                               i, c.size, child->bytes.size(), c.digest.str()));
    }
    m.image_size = std::max(m.image_size, child->image_size);
  }
  req.references.blobs = parsed.required_blobs();
  req.references.manifests = parsed.child_manifests();
  const bool record_events = options_.record_events && !system_write;
  if (record_events) {
    req.events.push_back(image_action_event(new_event_id(), repo.account_id, repo.name, "PUSH",
                                            "SUCCESS", digest.str(), tag.value_or(""),
                                            m.pushed_at_ms));
  }
  if (Status s = meta_.put_manifest(req); !s.is_ok()) {
    // A refused push is reported too, in a transaction of its own: nothing
    // changed that it could share one with.
    if (record_events && s.code() != Code::kAlreadyExists) {
      Status recorded = meta_.append_events(
          {image_action_event(new_event_id(), repo.account_id, repo.name, "PUSH", "FAILURE",
                              digest.str(), tag.value_or(""), m.pushed_at_ms)});
      if (!recorded.is_ok())
        log::warn("cannot record a push failure event", {{"error", recorded.to_string()}});
    }
    return s;
  }
  if (options_.after_manifest_put && !system_write) options_.after_manifest_put(repo, m);
  return PutManifestResult{digest, m.subject};
}

Result<ManifestRecord> Registry::get_manifest(const RepositoryRecord& repo,
                                              std::string_view reference) {
  if (reference_is_digest(reference)) {
    BERTH_ASSIGN_OR_RETURN(Digest d, Digest::parse(reference));
    return meta_.get_manifest(repo.id, d);
  }
  BERTH_RETURN_IF_ERROR(validate_tag(reference));
  return meta_.get_manifest_by_tag(repo.id, reference);
}

Result<ResolvedManifest> Registry::get_manifest(std::string_view account, std::string_view name,
                                                std::string_view reference) {
  test_delay(name);
  BERTH_RETURN_IF_ERROR(validate_repository_name(name));
  if (reference_is_digest(reference)) {
    BERTH_ASSIGN_OR_RETURN(Digest d, Digest::parse(reference));
    return meta_.resolve_manifest(account, name, &d, {});
  }
  BERTH_RETURN_IF_ERROR(validate_tag(reference));
  return meta_.resolve_manifest(account, name, nullptr, reference);
}

Status Registry::delete_manifest(const RepositoryRecord& repo, std::string_view reference) {
  if (reference_is_digest(reference)) {
    BERTH_ASSIGN_OR_RETURN(Digest d, Digest::parse(reference));
    BERTH_RETURN_IF_ERROR(run_releasing_reserve(options_.space_reserve, "delete manifest", [&] {
      return meta_.delete_manifest(repo.id, d, delete_events(repo, /*per_tag=*/false));
    }));
    delete_referrers_of(repo, d);
    return Status::ok();
  }
  BERTH_RETURN_IF_ERROR(validate_tag(reference));
  return run_releasing_reserve(options_.space_reserve, "delete tag", [&] {
    return meta_.delete_tag(repo.id, reference, delete_events(repo, /*per_tag=*/true));
  });
}

DeletionEvents Registry::delete_events(const RepositoryRecord& repo, bool per_tag) const {
  if (!options_.record_events) return {};
  return [this, account = repo.account_id, name = repo.name, per_tag](
             const Digest& digest, const std::vector<std::string>& tags) {
    const int64_t now = clock_.now_millis();
    std::vector<OutboxEvent> out;
    if (!per_tag || tags.empty()) {
      out.push_back(image_action_event(new_event_id(), account, name, "DELETE", "SUCCESS",
                                       digest.str(), "", now));
      return out;
    }
    for (const auto& tag : tags) {
      out.push_back(image_action_event(new_event_id(), account, name, "DELETE", "SUCCESS",
                                       digest.str(), tag, now));
    }
    return out;
  };
}

Status Registry::delete_repository(const RepositoryRecord& repo, bool force) {
  return run_releasing_reserve(options_.space_reserve, "delete repository",
                               [&] { return meta_.delete_repository(repo.id, force); });
}

}  // namespace berth