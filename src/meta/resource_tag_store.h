// ResourceTagStore: the key/value tags of ECR TagResource on repositories. A
// role of MetadataStore (meta/metadata_store.h); every method is thread-safe
// and atomic, failures are values as described there.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace berth {

class ResourceTagStore {
 public:
  virtual ~ResourceTagStore() = default;

  // In byte order of key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> get_resource_tags(
      RepositoryId repo) = 0;
  // Repositories, in every account, carrying resource tag `key` = `value`.
  virtual Result<std::vector<RepositoryRecord>> repositories_with_resource_tag(
      std::string_view key, std::string_view value) = 0;
  // Replaces the whole tag set.
  virtual Status set_resource_tags(
      RepositoryId repo, const std::vector<std::pair<std::string, std::string>>& tags) = 0;
  // In one transaction: removes the keys of `remove`, then adds or replaces each pair of `set`
  // (ECR's TagResource and UntagResource). When the repository would then carry more than
  // `max_tags` tags, changes nothing and fails with kLimitExceeded. Concurrent updates of one
  // repository apply one after the other: none loses the keys another one set.
  virtual Status update_resource_tags(RepositoryId repo,
                                      const std::vector<std::pair<std::string, std::string>>& set,
                                      const std::vector<std::string>& remove,
                                      std::size_t max_tags) = 0;
};

}  // namespace berth
