// CycloneDX SBOMs and package URLs.
#include "scan/sbom.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

namespace berth::scan {
namespace {

namespace json = boost::json;

InstalledPackage pkg(PackageKind kind, std::string name, std::string version, std::string arch,
                     std::string license = "") {
  InstalledPackage p;
  p.kind = kind;
  p.name = std::move(name);
  p.version = std::move(version);
  p.source_name = p.name;
  p.source_version = p.version;
  p.architecture = std::move(arch);
  p.license = std::move(license);
  return p;
}

OsRelease debian12() {
  return OsRelease{"debian", "12", "bookworm", "Debian GNU/Linux 12"};
}
OsRelease alpine318() {
  return OsRelease{"alpine", "3.18.4", "", "Alpine Linux v3.18"};
}

TEST(PackageUrl, Cases) {
  struct Case {
    InstalledPackage p;
    std::optional<OsRelease> os;
    std::string purl;
  };
  const std::vector<Case> cases = {
      {pkg(PackageKind::kDpkg, "libssl3", "3.0.11-1~deb12u2", "amd64"), debian12(),
       "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"},
      // '+' stays; the epoch's ':' is %3A.
      {pkg(PackageKind::kDpkg, "zlib1g", "1:1.2.13.dfsg-1", "amd64"), debian12(),
       "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12"},
      {pkg(PackageKind::kDpkg, "libstdc++6", "12.2.0-14+deb12u1", "amd64"), debian12(),
       "pkg:deb/debian/libstdc++6@12.2.0-14+deb12u1?arch=amd64&distro=debian-12"},
      {pkg(PackageKind::kDpkg, "tzdata", "2024a-0+deb12u1", "all"), debian12(),
       "pkg:deb/debian/tzdata@2024a-0+deb12u1?arch=all&distro=debian-12"},
      {pkg(PackageKind::kDpkg, "libc6", "2.35-0ubuntu3.6", "amd64"),
       OsRelease{"ubuntu", "22.04", "jammy", ""},
       "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.6?arch=amd64&distro=ubuntu-22.04"},
      {pkg(PackageKind::kApk, "musl", "1.2.4-r0", "x86_64", "MIT"), alpine318(),
       "pkg:apk/alpine/musl@1.2.4-r0?arch=x86_64&distro=3.18.4"},
      {pkg(PackageKind::kApk, "ssl_client", "1.36.0-r9", "x86_64"), alpine318(),
       "pkg:apk/alpine/ssl_client@1.36.0-r9?arch=x86_64&distro=3.18.4"},
      // Without os-release: the package manager's default namespace, no distro.
      {pkg(PackageKind::kApk, "zlib", "1.2.13-r1", "x86_64"), std::nullopt,
       "pkg:apk/alpine/zlib@1.2.13-r1?arch=x86_64"},
      {pkg(PackageKind::kDpkg, "bash", "5.2.15-2+b2", ""), std::nullopt,
       "pkg:deb/debian/bash@5.2.15-2+b2"},
      // Anything outside the unreserved set is percent-encoded.
      {pkg(PackageKind::kDpkg, "odd name", "1.0/2#3?", "amd64"), debian12(),
       "pkg:deb/debian/odd%20name@1.0%2F2%233%3F?arch=amd64&distro=debian-12"},
  };
  for (const auto& c : cases) EXPECT_EQ(package_url(c.p, c.os), c.purl) << c.p.name;
}

Inventory alpine_inventory() {
  Inventory inv;
  inv.os = alpine318();
  inv.packages = {pkg(PackageKind::kApk, "busybox", "1.36.0-r9", "x86_64", "GPL-2.0-only"),
                  pkg(PackageKind::kApk, "musl", "1.2.4-r0", "x86_64", "MIT"),
                  pkg(PackageKind::kApk, "zlib", "1.2.13-r1", "x86_64", "Zlib")};
  return inv;
}

constexpr std::string_view kDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr int64_t kCreated = 1796644684123;  // 2026-12-07T11:58:04.123Z

TEST(CycloneDx, DocumentFields) {
  const std::string text = cyclonedx_sbom(alpine_inventory(), "team/app", kDigest, kCreated);
  json::error_code ec;
  const json::value doc = json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  const json::object& o = doc.as_object();
  EXPECT_EQ(o.at("bomFormat"), "CycloneDX");
  EXPECT_EQ(o.at("specVersion"), "1.5");
  EXPECT_EQ(o.at("version"), 1);
  const std::string serial(o.at("serialNumber").as_string());
  EXPECT_TRUE(std::regex_match(
      serial,
      std::regex("urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << serial;
  const json::object& meta = o.at("metadata").as_object();
  EXPECT_EQ(meta.at("timestamp"), "2026-12-07T11:58:04.123Z");
  const json::object& image = meta.at("component").as_object();
  EXPECT_EQ(image.at("type"), "container");
  EXPECT_EQ(image.at("name"), "team/app");
  EXPECT_EQ(std::string_view(image.at("version").as_string()), kDigest);

  const json::array& components = o.at("components").as_array();
  ASSERT_EQ(components.size(), 3u);
  const json::object& musl = components[1].as_object();
  EXPECT_EQ(musl.at("type"), "library");
  EXPECT_EQ(musl.at("name"), "musl");
  EXPECT_EQ(musl.at("version"), "1.2.4-r0");
  EXPECT_EQ(musl.at("purl"), "pkg:apk/alpine/musl@1.2.4-r0?arch=x86_64&distro=3.18.4");
  EXPECT_EQ(musl.at("bom-ref"), musl.at("purl"));
  EXPECT_EQ(musl.at("licenses").at(0).at("license").at("name"), "MIT");
}

TEST(CycloneDx, DebPackagesHaveNoLicensesAndEmptyInventoryIsValid) {
  Inventory inv;
  inv.os = debian12();
  inv.packages = {pkg(PackageKind::kDpkg, "zlib1g", "1:1.2.13.dfsg-1", "amd64")};
  const json::value doc = json::parse(cyclonedx_sbom(inv, "r", kDigest, kCreated));
  const json::object& c = doc.at("components").at(0).as_object();
  EXPECT_FALSE(c.contains("licenses"));
  EXPECT_EQ(c.at("purl"), "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12");
  const json::value empty = json::parse(cyclonedx_sbom(Inventory{}, "r", kDigest, 0));
  EXPECT_TRUE(empty.at("components").as_array().empty());
  EXPECT_EQ(empty.at("metadata").at("timestamp"), "1970-01-01T00:00:00.000Z");
}

TEST(CycloneDx, DeterministicSerialNumber) {
  const auto a = cyclonedx_sbom(alpine_inventory(), "team/app", kDigest, kCreated);
  EXPECT_EQ(a, cyclonedx_sbom(alpine_inventory(), "team/app", kDigest, kCreated));
  auto serial = [](const std::string& text) {
    return std::string(json::parse(text).at("serialNumber").as_string());
  };
  EXPECT_NE(serial(a),
            serial(cyclonedx_sbom(alpine_inventory(), "team/app", kDigest, kCreated + 1)));
  EXPECT_NE(
      serial(a),
      serial(cyclonedx_sbom(
          alpine_inventory(), "team/app",
          "sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", kCreated)));
}

}  // namespace
}  // namespace berth::scan
