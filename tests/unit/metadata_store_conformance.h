// The MetadataStore conformance suites, one per role interface
// (meta/metadata_store.h): each is typed on its role (RoleConformance<Role>)
// and written against the interfaces only. This header has what they share:
// the fixture, the factory a backend provides, and helpers; the tests are in
// metadata_store_conformance_<role>.h.
//
// To run them for an implementation, add per suite one line to
// metadata_store_conformance.cc:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, ManifestStoreConformance,
//                            ::testing::Values(RoleFactory<ManifestStore>{"postgres", make_pg}),
//                            RoleFactory<ManifestStore>::Name);
//
// The role headers define the tests themselves, so include them from exactly
// one translation unit of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "meta/metadata_store.h"

namespace berth::conformance {

// What a backend hands the suites: one fresh, empty store seen through each
// of its roles (meta/metadata_store.h). `owner` keeps it alive. A backend that
// implements every role in one class fills it with MetadataRoles::of(store).
struct MetadataRoles {
  std::shared_ptr<void> owner;
  RepositoryStore* repositories = nullptr;
  BlobLinkStore* blob_links = nullptr;
  UploadStore* uploads = nullptr;
  ManifestStore* manifests = nullptr;
  LifecycleStore* lifecycle = nullptr;
  GcStore* gc = nullptr;
  UsageStore* usage = nullptr;
  ResourceTagStore* resource_tags = nullptr;
  PolicyStore* policies = nullptr;
  EventOutboxStore* events = nullptr;
  AdvisoryStore* advisories = nullptr;
  ScanStore* scans = nullptr;
  QuotaStore* quotas = nullptr;

  static MetadataRoles of(std::shared_ptr<MetadataStore> store) {
    MetadataStore* s = store.get();
    return MetadataRoles{std::move(store), s, s, s, s, s, s, s, s, s, s, s, s, s};
  }

  bool complete() const {
    return owner && repositories && blob_links && uploads && manifests && lifecycle && gc &&
           usage && resource_tags && policies && events && advisories && scans && quotas;
  }

  template <class Role>
  Role& get() const {
    if constexpr (std::is_same_v<Role, RepositoryStore>)
      return *repositories;
    else if constexpr (std::is_same_v<Role, BlobLinkStore>)
      return *blob_links;
    else if constexpr (std::is_same_v<Role, UploadStore>)
      return *uploads;
    else if constexpr (std::is_same_v<Role, ManifestStore>)
      return *manifests;
    else if constexpr (std::is_same_v<Role, LifecycleStore>)
      return *lifecycle;
    else if constexpr (std::is_same_v<Role, GcStore>)
      return *gc;
    else if constexpr (std::is_same_v<Role, UsageStore>)
      return *usage;
    else if constexpr (std::is_same_v<Role, ResourceTagStore>)
      return *resource_tags;
    else if constexpr (std::is_same_v<Role, PolicyStore>)
      return *policies;
    else if constexpr (std::is_same_v<Role, AdvisoryStore>)
      return *advisories;
    else if constexpr (std::is_same_v<Role, ScanStore>)
      return *scans;
    else if constexpr (std::is_same_v<Role, QuotaStore>)
      return *quotas;
    else
      return *events;
  }
};

// The parameter of the suite of role `Role`: called once per test with a
// fresh, empty scratch directory that the suite removes afterwards; it must
// return a fresh, empty store.
template <class Role>
struct RoleFactory {
  std::string name;  // a gtest name: letters, digits and '_'
  std::function<MetadataRoles(const std::filesystem::path& scratch_dir)> make;

  static std::string Name(const ::testing::TestParamInfo<RoleFactory>& info) {
    return info.param.name;
  }
};

template <class Role>
void PrintTo(const RoleFactory<Role>& f, std::ostream* os) {
  *os << f.name;
}

template <class Role>
class RoleConformance : public ::testing::TestWithParam<RoleFactory<Role>> {
 protected:
  static constexpr const char* kAccount = "111111111111";
  static constexpr const char* kOtherAccount = "222222222222";
  static constexpr int64_t kNow = 1'700'000'000;

  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-meta-conformance-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
    roles_ = this->GetParam().make(scratch_);
    if (this->IsSkipped()) return;  // the backend is not there to test (the factory said why)
    ASSERT_TRUE(roles_.complete()) << "the factory must give every role";
  }

  void TearDown() override {
    roles_ = MetadataRoles{};
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  // The role under test.
  Role& store() { return roles_.template get<Role>(); }

  // The store's other roles, to arrange what a test needs.
  RepositoryStore& repositories() { return *roles_.repositories; }
  BlobLinkStore& blob_links() { return *roles_.blob_links; }
  UploadStore& uploads() { return *roles_.uploads; }
  ManifestStore& manifests() { return *roles_.manifests; }
  LifecycleStore& lifecycle() { return *roles_.lifecycle; }
  GcStore& gc() { return *roles_.gc; }
  UsageStore& usage() { return *roles_.usage; }
  ResourceTagStore& resource_tags() { return *roles_.resource_tags; }
  EventOutboxStore& events() { return *roles_.events; }

  RepositoryRecord repo(std::string_view name, std::string_view account = kAccount) {
    auto r = repositories().ensure_repository(account, name, kNow);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : RepositoryRecord{};
  }

  // A blob linked to `r` whose digest is that of `content`.
  Digest linked_blob(const RepositoryRecord& r, std::string_view content) {
    const Digest d = Digest::of(content);
    Status s = blob_links().link_blob(r.id, d, static_cast<int64_t>(content.size()), kNow);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return d;
  }

  // A manifest record whose bytes are `body` (the store does not parse them).
  static ManifestRecord manifest(
      std::string body, std::string media_type = "application/vnd.oci.image.manifest.v1+json") {
    ManifestRecord m;
    m.digest = Digest::of(body);
    m.media_type = std::move(media_type);
    m.artifact_type = "application/vnd.oci.image.config.v1+json";
    m.bytes = std::move(body);
    m.image_size = 1234;
    m.pushed_at_ms = kNow * 1000;
    return m;
  }

  static PutManifestRequest request(const RepositoryRecord& r, ManifestRecord m,
                                    std::optional<std::string> tag = std::nullopt,
                                    std::vector<Digest> blobs = {},
                                    std::vector<Digest> children = {}) {
    PutManifestRequest req;
    req.repository = r.id;
    req.manifest = std::move(m);
    req.tag = std::move(tag);
    req.references.blobs = std::move(blobs);
    req.references.manifests = std::move(children);
    return req;
  }

  // Puts an image manifest `body` (referring to one fresh linked blob) into `r`.
  ManifestRecord put_image(const RepositoryRecord& r, const std::string& body,
                           std::optional<std::string> tag = std::nullopt) {
    ManifestRecord m = manifest(body);
    const Digest blob = linked_blob(r, "config of " + body);
    Status s = manifests().put_manifest(request(r, m, std::move(tag), {blob}));
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return m;
  }

  ManifestRecord put_index(const RepositoryRecord& r, const std::string& body,
                           const std::vector<Digest>& children,
                           std::optional<std::string> tag = std::nullopt) {
    ManifestRecord m = manifest(body, "application/vnd.oci.image.index.v1+json");
    m.artifact_type = "";
    Status s = manifests().put_manifest(request(r, m, std::move(tag), {}, children));
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return m;
  }

  std::vector<std::string> tags(const RepositoryRecord& r, PageRequest page = {}) {
    auto t = manifests().list_tags(r.id, page);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return t.is_ok() ? *t : std::vector<std::string>{};
  }

  std::vector<std::string> repo_names(std::string_view account, PageRequest page = {}) {
    auto l = repositories().list_repositories(account, page);
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    std::vector<std::string> out;
    if (l.is_ok()) {
      for (const auto& r : *l) out.push_back(r.name);
    }
    return out;
  }

  Code manifest_code(const RepositoryRecord& r, const Digest& d) {
    return manifests().get_manifest(r.id, d).status().code();
  }

  std::filesystem::path scratch_;
  MetadataRoles roles_;
};

using RepositoryStoreConformance = RoleConformance<RepositoryStore>;
using BlobLinkStoreConformance = RoleConformance<BlobLinkStore>;
using UploadStoreConformance = RoleConformance<UploadStore>;
using ResourceTagStoreConformance = RoleConformance<ResourceTagStore>;
using PolicyStoreConformance = RoleConformance<PolicyStore>;
using LifecycleStoreConformance = RoleConformance<LifecycleStore>;
using UsageStoreConformance = RoleConformance<UsageStore>;
using ManifestStoreConformance = RoleConformance<ManifestStore>;
using GcStoreConformance = RoleConformance<GcStore>;
using EventOutboxStoreConformance = RoleConformance<EventOutboxStore>;
using AdvisoryStoreConformance = RoleConformance<AdvisoryStore>;
using ScanStoreConformance = RoleConformance<ScanStore>;
using QuotaStoreConformance = RoleConformance<QuotaStore>;

namespace gc_helpers {

// The time claim_now claims at: long before the wall clock of any test run,
// so a store that read the wall clock instead would record another time.
constexpr int64_t kClaimTime = 1'000'000;

// Runs `fn(i)` on `threads` threads that all start at once.
template <typename Fn>
void race(int threads, Fn fn) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      start.arrive_and_wait();
      fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

inline bool has_candidate(const std::vector<GcCandidate>& v, const Digest& d) {
  for (const auto& c : v) {
    if (c.digest == d) return true;
  }
  return false;
}

inline bool contains_digest(const std::vector<Digest>& v, const Digest& d) {
  return std::find(v.begin(), v.end(), d) != v.end();
}

// Every candidate queued before the far future.
inline std::vector<GcCandidate> candidates(GcStore& store) {
  auto c = store.gc_candidates(std::numeric_limits<int64_t>::max(), 1'000'000);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c.is_ok() ? *c : std::vector<GcCandidate>{};
}

inline bool is_candidate(GcStore& store, const Digest& d) {
  return has_candidate(candidates(store), d);
}

inline bool is_pending(GcStore& store, const Digest& d) {
  auto p = store.gc_pending();
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  if (!p.is_ok()) return false;
  for (const auto& pending : *p) {
    if (pending.digest == d) return true;
  }
  return false;
}

// Claims with every grace period over and no write protecting the blob.
inline std::optional<int64_t> claim_now(GcStore& store, const Digest& d, bool dry_run = false) {
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  auto r = store.gc_claim(d, kEnd, kEnd, dry_run, kClaimTime);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::nullopt;
}

inline bool linked(BlobLinkStore& store, const RepositoryRecord& r, const Digest& d) {
  return store.get_blob_link(r.id, d).is_ok();
}

}  // namespace gc_helpers

}  // namespace berth::conformance
