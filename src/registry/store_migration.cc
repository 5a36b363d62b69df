#include "registry/store_migration.h"

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/manifest.h"
#include "registry/registry.h"

namespace berth {

namespace {

constexpr std::string_view kUploadPrefix = "migrate-";
constexpr size_t kPage = 500;

// Ok, or the item is already at the destination.
bool ok_or_exists(const Status& s) {
  return s.is_ok() || s.code() == Code::kAlreadyExists;
}

// Streams `reader` through a hasher of `algorithm`, handing each piece to
// `sink` (may be empty). Returns the digest of what was read.
Result<Digest> stream(BlobReader& reader, DigestAlgorithm algorithm, size_t buffer_bytes,
                      const std::function<Status(const char*, size_t)>& sink) {
  Hasher hasher(algorithm);
  std::string buffer(std::max<size_t>(buffer_bytes, 4096), '\0');
  uint64_t offset = 0;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(size_t n, reader.read_at(offset, buffer.data(), buffer.size()));
    if (n == 0) break;
    hasher.update(buffer.data(), n);
    if (sink) BERTH_RETURN_IF_ERROR(sink(buffer.data(), n));
    offset += n;
  }
  if (offset != reader.size()) {
    return error(Code::kInternal,
                 fmt::format("read {} bytes where the store reports {}", offset, reader.size()));
  }
  return hasher.peek();
}

}  // namespace

StoreMigration::StoreMigration(MigrationStores from, MigrationStores to, MigrationOptions options)
    : from_(from), to_(to), options_(std::move(options)) {}

void StoreMigration::progress(const std::string& phase, uint64_t done, uint64_t total,
                              uint64_t bytes) {
  if (options_.progress) options_.progress(MigrationProgress{phase, done, total, bytes});
}

Result<MigrationReport> StoreMigration::run() {
  MigrationReport report;
  failed_blobs_.clear();
  BERTH_RETURN_IF_ERROR(copy_identities(report));
  BERTH_RETURN_IF_ERROR(copy_blobs(report));
  BERTH_RETURN_IF_ERROR(copy_repositories(report));
  // Storage quotas last: a source over a lowered quota still copies whole.
  BERTH_ASSIGN_OR_RETURN(auto quotas, from_.meta.list_quotas(std::nullopt));
  for (const StorageQuota& q : quotas) {
    std::optional<std::string_view> repository;
    if (q.repository) repository = *q.repository;
    if (Status s =
            options_.dry_run ? Status::ok() : to_.meta.set_quota(q.account_id, repository, q.bytes);
        !s.is_ok()) {
      report.failures.push_back(fmt::format("storage quota of account {} repository {}: {}",
                                            q.account_id, q.repository.value_or("-"), s.message()));
      continue;
    }
    ++report.storage_quotas;
  }
  return report;
}

// --- identities --------------------------------------------------------------------------

Status StoreMigration::copy_groups(const std::string& account_id, MigrationReport& report) {
  const bool dry = options_.dry_run;
  auto fail = [&](std::string what, const Status& s) {
    report.failures.push_back(fmt::format("{}: {}", what, s.message()));
  };
  BERTH_ASSIGN_OR_RETURN(auto groups, from_.identity.list_groups(account_id));
  for (const GroupRecord& group : groups) {
    const std::string what = fmt::format("group {} of account {}", group.name, account_id);
    if (!dry) {
      if (Status s = to_.identity.create_group(group); !ok_or_exists(s)) {
        fail(what, s);
        continue;
      }
    }
    ++report.groups;
    // Policies before members: a member never holds the group's grants without its denies.
    BERTH_ASSIGN_OR_RETURN(auto inline_policies,
                           from_.meta.list_group_policies(account_id, group.name));
    for (const auto& [name, text] : inline_policies) {
      if (!dry) {
        Status s = to_.meta.put_group_policy(account_id, group.name, name, text);
        if (!s.is_ok()) {
          fail(fmt::format("{} policy {}", what, name), s);
          continue;
        }
      }
      ++report.group_policies;
    }
    BERTH_ASSIGN_OR_RETURN(auto attached,
                           from_.meta.list_attached_group_policies(account_id, group.name));
    for (const std::string& arn : attached) {
      if (!dry) {
        Status s = to_.meta.attach_group_policy(account_id, group.name, arn);
        if (!s.is_ok()) {
          fail(fmt::format("{} attached policy {}", what, arn), s);
          continue;
        }
      }
      ++report.group_policies;
    }
    BERTH_ASSIGN_OR_RETURN(auto members, from_.identity.list_group_members(account_id, group.name));
    for (const std::string& user : members) {
      if (!dry) {
        if (Status s = to_.identity.add_user_to_group(account_id, group.name, user); !s.is_ok()) {
          fail(fmt::format("{} member {}", what, user), s);
          continue;
        }
      }
      ++report.group_members;
    }
  }
  return Status::ok();
}

Status StoreMigration::copy_identities(MigrationReport& report) {
  const bool dry = options_.dry_run;
  auto fail = [&](std::string what, const Status& s) {
    report.failures.push_back(fmt::format("{}: {}", what, s.message()));
  };
  BERTH_ASSIGN_OR_RETURN(auto accounts, from_.identity.list_accounts());
  BERTH_ASSIGN_OR_RETURN(auto keys, from_.identity.list_access_keys(""));
  const uint64_t total = accounts.size() + keys.size();
  uint64_t done = 0;
  progress("identities", done, total, 0);
  for (const AccountRecord& account : accounts) {
    const std::string what = fmt::format("account {}", account.id);
    if (!dry) {
      if (Status s = to_.identity.create_account(account); !ok_or_exists(s)) {
        fail(what, s);
        continue;
      }
    }
    ++report.accounts;
    BERTH_ASSIGN_OR_RETURN(auto registry_policy, from_.meta.get_registry_policy(account.id));
    if (registry_policy) {
      ++report.registry_policies;
      if (!dry) {
        auto set = to_.meta.set_registry_policy(account.id, registry_policy);
        if (!set) fail(what + " registry policy", set.status());
      }
    }
    BERTH_ASSIGN_OR_RETURN(auto users, from_.identity.list_users(account.id));
    for (const UserRecord& user : users) {
      const std::string who = fmt::format("user {} of account {}", user.name, account.id);
      if (!dry) {
        if (Status s = to_.identity.create_user(user); !ok_or_exists(s)) {
          fail(who, s);
          continue;
        }
      }
      ++report.users;
      BERTH_ASSIGN_OR_RETURN(auto inline_policies,
                             from_.meta.list_user_policies(account.id, user.name));
      for (const auto& [name, text] : inline_policies) {
        if (!dry) {
          Status s = to_.meta.put_user_policy(account.id, user.name, name, text);
          if (!s.is_ok()) {
            fail(fmt::format("{} policy {}", who, name), s);
            continue;
          }
        }
        ++report.user_policies;
      }
      BERTH_ASSIGN_OR_RETURN(auto attached,
                             from_.meta.list_attached_user_policies(account.id, user.name));
      for (const std::string& arn : attached) {
        if (!dry) {
          Status s = to_.meta.attach_user_policy(account.id, user.name, arn);
          if (!s.is_ok()) {
            fail(fmt::format("{} attached policy {}", who, arn), s);
            continue;
          }
        }
        ++report.user_policies;
      }
      BERTH_ASSIGN_OR_RETURN(auto tags, from_.identity.list_user_tags(account.id, user.name));
      if (!tags.empty() && !dry) {
        if (Status s = to_.identity.tag_user(account.id, user.name, tags); !s.is_ok()) {
          fail(who + " tags", s);
          continue;
        }
      }
      report.user_tags += tags.size();
    }
    BERTH_RETURN_IF_ERROR(copy_groups(account.id, report));
    progress("identities", ++done, total, 0);
  }
  for (const AccessKeyRecord& key : keys) {
    const std::string what = fmt::format("access key {}", key.id);
    progress("identities", ++done, total, 0);
    if (dry) {
      ++report.access_keys;
      continue;
    }
    auto existing = to_.identity.get_access_key(key.id);
    if (!existing && existing.status().code() != Code::kNotFound) {
      fail(what, existing.status());
      continue;
    }
    if (!existing) {
      AccessKeyRecord copy = key;
      if (options_.reseal_secret) {
        auto sealed = options_.reseal_secret(key);
        if (!sealed) {
          fail(what, sealed.status());
          continue;
        }
        copy.sealed_secret = std::move(sealed).value();
      }
      if (Status s = to_.identity.create_access_key(copy); !ok_or_exists(s)) {
        fail(what, s);
        continue;
      }
      existing = to_.identity.get_access_key(key.id);
      if (!existing) {
        fail(what, existing.status());
        continue;
      }
    }
    // The state: disabling is what raises tokens_not_before, so a key
    // revoked at some time is disabled (with that time) and enabled again
    // when the source's is active.
    if (existing->tokens_not_before < key.tokens_not_before || (existing->active && !key.active)) {
      Status s = to_.identity.set_access_key_active(key.id, false, key.tokens_not_before);
      if (!s.is_ok()) {
        fail(what, s);
        continue;
      }
      existing->active = false;
    }
    if (key.active && !existing->active) {
      Status s = to_.identity.set_access_key_active(key.id, true, key.tokens_not_before);
      if (!s.is_ok()) {
        fail(what, s);
        continue;
      }
    }
    ++report.access_keys;
  }
  return Status::ok();
}

// --- blobs -------------------------------------------------------------------------------

Result<uint64_t> StoreMigration::copy_blob(const Digest& digest) {
  BERTH_ASSIGN_OR_RETURN(auto reader, from_.blobs.open(digest));
  const std::string id = std::string(kUploadPrefix) + new_upload_id();
  BERTH_RETURN_IF_ERROR(to_.blobs.create_upload(id));
  auto abandon = [&](Status s) -> Status {
    (void)to_.blobs.abort_upload(id);
    return s;
  };
  auto appender = to_.blobs.append_upload(id);
  if (!appender) return abandon(appender.take_status());
  auto read = stream(*reader, digest.algorithm(), options_.copy_buffer_bytes,
                     [&](const char* data, size_t n) { return (*appender)->append(data, n); });
  if (!read) return abandon(read.take_status());
  if (!(*read == digest)) {
    return abandon(error(Code::kDigestInvalid,
                         fmt::format("the source's bytes hash to {}, not to {}: the source blob is "
                                     "corrupt and was not copied",
                                     read->str(), digest.str())));
  }
  if (Status s = (*appender)->flush(); !s.is_ok()) return abandon(s);
  appender->reset();
  if (Status s = to_.blobs.commit_upload(id, digest); !s.is_ok()) return abandon(s);
  // What the destination now serves must hash to the digest too.
  BERTH_ASSIGN_OR_RETURN(auto committed, to_.blobs.open(digest));
  BERTH_ASSIGN_OR_RETURN(
      Digest stored, stream(*committed, digest.algorithm(), options_.copy_buffer_bytes, nullptr));
  if (!(stored == digest)) {
    (void)to_.blobs.remove(digest);
    return error(
        Code::kInternal,
        fmt::format("the destination's committed bytes hash to {}; removed them", stored.str()));
  }
  return reader->size();
}

Status StoreMigration::copy_blobs(MigrationReport& report) {
  if (!options_.dry_run) {
    // Uploads an interrupted run left at the destination.
    BERTH_ASSIGN_OR_RETURN(auto uploads, to_.blobs.list_uploads());
    for (const UploadInfo& u : uploads) {
      if (u.id.rfind(kUploadPrefix, 0) == 0) (void)to_.blobs.abort_upload(u.id);
    }
  }
  uint64_t done = 0, total = 0;
  progress("blobs", done, total, report.bytes_copied);
  std::optional<Digest> after;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(auto page, from_.blobs.list(after, kPage));
    if (page.empty()) break;
    after = page.back();
    total += page.size();
    for (const Digest& digest : page) {
      const std::string what = fmt::format("blob {}", digest.str());
      auto source_size = from_.blobs.stat(digest);
      if (!source_size) {
        if (source_size.status().code() != Code::kBlobUnknown) {
          report.failures.push_back(fmt::format("{}: {}", what, source_size.status().message()));
          failed_blobs_.push_back(digest);
        }
        progress("blobs", ++done, total, report.bytes_copied);
        continue;  // removed since it was listed
      }
      auto present = to_.blobs.stat(digest);
      if (present && *present == *source_size) {
        ++report.blobs_present;
      } else if (!present && present.status().code() != Code::kBlobUnknown) {
        report.failures.push_back(fmt::format("{}: {}", what, present.status().message()));
        failed_blobs_.push_back(digest);
      } else if (options_.dry_run) {
        ++report.blobs_copied;
        report.bytes_copied += *source_size;
      } else {
        auto copied = copy_blob(digest);
        if (copied) {
          ++report.blobs_copied;
          report.bytes_copied += *copied;
          if (options_.blob_pause.count() > 0) std::this_thread::sleep_for(options_.blob_pause);
        } else {
          report.failures.push_back(fmt::format("{}: {}", what, copied.status().message()));
          failed_blobs_.push_back(digest);
        }
      }
      progress("blobs", ++done, total, report.bytes_copied);
    }
  }
  std::sort(failed_blobs_.begin(), failed_blobs_.end());
  return Status::ok();
}

// --- repositories ------------------------------------------------------------------------

Status StoreMigration::copy_repositories(MigrationReport& report) {
  BERTH_ASSIGN_OR_RETURN(auto accounts, from_.identity.list_accounts());
  std::vector<RepositoryRecord> repos;
  for (const AccountRecord& account : accounts) {
    PageRequest page;
    page.limit = kPage;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(auto batch, from_.meta.list_repositories(account.id, page));
      if (batch.empty()) break;
      page.after = batch.back().name;
      for (auto& r : batch) repos.push_back(std::move(r));
    }
  }
  BERTH_ASSIGN_OR_RETURN(linked_, from_.meta.linked_blobs());
  uint64_t done = 0;
  progress("repositories", done, repos.size(), report.bytes_copied);
  for (const RepositoryRecord& repo : repos) {
    if (Status s = copy_repository(repo, report); !s.is_ok()) {
      report.failures.push_back(
          fmt::format("repository {} of account {}: {}", repo.name, repo.account_id, s.message()));
    }
    progress("repositories", ++done, repos.size(), report.bytes_copied);
  }
  return Status::ok();
}

Status StoreMigration::copy_repository(const RepositoryRecord& source, MigrationReport& report) {
  const bool dry = options_.dry_run;
  const int64_t now = Clock::system().now_seconds();
  auto fail = [&](std::string what, const Status& s) {
    report.failures.push_back(fmt::format("repository {} of account {}: {}: {}", source.name,
                                          source.account_id, what, s.message()));
  };

  // The repository and its settings.
  RepositoryId dest = 0;
  if (!dry) {
    RepositoryRecord wanted = source;
    wanted.id = 0;
    auto created = to_.meta.create_repository(wanted);
    if (created) {
      dest = created->id;
    } else if (created.status().code() == Code::kAlreadyExists) {
      BERTH_ASSIGN_OR_RETURN(auto existing,
                             to_.meta.get_repository(source.account_id, source.name));
      dest = existing.id;
      wanted.id = dest;
      BERTH_RETURN_IF_ERROR(to_.meta.update_repository(wanted));
    } else {
      return created.take_status();
    }
    BERTH_RETURN_IF_ERROR(to_.meta.set_lifecycle_policy(dest, source.lifecycle_policy));
    if (source.lifecycle_evaluated_at) {
      BERTH_RETURN_IF_ERROR(
          to_.meta.mark_lifecycle_evaluated(dest, *source.lifecycle_evaluated_at));
    }
  }
  ++report.repositories;
  if (source.lifecycle_policy) ++report.lifecycle_policies;
  BERTH_ASSIGN_OR_RETURN(auto policy, from_.meta.get_repository_policy(source.id));
  if (policy) ++report.repository_policies;
  BERTH_ASSIGN_OR_RETURN(auto resource_tags, from_.meta.get_resource_tags(source.id));
  report.resource_tags += resource_tags.size();
  if (!dry) {
    BERTH_RETURN_IF_ERROR(to_.meta.set_repository_policy(dest, policy).status());
    BERTH_RETURN_IF_ERROR(to_.meta.set_resource_tags(dest, resource_tags));
  }

  // Blob links: every stored blob the repository sees, found through the
  // account's repositories that link each digest.
  std::set<std::string> links;  // digests linked here, for the manifests' references
  for (const BlobLink& candidate : linked_) {
    auto link = from_.meta.get_blob_link(source.id, candidate.digest);
    if (!link) {
      if (link.status().code() == Code::kBlobUnknown) continue;
      return link.take_status();
    }
    if (std::binary_search(failed_blobs_.begin(), failed_blobs_.end(), candidate.digest)) {
      fail(fmt::format("link to blob {}", candidate.digest.str()),
           error(Code::kBlobUnknown, "not linked: the blob was not copied"));
      continue;
    }
    if (!dry) {
      Status s = to_.meta.link_blob(dest, link->digest, link->size, now);
      if (!s.is_ok()) {
        fail(fmt::format("link to blob {}", link->digest.str()), s);
        continue;
      }
    }
    links.insert(link->digest.str());
    ++report.blob_links;
  }

  // Manifests, an index only after the children it lists.
  std::vector<ImageRecord> images;
  PageRequest page;
  page.limit = kPage;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(auto batch, from_.meta.list_images(source.id, page));
    if (batch.empty()) break;
    page.after = batch.back().manifest.digest.str();
    for (auto& i : batch) images.push_back(std::move(i));
  }
  std::set<std::string> placed, failed;
  bool moved = true;
  while (moved) {
    moved = false;
    for (const ImageRecord& image : images) {
      const std::string key = image.manifest.digest.str();
      if (placed.count(key) || failed.count(key)) continue;
      bool ready = true;
      for (const Digest& child : image.children) {
        if (failed.count(child.str())) {
          failed.insert(key);
          fail(fmt::format("manifest {}", key),
               error(Code::kManifestUnknown,
                     fmt::format("not copied: it lists manifest {}, which was not", child.str())));
          ready = false;
          break;
        }
        if (!placed.count(child.str())) ready = false;
      }
      if (!ready) continue;
      moved = true;
      auto m = from_.meta.get_manifest(source.id, image.manifest.digest);
      if (!m) {
        if (m.status().code() == Code::kManifestUnknown) {
          placed.insert(key);  // deleted since it was listed
          continue;
        }
        return m.take_status();
      }
      auto parsed = parse_manifest(m->bytes, m->media_type, true);
      if (!parsed) {
        failed.insert(key);
        fail(fmt::format("manifest {}", key), parsed.status());
        continue;
      }
      PutManifestRequest req;
      req.repository = dest;
      req.manifest = *m;
      // What the source recorded as references: required blobs it links
      // (a foreign layer the source let stay external is not linked).
      for (const Digest& b : parsed->required_blobs()) {
        if (links.count(b.str())) req.references.blobs.push_back(b);
      }
      bool missing_blob = false;
      for (const Digest& b : parsed->required_blobs()) {
        if (std::binary_search(failed_blobs_.begin(), failed_blobs_.end(), b)) missing_blob = true;
      }
      if (missing_blob) {
        failed.insert(key);
        fail(fmt::format("manifest {}", key),
             error(Code::kManifestBlobUnknown, "not copied: one of its blobs was not"));
        continue;
      }
      req.references.manifests = parsed->child_manifests();
      Status s = Status::ok();
      if (!dry) s = to_.meta.put_manifest(req);
      for (size_t i = 0; s.is_ok() && i < image.tags.size(); ++i) {
        req.tag = image.tags[i];
        if (!dry) s = to_.meta.put_manifest(req);
        if (s.is_ok()) ++report.tags;
      }
      if (s.is_ok() && !dry && m->last_pulled_at_ms) {
        s = to_.meta.record_pull(dest, m->digest, *m->last_pulled_at_ms);
      }
      if (!s.is_ok()) {
        failed.insert(key);
        fail(fmt::format("manifest {}", key), s);
        continue;
      }
      placed.insert(key);
      ++report.manifests;
    }
  }
  for (const ImageRecord& image : images) {
    const std::string key = image.manifest.digest.str();
    if (!placed.count(key) && !failed.count(key)) {
      fail(fmt::format("manifest {}", key),
           error(Code::kManifestUnknown, "not copied: it lists a manifest the repository lacks"));
    }
  }
  return Status::ok();
}

}  // namespace berth
