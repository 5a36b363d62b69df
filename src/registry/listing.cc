// The read-only listings both APIs page through: repositories, tags,
// referrers, and the storage each repository uses.
#include "meta/metadata_store.h"
#include "registry/registry.h"

namespace berth {

namespace {

// Reads one entry more than asked to learn whether a next page exists.
PageRequest probe(const PageRequest& page) {
  PageRequest p = page;
  if (p.limit != 0) p.limit += 1;
  return p;
}

template <typename T, typename Key>
Page<T> to_page(std::vector<T> items, size_t limit, Key key) {
  Page<T> page;
  if (limit != 0 && items.size() > limit) {
    items.resize(limit);
    page.next_after = key(items.back());
  }
  page.items = std::move(items);
  return page;
}

}  // namespace

Result<Page<RepositoryRecord>> Registry::list_repositories(std::string_view account,
                                                           const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto repos, meta_.list_repositories(account, probe(page)));
  return to_page(std::move(repos), page.limit, [](const RepositoryRecord& r) { return r.name; });
}

Result<Page<std::string>> Registry::list_tags(const RepositoryRecord& repo,
                                              const PageRequest& page) {
  BERTH_ASSIGN_OR_RETURN(auto tags, meta_.list_tags(repo.id, probe(page)));
  return to_page(std::move(tags), page.limit, [](const std::string& t) { return t; });
}

Result<std::vector<ReferrerRecord>> Registry::list_referrers(
    const RepositoryRecord& repo, const Digest& subject,
    std::optional<std::string_view> artifact_type) {
  return meta_.list_referrers(repo.id, subject, artifact_type);
}

std::map<std::string, int64_t> Registry::repository_usage(std::string_view account) {
  std::map<std::string, int64_t> usage;
  if (auto u = meta_.repository_usage(account); u) {
    for (const auto& r : *u) usage[r.name] = r.bytes;
  }
  return usage;
}

}  // namespace berth
