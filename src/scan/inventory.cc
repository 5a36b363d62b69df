#include "scan/inventory.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "scan/pkgdb.h"

namespace berth::scan {
namespace {

constexpr size_t kReadWindow = 256 * 1024;
// A package database larger than this is not one berth reads (the largest
// real dpkg status files are a few MiB).
constexpr uint64_t kMaxKeptFile = 64ull * 1024 * 1024;
constexpr int kMaxSymlinkHops = 8;

constexpr std::string_view kDpkgStatus = "var/lib/dpkg/status";
constexpr std::string_view kDpkgStatusDir = "var/lib/dpkg/status.d/";
constexpr std::string_view kApkInstalled = "lib/apk/db/installed";
constexpr std::string_view kEtcOsRelease = "etc/os-release";
constexpr std::string_view kUsrLibOsRelease = "usr/lib/os-release";

// The directories above the kept files: a non-directory entry at one of
// them (a file or a symlink replacing the directory) hides what lower
// layers had below it.
constexpr std::string_view kKeptAncestors[] = {
    "etc", "usr",     "usr/lib",   "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d",
    "lib", "lib/apk", "lib/apk/db"};

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

// A kept path's content, or the target of a symlink at that path.
struct KeptFile {
  bool is_symlink = false;
  std::string data;
};

// "./a//b/./c/" -> "a/b/c"; nullopt when ".." climbs above the root (no
// extraction would put such an entry inside the image).
std::optional<std::string> normalize_path(std::string_view raw) {
  std::vector<std::string_view> parts;
  while (!raw.empty()) {
    const size_t slash = raw.find('/');
    const std::string_view part = raw.substr(0, slash);
    raw = slash == std::string_view::npos ? std::string_view() : raw.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto part : parts) {
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  return out;
}

std::string_view parent_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view base_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_kept_path(std::string_view path) {
  if (path == kDpkgStatus || path == kApkInstalled || path == kEtcOsRelease ||
      path == kUsrLibOsRelease) {
    return true;
  }
  if (path.starts_with(kDpkgStatusDir)) {
    const std::string_view name = path.substr(kDpkgStatusDir.size());
    // One file per package; "<name>.md5sums" beside it are not stanzas.
    return !name.empty() && name.find('/') == std::string_view::npos && !name.starts_with('.') &&
           !name.ends_with(".md5sums");
  }
  return false;
}

bool is_kept_ancestor(std::string_view path) {
  return std::find(std::begin(kKeptAncestors), std::end(kKeptAncestors), path) !=
         std::end(kKeptAncestors);
}

// Whether `path` is `dir` or below it ("" is the root, above everything).
bool is_at_or_below(std::string_view path, std::string_view dir) {
  if (dir.empty()) return true;
  return path == dir ||
         (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

// What one layer does to the layers below it; applied only once the layer
// has been read to its end, so that a layer that fails changes nothing.
struct LayerChanges {
  std::vector<std::string> deleted_trees;  // whiteouts: the path and everything below it
  std::vector<std::string> opaque_dirs;    // everything below (not the directory itself)
  std::vector<std::string> replaced;       // a kept path this layer has as something not kept
  std::map<std::string, KeptFile> added;
};

// libarchive's view of a BlobReader: read_at in windows, skips by moving the
// offset (an uncompressed layer's file bodies are never read).
struct BlobSource {
  BlobReader* blob = nullptr;
  uint64_t offset = 0;
  std::unique_ptr<char[]> window;
  Status failure;
};

la_ssize_t read_blob(struct archive* a, void* client, const void** buffer) {
  auto* src = static_cast<BlobSource*>(client);
  auto got = src->blob->read_at(src->offset, src->window.get(), kReadWindow);
  if (!got.is_ok()) {
    src->failure = got.take_status();
    archive_set_error(a, EIO, "layer read failed");
    return -1;
  }
  src->offset += *got;
  *buffer = src->window.get();
  return static_cast<la_ssize_t>(*got);
}

la_int64_t skip_blob(struct archive*, void* client, la_int64_t request) {
  auto* src = static_cast<BlobSource*>(client);
  const uint64_t size = src->blob->size();
  const uint64_t remaining = size > src->offset ? size - src->offset : 0;
  const uint64_t n =
      std::min<uint64_t>(static_cast<uint64_t>(std::max<la_int64_t>(request, 0)), remaining);
  src->offset += n;
  return static_cast<la_int64_t>(n);
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Reads the current entry's body, at most kMaxKeptFile bytes.
Status read_entry_body(struct archive* a, const std::string& path, std::string& out) {
  out.clear();
  char buf[64 * 1024];
  while (true) {
    const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) {
      const char* why = archive_error_string(a);
      return error(Code::kUnsupported, "layer is not a readable tar archive: " + path + ": " +
                                           (why != nullptr ? why : "read error"));
    }
    if (n == 0) return Status::ok();
    if (out.size() + static_cast<size_t>(n) > kMaxKeptFile) {
      return error(Code::kUnsupported,
                   path + " is larger than " + std::to_string(kMaxKeptFile) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

struct InventoryReader::State {
  // The kept paths as the layers read so far add up to.
  std::map<std::string, KeptFile> files;

  // The content at `path`, following symlinks among the kept paths.
  const std::string* resolve(std::string path) const {
    for (int hop = 0; hop <= kMaxSymlinkHops; ++hop) {
      const auto it = files.find(path);
      if (it == files.end()) return nullptr;
      if (!it->second.is_symlink) return &it->second.data;
      const std::string& target = it->second.data;
      const std::string joined =
          target.starts_with('/') ? target : std::string(parent_of(path)) + "/" + target;
      auto next = normalize_path(joined);
      if (!next) return nullptr;
      path = std::move(*next);
    }
    return nullptr;
  }
};

InventoryReader::InventoryReader() : state_(new State) {}

InventoryReader::~InventoryReader() {
  delete state_;
}

Status InventoryReader::add_layer(BlobReader& layer) {
  BlobSource src;
  src.blob = &layer;
  src.window = std::make_unique<char[]>(kReadWindow);

  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  if (!a) return error(Code::kInternal, "libarchive: out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());  // ustar, pax and GNU
  archive_read_set_callback_data(a.get(), &src);
  archive_read_set_read_callback(a.get(), read_blob);
  archive_read_set_skip_callback(a.get(), skip_blob);

  const auto failed = [&](std::string_view what) -> Status {
    if (!src.failure.is_ok())
      return error(Code::kInternal, "reading layer: " + src.failure.message());
    const char* why = archive_error_string(a.get());
    return error(Code::kUnsupported,
                 std::string(what) + ": " + (why != nullptr ? why : "unknown error"));
  };

  if (archive_read_open1(a.get()) != ARCHIVE_OK) return failed("layer is not a tar archive");

  LayerChanges changes;
  bool first = true;
  while (true) {
    struct archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      return failed(first ? "layer is not a tar archive" : "layer is not a readable tar archive");
    }
    first = false;
    const char* raw = archive_entry_pathname(entry);
    if (raw == nullptr) continue;
    auto path = normalize_path(raw);
    if (!path || path->empty()) continue;

    const std::string_view base = base_of(*path);
    if (base.starts_with(kWhiteoutPrefix)) {
      const std::string dir(parent_of(*path));
      if (base == kOpaqueMarker) {
        changes.opaque_dirs.push_back(dir);
      } else if (!base.starts_with(".wh..wh.")) {  // other ".wh..wh." names are aufs metadata
        const std::string_view name = base.substr(kWhiteoutPrefix.size());
        changes.deleted_trees.push_back(dir.empty() ? std::string(name)
                                                    : dir + "/" + std::string(name));
      }
      continue;
    }

    const mode_t type = archive_entry_filetype(entry);
    const char* hardlink = archive_entry_hardlink(entry);
    if (is_kept_path(*path)) {
      if (hardlink != nullptr) {
        // A hard link to an earlier entry of this layer: kept only when
        // that entry was kept (the only entries whose bodies berth holds).
        const auto target = normalize_path(hardlink);
        const auto it = target ? changes.added.find(*target) : changes.added.end();
        if (it != changes.added.end()) {
          changes.added[*path] = it->second;
        } else {
          changes.added.erase(*path);
          changes.replaced.push_back(*path);
        }
      } else if (type == AE_IFREG) {
        if (archive_entry_size_is_set(entry) &&
            archive_entry_size(entry) > static_cast<la_int64_t>(kMaxKeptFile)) {
          return error(Code::kUnsupported,
                       *path + " is larger than " + std::to_string(kMaxKeptFile) + " bytes");
        }
        KeptFile file;
        BERTH_RETURN_IF_ERROR(read_entry_body(a.get(), *path, file.data));
        changes.added[*path] = std::move(file);
      } else if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(entry);
        changes.added[*path] = KeptFile{true, target != nullptr ? target : ""};
      } else {
        changes.added.erase(*path);
        changes.replaced.push_back(*path);
      }
    } else if (type != AE_IFDIR && is_kept_ancestor(*path)) {
      // A file or symlink where lower layers had a directory of kept paths.
      changes.deleted_trees.push_back(*path);
    }
  }

  // The layer read to its end: apply it over the layers below.
  auto& files = state_->files;
  for (auto it = files.begin(); it != files.end();) {
    const std::string& p = it->first;
    bool gone =
        std::find(changes.replaced.begin(), changes.replaced.end(), p) != changes.replaced.end();
    for (const auto& d : changes.deleted_trees) gone = gone || is_at_or_below(p, d);
    for (const auto& d : changes.opaque_dirs) gone = gone || (p != d && is_at_or_below(p, d));
    it = gone ? files.erase(it) : std::next(it);
  }
  for (auto& [p, file] : changes.added) files[p] = std::move(file);
  return Status::ok();
}

Result<Inventory> InventoryReader::finish() {
  Inventory inv;
  const std::string* os_text = state_->resolve(std::string(kEtcOsRelease));
  if (os_text == nullptr) os_text = state_->resolve(std::string(kUsrLibOsRelease));
  if (os_text != nullptr) inv.os = parse_os_release(*os_text);

  const auto add_all = [&](std::string_view path,
                           Result<std::vector<InstalledPackage>> parsed) -> Status {
    if (!parsed.is_ok()) {
      return error(Code::kUnsupported, std::string(path) + ": " + parsed.status().message());
    }
    for (auto& pkg : *parsed) inv.packages.push_back(std::move(pkg));
    return Status::ok();
  };
  if (const std::string* text = state_->resolve(std::string(kDpkgStatus))) {
    BERTH_RETURN_IF_ERROR(add_all(kDpkgStatus, parse_dpkg_status(*text)));
  }
  for (auto it = state_->files.lower_bound(std::string(kDpkgStatusDir));
       it != state_->files.end() && it->first.starts_with(kDpkgStatusDir); ++it) {
    if (const std::string* text = state_->resolve(it->first)) {
      BERTH_RETURN_IF_ERROR(add_all(it->first, parse_dpkg_status(*text)));
    }
  }
  if (const std::string* text = state_->resolve(std::string(kApkInstalled))) {
    BERTH_RETURN_IF_ERROR(add_all(kApkInstalled, parse_apk_installed(*text)));
  }

  const auto key = [](const InstalledPackage& p) {
    return std::tie(p.kind, p.name, p.version, p.architecture);
  };
  std::sort(inv.packages.begin(), inv.packages.end(),
            [&](const InstalledPackage& x, const InstalledPackage& y) { return key(x) < key(y); });
  inv.packages.erase(std::unique(inv.packages.begin(), inv.packages.end(),
                                 [&](const InstalledPackage& x, const InstalledPackage& y) {
                                   return key(x) == key(y);
                                 }),
                     inv.packages.end());
  return inv;
}

}  // namespace berth::scan
