#include "scan/sbom.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/sigv4_signing.h"

namespace berth::scan {
namespace {

namespace json = boost::json;

// The purl spec's encoding of a name, version or qualifier value: every byte
// but A-Z a-z 0-9 . - _ ~ and '+' percent-encoded (so an epoch's ':' becomes
// %3A), upper-case hex.
std::string purl_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_' || c == '~' || c == '+';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// RFC 3339 UTC with milliseconds, e.g. "2026-12-07T11:58:04.123Z".
std::string utc_timestamp(int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(ms)};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long long>(hms.hours().count()),
                static_cast<long long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()),
                static_cast<long long>(hms.subseconds().count()));
  return buf;
}

// A UUID (RFC 9562 version 8: "custom") from the SHA-256 of the inputs, so the
// same image and time always give the same serial number.
std::string derived_uuid(std::string_view image_digest, int64_t created_at_ms) {
  std::string hex = sigv4::sha256_hex(std::string("berth-sbom\n") + std::string(image_digest) +
                                      "\n" + std::to_string(created_at_ms));
  hex.resize(32);
  hex[12] = '8';                                                    // version 8
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // variant 10xx
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

std::string package_url(const InstalledPackage& p, const std::optional<OsRelease>& os) {
  const bool apk = p.kind == PackageKind::kApk;
  std::string type = apk ? "apk" : "deb";
  std::string ns = apk ? "alpine" : "debian";
  if (os && !os->id.empty()) ns = os->id;
  std::string url = "pkg:" + type + "/" + purl_encode(ns) + "/" + purl_encode(p.name);
  if (!p.version.empty()) url += "@" + purl_encode(p.version);
  // Qualifiers sorted by key, as the spec requires.
  std::string qualifiers;
  auto add = [&](std::string_view key, std::string_view value) {
    if (value.empty()) return;
    qualifiers += qualifiers.empty() ? "?" : "&";
    qualifiers += std::string(key) + "=" + purl_encode(value);
  };
  add("arch", p.architecture);
  if (os && !os->version_id.empty())
    add("distro", apk ? os->version_id : ns + "-" + os->version_id);
  return url + qualifiers;
}

std::string cyclonedx_sbom(const Inventory& inventory, std::string_view repository,
                           std::string_view image_digest, int64_t created_at_ms) {
  json::object image;
  image["type"] = "container";
  image["bom-ref"] = std::string(image_digest);
  image["name"] = std::string(repository);
  image["version"] = std::string(image_digest);

  json::object tool;
  tool["type"] = "application";
  tool["name"] = "berth";

  json::object metadata;
  metadata["timestamp"] = utc_timestamp(created_at_ms);
  metadata["tools"] = json::object{{"components", json::array{tool}}};
  metadata["component"] = std::move(image);

  json::array components;
  for (const auto& p : inventory.packages) {
    json::object c;
    const std::string purl = package_url(p, inventory.os);
    c["type"] = "library";
    c["bom-ref"] = purl;
    c["name"] = p.name;
    c["version"] = p.version;
    c["purl"] = purl;
    if (p.kind == PackageKind::kApk && !p.license.empty())
      c["licenses"] = json::array{json::object{{"license", json::object{{"name", p.license}}}}};
    components.push_back(std::move(c));
  }

  json::object bom;
  bom["bomFormat"] = "CycloneDX";
  bom["specVersion"] = "1.5";
  bom["serialNumber"] = "urn:uuid:" + derived_uuid(image_digest, created_at_ms);
  bom["version"] = 1;
  bom["metadata"] = std::move(metadata);
  bom["components"] = std::move(components);
  return json::serialize(bom);
}

}  // namespace berth::scan
