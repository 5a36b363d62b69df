// Image inventory: the version comparisons a scan makes once per (package,
// advisory range) pair, and the inventory of one large gzip layer, the read
// that bounds a scan's time and memory. The layer is ~100 MiB of gzip
// (about 170 MiB of file bodies) around a 1,000-package dpkg status,
// generated once in memory; peak_rss_growth_MiB is how far the process's peak resident set
// rose above its resident set during one inventory (the layer itself is
// already resident; Linux VmHWM, reset through /proc/self/clear_refs).
#include <archive.h>
#include <archive_entry.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/blob_reader.h"
#include "scan/inventory.h"
#include "scan/version.h"

namespace {

const std::vector<std::pair<std::string, std::string>> kDpkgPairs = {
    {"2.36-9+deb12u4", "2.36-9+deb12u14"}, {"1:1.2.13.dfsg-1", "1:1.2.13.dfsg-3"},
    {"5.2.15-2+b13", "5.2.15-2"},          {"3.0.11-1~deb12u2", "3.0.11-1"},
    {"6.4-4", "6.4+20240113-1"},           {"5.4.1-1+deb12u1", "5.4.1-1"}};
const std::vector<std::pair<std::string, std::string>> kApkPairs = {
    {"3.1.0-r4", "3.1.4-r0"},   {"1.36.0-r9", "1.36.1-r2"},  {"1.2.4-r0", "1.2.4_git20230717-r4"},
    {"2.14.0-r0", "2.14.0-r2"}, {"1.2.13-r1", "1.2.13-r01"}, {"4.2.52_p2-r1", "4.2.52_p4-r2"}};

template <typename Cmp>
void compare_pairs(benchmark::State& state,
                   const std::vector<std::pair<std::string, std::string>>& pairs, Cmp cmp) {
  for (auto _ : state) {
    for (const auto& [a, b] : pairs) benchmark::DoNotOptimize(cmp(a, b));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * pairs.size()));
}

// items_per_second is comparisons per second; ns/op = 1e9 / that.
void BM_CompareDpkgVersions(benchmark::State& state) {
  compare_pairs(state, kDpkgPairs, berth::scan::compare_dpkg_versions);
}
BENCHMARK(BM_CompareDpkgVersions);

void BM_CompareApkVersions(benchmark::State& state) {
  compare_pairs(state, kApkPairs, berth::scan::compare_apk_versions);
}
BENCHMARK(BM_CompareApkVersions);

class StringBlobReader : public berth::BlobReader {
 public:
  explicit StringBlobReader(const std::string& data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  std::optional<int> native_fd() const override { return std::nullopt; }
  berth::Result<size_t> read_at(uint64_t offset, void* buf, size_t len) override {
    if (offset >= data_.size()) return size_t{0};
    const size_t n = std::min(len, data_.size() - static_cast<size_t>(offset));
    std::memcpy(buf, data_.data() + offset, n);
    return n;
  }

 private:
  const std::string& data_;
};

la_ssize_t append_to_string(struct archive*, void* client, const void* buf, size_t len) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

// ~100 MiB of gzip: files of 1 MiB, then a 1,000-package dpkg status and an
// os-release.
const std::string& big_gzip_layer() {
  static const std::string layer = [] {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    archive_write_set_filter_option(a, "gzip", "compression-level", "1");
    archive_write_open(a, &out, nullptr, append_to_string, nullptr);
    const auto add = [&](const std::string& path, const std::string& body) {
      struct archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, path.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
      archive_write_header(a, e);
      archive_write_data(a, body.data(), body.size());
      archive_entry_free(e);
    };
    // Bodies of 4 bits of entropy a byte (16 letters, pseudo-random): they
    // compress about as well as binaries do, so inflating costs what it
    // costs on real layers. Files are added until the gzip stream is 100 MiB.
    uint64_t x = 0x9e3779b97f4a7c15ull;
    std::string body(1 << 20, '\0');
    for (int f = 0; out.size() < (100u << 20); ++f) {
      for (char& c : body) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>('a' + (x & 15));
      }
      add("usr/share/blob/" + std::to_string(f), body);
    }
    std::string status;
    for (int p = 0; p < 1000; ++p) {
      status += "Package: pkg" + std::to_string(p) +
                "\nStatus: install ok installed\nVersion: 1.0-" + std::to_string(p) +
                "\nArchitecture: amd64\nDescription: a package\n some description text\n\n";
    }
    add("var/lib/dpkg/status", status);
    add("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    archive_write_close(a);
    archive_write_free(a);
    return out;
  }();
  return layer;
}

// A /proc/self/status field in KiB, or -1.
long proc_status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

void BM_InventoryOfGzipLayer100MiB(benchmark::State& state) {
  const std::string& layer = big_gzip_layer();
  long peak_growth_kib = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to VmRSS
    const long rss_before = proc_status_kib("VmRSS");
    state.ResumeTiming();

    berth::scan::InventoryReader reader;
    StringBlobReader blob(layer);
    if (!reader.add_layer(blob).is_ok()) {
      state.SkipWithError("add_layer failed");
      return;
    }
    auto inv = reader.finish();
    if (!inv.is_ok() || inv->packages.size() != 1000) {
      state.SkipWithError("wrong inventory");
      return;
    }
    benchmark::DoNotOptimize(inv);

    state.PauseTiming();
    peak_growth_kib = std::max(peak_growth_kib, proc_status_kib("VmHWM") - rss_before);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * layer.size()));
  state.counters["layer_MiB"] = static_cast<double>(layer.size()) / (1 << 20);
  state.counters["peak_rss_growth_MiB"] = static_cast<double>(peak_growth_kib) / 1024;
}
BENCHMARK(BM_InventoryOfGzipLayer100MiB)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
