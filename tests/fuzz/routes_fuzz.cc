// The `/v2` request target: the route parser (src/oci/routes.*) and the
// `n`/`last` paging query (src/oci/paging.*), fed the raw request-target the
// way the HTTP session hands it over (origin-form, then the decoded path).
//
// Properties: a recognised route names a non-empty repository and rebuilding
// the path from (route, name, reference) gives the path back, so no two
// routes claim one path; the page limit respects the cap; the Link header
// built for the next page parses back to the same `n` and `last`.
#include <boost/url/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "oci/paging.h"
#include "oci/routes.h"

namespace {

using berth::oci::Route;

std::string rebuild(const berth::oci::Target& t) {
  switch (t.route) {
    case Route::kTags:
      return "/v2/" + t.name + "/tags/list";
    case Route::kManifest:
      return "/v2/" + t.name + "/manifests/" + t.reference;
    case Route::kBlob:
      return "/v2/" + t.name + "/blobs/" + t.reference;
    case Route::kUploadStart:
      return "/v2/" + t.name + "/blobs/uploads/";
    case Route::kUpload:
      return "/v2/" + t.name + "/blobs/uploads/" + t.reference;
    case Route::kReferrers:
      return "/v2/" + t.name + "/referrers/" + t.reference;
    default:
      return {};
  }
}

void check_route(std::string_view path) {
  const auto t = berth::oci::parse_v2_path(path);
  for (std::string_view method : {"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"}) {
    (void)berth::oci::required_action(t.route, method);
  }
  switch (t.route) {
    case Route::kUnknown:
      return;
    case Route::kBase:
    case Route::kCatalog:
      FUZZ_CHECK(t.name.empty());
      return;
    case Route::kUploadStart: {
      FUZZ_CHECK(!t.name.empty());
      std::string p = rebuild(t);
      FUZZ_CHECK(p == path || p.substr(0, p.size() - 1) == path);
      return;
    }
    default:
      FUZZ_CHECK(!t.name.empty());
      FUZZ_CHECK(t.route == Route::kTags || !t.reference.empty());
      FUZZ_CHECK(rebuild(t) == path);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  check_route(target);

  auto url = boost::urls::parse_origin_form(target);
  if (!url) return 0;
  check_route(std::string(url->path()));

  constexpr size_t kDefault = 100;
  constexpr size_t kMax = 1000;
  auto page = berth::oci::page_from_query(*url, kDefault, kMax);
  if (!page) return 0;
  FUZZ_CHECK(page->limit <= kMax || page->limit == SIZE_MAX);

  // The next page's link carries `last` through percent-encoding unchanged.
  const size_t n = page->limit == SIZE_MAX ? 0 : page->limit;
  std::string link = berth::oci::next_link(url->path(), n, page->after);
  FUZZ_CHECK(link.size() > 2 && link.front() == '<');
  auto close = link.find('>');
  FUZZ_CHECK(close != std::string::npos);
  auto back = boost::urls::parse_origin_form(std::string_view(link).substr(1, close - 1));
  FUZZ_CHECK(back.has_value());
  auto again = berth::oci::page_from_query(*back, kDefault, kMax);
  FUZZ_CHECK(again.is_ok());
  FUZZ_CHECK(again->after == page->after);
  FUZZ_CHECK(again->limit == page->limit);
  return 0;
}
