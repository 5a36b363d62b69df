// Layer inventory (src/scan/inventory.*): layers built here with libarchive's
// writer (tar in its ustar, pax and GNU forms; gzip, zstd or none), read back
// through a BlobReader over a string, with whiteouts, opaque directories,
// status.d, os-release symlinks and blobs that are not layers.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "core/blob_reader.h"
#include "scan/inventory.h"

namespace {

namespace fs = std::filesystem;
using berth::Code;
using berth::Result;
using berth::scan::Inventory;
using berth::scan::InventoryReader;
using berth::scan::PackageKind;

// A stored blob held in memory; `max_read` caps each read_at, as a store
// returning short reads would.
class StringBlobReader : public berth::BlobReader {
 public:
  explicit StringBlobReader(std::string data, size_t max_read = SIZE_MAX)
      : data_(std::move(data)), max_read_(max_read) {}
  uint64_t size() const override { return data_.size(); }
  std::optional<int> native_fd() const override { return std::nullopt; }
  Result<size_t> read_at(uint64_t offset, void* buf, size_t len) override {
    if (offset >= data_.size()) return size_t{0};
    const size_t n = std::min({len, max_read_, data_.size() - static_cast<size_t>(offset)});
    std::memcpy(buf, data_.data() + offset, n);
    return n;
  }

 private:
  std::string data_;
  size_t max_read_;
};

// A store that fails after the first `good` bytes.
class FailingBlobReader : public StringBlobReader {
 public:
  FailingBlobReader(std::string data, uint64_t good)
      : StringBlobReader(std::move(data)), good_(good) {}
  Result<size_t> read_at(uint64_t offset, void* buf, size_t len) override {
    if (offset >= good_) return berth::error(Code::kInternal, "disk on fire");
    return StringBlobReader::read_at(offset, buf, std::min<uint64_t>(len, good_ - offset));
  }

 private:
  uint64_t good_;
};

enum class Type { kFile, kDir, kSymlink, kHardlink };
struct Entry {
  std::string path;
  Type type = Type::kFile;
  std::string data;  // content, or the link target
};
enum class Compression { kNone, kGzip, kZstd };
enum class TarFormat { kPax, kUstar, kGnu };

la_ssize_t append_to_string(struct archive*, void* client, const void* buf, size_t len) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

std::string make_layer(const std::vector<Entry>& entries,
                       Compression compression = Compression::kGzip,
                       TarFormat format = TarFormat::kPax) {
  std::string out;
  struct archive* a = archive_write_new();
  switch (format) {
    case TarFormat::kPax:
      archive_write_set_format_pax_restricted(a);
      break;
    case TarFormat::kUstar:
      archive_write_set_format_ustar(a);
      break;
    case TarFormat::kGnu:
      archive_write_set_format_gnutar(a);
      break;
  }
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, append_to_string, nullptr), ARCHIVE_OK)
      << archive_error_string(a);
  for (const auto& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_mtime(entry, 1700000000, 0);
    switch (e.type) {
      case Type::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
        break;
      case Type::kDir:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case Type::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_perm(entry, 0777);
        archive_entry_set_symlink(entry, e.data.c_str());
        break;
      case Type::kHardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_hardlink(entry, e.data.c_str());
        break;
    }
    EXPECT_GE(archive_write_header(a, entry), ARCHIVE_WARN) << archive_error_string(a);
    if (e.type == Type::kFile && !e.data.empty()) {
      EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

std::string read_testdata(const std::string& rel) {
  std::ifstream in(fs::path(BERTH_TESTDATA_DIR) / "pkgdb" / rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing test data " << rel;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string stanza(const std::string& name, const std::string& version, bool with_status = true) {
  return "Package: " + name + "\n" + (with_status ? "Status: install ok installed\n" : "") +
         "Version: " + version + "\nArchitecture: amd64\n";
}

// Reads `layers` (base first) and returns the inventory; fails the test on
// any error.
Inventory inventory_of(const std::vector<std::string>& layers) {
  InventoryReader reader;
  for (const auto& layer : layers) {
    StringBlobReader blob(layer);
    const auto st = reader.add_layer(blob);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
  }
  auto inv = reader.finish();
  EXPECT_TRUE(inv.is_ok()) << inv.status().to_string();
  return inv.is_ok() ? std::move(inv).value() : Inventory{};
}

std::vector<std::string> names(const Inventory& inv) {
  std::vector<std::string> out;
  for (const auto& p : inv.packages) out.push_back(p.name);
  return out;
}

std::string bookworm_base() {
  return make_layer(
      {{"./", Type::kDir, ""},
       {"./etc/", Type::kDir, ""},
       {"./etc/os-release", Type::kSymlink, "../usr/lib/os-release"},
       {"./usr/lib/os-release", Type::kFile, read_testdata("debian-bookworm-minbase/os-release")},
       {"./var/lib/dpkg/", Type::kDir, ""},
       {"./var/lib/dpkg/status", Type::kFile,
        read_testdata("debian-bookworm-minbase/var/lib/dpkg/status")},
       {"./usr/bin/bash", Type::kFile, std::string(100000, 'x')}});
}

TEST(ScanInventory, DebianBaseLayerThroughOsReleaseSymlink) {
  const Inventory inv = inventory_of({bookworm_base()});
  ASSERT_TRUE(inv.os.has_value());
  EXPECT_EQ(inv.os->id, "debian");
  EXPECT_EQ(inv.os->version_id, "12");
  ASSERT_EQ(inv.packages.size(), 88u);
  EXPECT_TRUE(std::is_sorted(inv.packages.begin(), inv.packages.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  const auto bash = std::find_if(inv.packages.begin(), inv.packages.end(),
                                 [](auto& p) { return p.name == "bash"; });
  ASSERT_NE(bash, inv.packages.end());
  EXPECT_EQ(bash->source_version, "5.2.15-2");
}

TEST(ScanInventory, WhiteoutOfDpkgStatusInUpperLayerRemovesThePackages) {
  const std::string upper = make_layer({{"var/lib/dpkg/.wh.status", Type::kFile, ""}});
  const Inventory inv = inventory_of({bookworm_base(), upper});
  EXPECT_TRUE(inv.packages.empty()) << inv.packages.size() << " packages left";
  ASSERT_TRUE(inv.os.has_value());  // os-release untouched
  EXPECT_EQ(inv.os->id, "debian");
}

TEST(ScanInventory, WhiteoutOfADirectoryRemovesEverythingBelowIt) {
  const std::string base =
      make_layer({{"var/lib/dpkg/status", Type::kFile, stanza("a", "1")},
                  {"var/lib/dpkg/status.d/b", Type::kFile, stanza("b", "1", false)},
                  {"etc/os-release", Type::kFile, "ID=debian\nVERSION_ID=12\n"}});
  const std::string upper =
      make_layer({{"var/lib/.wh.dpkg", Type::kFile, ""}, {"etc/.wh.os-release", Type::kFile, ""}});
  const Inventory inv = inventory_of({base, upper});
  EXPECT_TRUE(inv.packages.empty());
  EXPECT_FALSE(inv.os.has_value());
}

TEST(ScanInventory, WhiteoutHidesOnlyLowerLayers) {
  // The same layer both whites out and writes the status: the new file stays.
  const std::string base = make_layer({{"var/lib/dpkg/status", Type::kFile, stanza("old", "1")}});
  const std::string upper = make_layer({{"var/lib/dpkg/status", Type::kFile, stanza("new", "2")},
                                        {"var/lib/dpkg/.wh.status", Type::kFile, ""}});
  EXPECT_EQ(names(inventory_of({base, upper})), (std::vector<std::string>{"new"}));
}

TEST(ScanInventory, OpaqueDirectoryHidesLowerContent) {
  const std::string base =
      make_layer({{"var/lib/dpkg/status.d/a", Type::kFile, stanza("a", "1", false)},
                  {"var/lib/dpkg/status.d/b", Type::kFile, stanza("b", "1", false)},
                  {"var/lib/dpkg/status", Type::kFile, stanza("s", "1")}});
  const std::string upper =
      make_layer({{"var/lib/dpkg/status.d/", Type::kDir, ""},
                  {"var/lib/dpkg/status.d/.wh..wh..opq", Type::kFile, ""},
                  {"var/lib/dpkg/status.d/c", Type::kFile, stanza("c", "3", false)}});
  // status.d/ lost a and b; status beside it is not below the opaque directory.
  EXPECT_EQ(names(inventory_of({base, upper})), (std::vector<std::string>{"c", "s"}));
}

TEST(ScanInventory, DistrolessStatusDFilesWithoutStatusField) {
  const std::string layer = make_layer(
      {{"var/lib/dpkg/status.d/base", Type::kFile, stanza("base-files", "12.4+deb12u5", false)},
       {"var/lib/dpkg/status.d/libssl3", Type::kFile,
        "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nSource: openssl\nArchitecture: amd64\n"},
       {"var/lib/dpkg/status.d/libssl3.md5sums", Type::kFile, "0123abcd  usr/lib/libssl.so.3\n"},
       {"etc/os-release", Type::kFile, "ID=debian\nVERSION_ID=\"12\"\n"}},
      Compression::kGzip, TarFormat::kUstar);
  const Inventory inv = inventory_of({layer});
  ASSERT_EQ(names(inv), (std::vector<std::string>{"base-files", "libssl3"}));
  EXPECT_EQ(inv.packages[1].source_name, "openssl");
  EXPECT_EQ(inv.packages[1].kind, PackageKind::kDpkg);
}

TEST(ScanInventory, UpperLayerReplacesStatusAndOsReleaseSymlinkIsAbsolute) {
  const std::string upper =
      make_layer({{"var/lib/dpkg/status", Type::kFile, stanza("only", "9")},
                  {"usr/lib/os-release", Type::kFile, "ID=debian\nVERSION_ID=13\n"},
                  {"etc/os-release", Type::kSymlink, "/usr/lib/os-release"}});
  const Inventory inv = inventory_of({bookworm_base(), upper});
  EXPECT_EQ(names(inv), (std::vector<std::string>{"only"}));
  ASSERT_TRUE(inv.os.has_value());
  EXPECT_EQ(inv.os->version_id, "13");
}

TEST(ScanInventory, OsReleaseFallsBackToUsrLibAndDanglingSymlinkIsNoOs) {
  const Inventory fallback = inventory_of(
      {make_layer({{"usr/lib/os-release", Type::kFile, "ID=ubuntu\nVERSION_ID=\"22.04\"\n"}})});
  ASSERT_TRUE(fallback.os.has_value());
  EXPECT_EQ(fallback.os->id, "ubuntu");
  const Inventory dangling =
      inventory_of({make_layer({{"etc/os-release", Type::kSymlink, "../nowhere"}})});
  EXPECT_FALSE(dangling.os.has_value());
  const Inventory loop =
      inventory_of({make_layer({{"etc/os-release", Type::kSymlink, "os-release"}})});
  EXPECT_FALSE(loop.os.has_value());
}

TEST(ScanInventory, ZstdAlpineLayerInGnuTar) {
  const std::string layer = make_layer(
      {{"lib/apk/db/installed", Type::kFile,
        read_testdata("alpine-3.18-base/lib/apk/db/installed")},
       {"etc/os-release", Type::kFile, "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\n"}},
      Compression::kZstd, TarFormat::kGnu);
  ASSERT_EQ(layer.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));  // a zstd frame
  const Inventory inv = inventory_of({layer});
  ASSERT_EQ(inv.packages.size(), 15u);
  for (const auto& p : inv.packages) EXPECT_EQ(p.kind, PackageKind::kApk);
  ASSERT_TRUE(inv.os.has_value());
  EXPECT_EQ(inv.os->version_id, "3.18.4");
}

TEST(ScanInventory, UncompressedTarReadInShortReads) {
  const std::string layer =
      make_layer({{"/var/lib/dpkg/status", Type::kFile, stanza("x", "1") + "\n" + stanza("y", "2")},
                  {"big", Type::kFile, std::string(3 << 20, 'z')}},
                 Compression::kNone, TarFormat::kPax);
  InventoryReader reader;
  StringBlobReader blob(layer, 1000);
  ASSERT_TRUE(reader.add_layer(blob).is_ok());
  auto inv = reader.finish();
  ASSERT_TRUE(inv.is_ok());
  EXPECT_EQ(names(*inv), (std::vector<std::string>{"x", "y"}));
}

TEST(ScanInventory, HardLinkToAKeptFile) {
  const std::string layer =
      make_layer({{"usr/lib/os-release", Type::kFile, "ID=alpine\nVERSION_ID=3.18.4\n"},
                  {"etc/os-release", Type::kHardlink, "usr/lib/os-release"}});
  const Inventory inv = inventory_of({layer});
  ASSERT_TRUE(inv.os.has_value());
  EXPECT_EQ(inv.os->id, "alpine");
}

TEST(ScanInventory, BlobThatIsNotATarIsUnsupportedAndChangesNothing) {
  InventoryReader reader;
  StringBlobReader base(make_layer({{"var/lib/dpkg/status", Type::kFile, stanza("a", "1")}}));
  ASSERT_TRUE(reader.add_layer(base).is_ok());
  for (const std::string& junk :
       {std::string("{\"schemaVersion\": 2}"), std::string(4096, '\x01'), std::string()}) {
    StringBlobReader blob(junk);
    const auto st = reader.add_layer(blob);
    EXPECT_EQ(st.code(), Code::kUnsupported) << st.to_string();
    EXPECT_NE(st.message().find("not a tar archive"), std::string::npos) << st.message();
  }
  // A gzip stream cut short in the middle of the archive.
  const std::string whole = make_layer({{"var/lib/dpkg/.wh.status", Type::kFile, ""},
                                        {"filler", Type::kFile, std::string(1 << 20, 'q')}});
  StringBlobReader cut(whole.substr(0, whole.size() / 2));
  EXPECT_EQ(reader.add_layer(cut).code(), Code::kUnsupported);
  auto inv = reader.finish();
  ASSERT_TRUE(inv.is_ok());
  EXPECT_EQ(names(*inv), (std::vector<std::string>{"a"}));  // the failed layers changed nothing
}

TEST(ScanInventory, StoreReadFailureIsInternal) {
  InventoryReader reader;
  const std::string layer =
      make_layer({{"filler", Type::kFile, std::string(2 << 20, 'q')}}, Compression::kNone);
  FailingBlobReader blob(layer, 300000);
  const auto st = reader.add_layer(blob);
  EXPECT_EQ(st.code(), Code::kInternal) << st.to_string();
}

TEST(ScanInventory, KeptFileOverTheCapIsUnsupported) {
  InventoryReader reader;
  StringBlobReader blob(
      make_layer({{"var/lib/dpkg/status", Type::kFile, std::string((64 << 20) + 1, '\n')}}));
  const auto st = reader.add_layer(blob);
  EXPECT_EQ(st.code(), Code::kUnsupported) << st.to_string();
  EXPECT_NE(st.message().find("var/lib/dpkg/status"), std::string::npos) << st.message();
}

TEST(ScanInventory, CorruptPackageDatabaseIsUnsupported) {
  InventoryReader reader;
  StringBlobReader blob(make_layer({{"lib/apk/db/installed", Type::kFile,
                                     "\x7f"
                                     "ELF binary, not a database\n"}}));
  ASSERT_TRUE(reader.add_layer(blob).is_ok());
  auto inv = reader.finish();
  ASSERT_FALSE(inv.is_ok());
  EXPECT_EQ(inv.status().code(), Code::kUnsupported);
}

TEST(ScanInventory, NoLayersNoDatabasesNoOs) {
  InventoryReader reader;
  auto inv = reader.finish();
  ASSERT_TRUE(inv.is_ok());
  EXPECT_TRUE(inv->packages.empty());
  EXPECT_FALSE(inv->os.has_value());
  EXPECT_TRUE(inventory_of({make_layer({{"bin/sh", Type::kFile, "#!"}})}).packages.empty());
}

TEST(ScanInventory, PathsClimbingAboveTheRootAreIgnored) {
  const Inventory inv =
      inventory_of({make_layer({{"../var/lib/dpkg/status", Type::kFile, stanza("evil", "1")},
                                {"x/../var/lib/dpkg/status", Type::kFile, stanza("fine", "1")}})});
  EXPECT_EQ(names(inv), (std::vector<std::string>{"fine"}));
}

TEST(ScanInventory, FileReplacingADirectoryHidesWhatWasBelowIt) {
  const std::string upper = make_layer({{"var/lib/dpkg", Type::kSymlink, "/nonexistent"}});
  EXPECT_TRUE(inventory_of({bookworm_base(), upper}).packages.empty());
}

}  // namespace
