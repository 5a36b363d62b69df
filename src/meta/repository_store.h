// RepositoryStore: the repositories of every account and their ECR settings.
// A role of MetadataStore (meta/metadata_store.h); every method is thread-safe
// and atomic, failures are values as described there.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace berth {

class RepositoryStore {
 public:
  virtual ~RepositoryStore() = default;

  // kAlreadyExists when (account, name) exists.
  virtual Result<RepositoryRecord> create_repository(const RepositoryRecord& repo) = 0;
  // Returns the existing repository or creates it with defaults.
  virtual Result<RepositoryRecord> ensure_repository(std::string_view account_id,
                                                     std::string_view name, int64_t now) = 0;
  // kNameUnknown when absent.
  virtual Result<RepositoryRecord> get_repository(std::string_view account_id,
                                                  std::string_view name) = 0;
  // The repository with this id, for background work that holds only the id
  // (a scan). kNameUnknown when absent.
  virtual Result<RepositoryRecord> get_repository_by_id(RepositoryId id) = 0;
  // The account's repositories in byte order of name (PageRequest), paged by name.
  virtual Result<std::vector<RepositoryRecord>> list_repositories(std::string_view account_id,
                                                                  const PageRequest& page) = 0;
  // Replaces the mutable ECR settings of a repository.
  virtual Status update_repository(const RepositoryRecord& repo) = 0;
  // Deletes the repository with its manifests, tags, links and uploads.
  // kRepositoryNotEmpty when it has manifests and `force` is false.
  virtual Status delete_repository(RepositoryId id, bool force) = 0;
};

}  // namespace berth
