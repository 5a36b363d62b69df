// Package databases, os-release and version ordering (src/scan/pkgdb.*,
// version.*): all read from image layers and advisories, i.e. untrusted.
//
// Properties: no parser crashes; every package a database parser returns has
// a name, a version and a source name; both comparators are antisymmetric
// (sign(cmp(a, b)) == -sign(cmp(b, a))) and reflexive on the first two lines
// of the input, taken as versions.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "scan/pkgdb.h"
#include "scan/version.h"

namespace {

int sign(int v) {
  return (v > 0) - (v < 0);
}

void check_packages(const berth::Result<std::vector<berth::scan::InstalledPackage>>& parsed) {
  if (!parsed.is_ok()) return;
  for (const auto& p : *parsed) {
    FUZZ_CHECK(!p.name.empty());
    FUZZ_CHECK(!p.version.empty());
    FUZZ_CHECK(!p.source_name.empty());
    FUZZ_CHECK(!p.source_version.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  check_packages(berth::scan::parse_dpkg_status(input));
  check_packages(berth::scan::parse_apk_installed(input));
  (void)berth::scan::parse_os_release(input);

  const size_t nl = input.find('\n');
  const std::string_view a = input.substr(0, nl);
  std::string_view b = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  b = b.substr(0, b.find('\n'));
  using berth::scan::compare_apk_versions;
  using berth::scan::compare_dpkg_versions;
  FUZZ_CHECK(sign(compare_dpkg_versions(a, b)) == -sign(compare_dpkg_versions(b, a)));
  FUZZ_CHECK(sign(compare_apk_versions(a, b)) == -sign(compare_apk_versions(b, a)));
  FUZZ_CHECK(compare_dpkg_versions(a, a) == 0);
  FUZZ_CHECK(compare_apk_versions(a, a) == 0);
  (void)berth::scan::valid_dpkg_version(a);
  (void)berth::scan::valid_apk_version(a);
  return 0;
}
