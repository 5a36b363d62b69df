#include "registry/manifest_cache.h"

namespace berth {

std::string ManifestCache::key(std::string_view account, std::string_view name,
                               std::string_view reference) {
  std::string k;
  k.reserve(account.size() + name.size() + reference.size() + 2);
  // NUL cannot occur in an account id, a repository name or a reference.
  k.append(account).push_back('\0');
  k.append(name).push_back('\0');
  k.append(reference);
  return k;
}

std::optional<ResolvedManifest> ManifestCache::get(std::string_view account, std::string_view name,
                                                   std::string_view reference, uint64_t generation,
                                                   int64_t now_ms) const {
  std::lock_guard lock(mu_);
  if (generation != generation_ || entries_.empty()) return std::nullopt;
  auto it = entries_.find(key(account, name, reference));
  if (it == entries_.end()) return std::nullopt;
  const int64_t age = now_ms - it->second.stored_at_ms;
  if (age < 0 || age > options_.max_age_ms) return std::nullopt;
  return it->second.found;
}

void ManifestCache::put(std::string_view account, std::string_view name, std::string_view reference,
                        const ResolvedManifest& found, uint64_t generation, int64_t now_ms) {
  const size_t size = found.manifest.bytes.size();
  if (size > options_.max_manifest_bytes) return;
  std::lock_guard lock(mu_);
  if (generation < generation_) return;  // read before a write this cache has already seen
  if (generation > generation_ || entries_.size() >= options_.max_entries ||
      bytes_ + size > options_.max_bytes) {
    entries_.clear();
    bytes_ = 0;
    generation_ = generation;
  }
  auto [it, inserted] =
      entries_.insert_or_assign(key(account, name, reference), Entry{found, now_ms});
  (void)it;
  (void)inserted;
  bytes_ +=
      size;  // a replaced entry's bytes stay counted until the next clear: a bound, not a tally
}

size_t ManifestCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace berth
