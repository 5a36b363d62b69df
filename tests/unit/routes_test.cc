// /v2 path routing (distribution-spec v1.1 endpoint table) and n/last paging.
#include "oci/routes.h"
#include "oci/paging.h"

#include <gtest/gtest.h>

#include <boost/url/parse.hpp>

#include <cstdint>
#include <string>

namespace berth::oci {
namespace {

constexpr const char* kDigest =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

void expect_route(std::string_view path, Route route, std::string_view name = "",
                  std::string_view reference = "") {
  Target t = parse_v2_path(path);
  EXPECT_EQ(t.route, route) << path;
  EXPECT_EQ(t.name, name) << path;
  EXPECT_EQ(t.reference, reference) << path;
}

void expect_unknown(std::string_view path) {
  EXPECT_EQ(parse_v2_path(path).route, Route::kUnknown) << path;
}

// --- routes -----------------------------------------------------------------------

TEST(RoutesTest, Base) {
  expect_route("/v2/", Route::kBase);
  expect_route("/v2", Route::kBase);
}

TEST(RoutesTest, Catalog) {
  expect_route("/v2/_catalog", Route::kCatalog);
}

TEST(RoutesTest, Tags) {
  expect_route("/v2/library/ubuntu/tags/list", Route::kTags, "library/ubuntu");
  expect_route("/v2/a/tags/list", Route::kTags, "a");
}

TEST(RoutesTest, Manifests) {
  expect_route("/v2/a/manifests/latest", Route::kManifest, "a", "latest");
  expect_route(std::string("/v2/a/b/c/manifests/") + kDigest, Route::kManifest, "a/b/c", kDigest);
}

TEST(RoutesTest, Blobs) {
  expect_route(std::string("/v2/a/blobs/") + kDigest, Route::kBlob, "a", kDigest);
  expect_route(std::string("/v2/org/team/app/blobs/") + kDigest, Route::kBlob, "org/team/app",
               kDigest);
}

TEST(RoutesTest, UploadStartWithAndWithoutTrailingSlash) {
  expect_route("/v2/a/blobs/uploads/", Route::kUploadStart, "a");
  expect_route("/v2/a/blobs/uploads", Route::kUploadStart, "a");
  expect_route("/v2/a/b/blobs/uploads/", Route::kUploadStart, "a/b");
}

TEST(RoutesTest, Upload) {
  const std::string id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
  expect_route("/v2/a/blobs/uploads/" + id, Route::kUpload, "a", id);
  expect_route("/v2/a/b/c/blobs/uploads/" + id, Route::kUpload, "a/b/c", id);
}

TEST(RoutesTest, Referrers) {
  expect_route(std::string("/v2/a/referrers/") + kDigest, Route::kReferrers, "a", kDigest);
  expect_route(std::string("/v2/a/b/referrers/") + kDigest, Route::kReferrers, "a/b", kDigest);
}

TEST(RoutesTest, NamesContainingPathWords) {
  expect_route("/v2/a/manifests/b/manifests/latest", Route::kManifest, "a/manifests/b", "latest");
  expect_route("/v2/manifests/manifests/latest", Route::kManifest, "manifests", "latest");
  expect_route(std::string("/v2/blobs/blobs/") + kDigest, Route::kBlob, "blobs", kDigest);
  expect_route(std::string("/v2/a/blobs/blobs/") + kDigest, Route::kBlob, "a/blobs", kDigest);
  expect_route(std::string("/v2/a/blobs/uploads/blobs/") + kDigest, Route::kBlob, "a/blobs/uploads",
               kDigest);
  expect_route("/v2/blobs/blobs/uploads/", Route::kUploadStart, "blobs");
  expect_route("/v2/a/blobs/uploads/blobs/uploads/", Route::kUploadStart, "a/blobs/uploads");
  expect_route("/v2/a/blobs/blobs/uploads/id-1", Route::kUpload, "a/blobs", "id-1");
  expect_route("/v2/uploads/blobs/uploads/id-1", Route::kUpload, "uploads", "id-1");
  expect_route("/v2/x/tags/tags/list", Route::kTags, "x/tags");
  expect_route("/v2/tags/list/tags/list", Route::kTags, "tags/list");
  expect_route("/v2/a/tags/manifests/list", Route::kManifest, "a/tags", "list");
  expect_route(std::string("/v2/referrers/referrers/") + kDigest, Route::kReferrers, "referrers",
               kDigest);
  expect_route("/v2/_catalog/manifests/latest", Route::kManifest, "_catalog", "latest");
  expect_route("/v2/v2/manifests/latest", Route::kManifest, "v2", "latest");
}

TEST(RoutesTest, ReferenceNamedLikeAPathWord) {
  expect_route("/v2/a/manifests/manifests", Route::kManifest, "a", "manifests");
  expect_route("/v2/a/manifests/list", Route::kManifest, "a", "list");
  expect_route("/v2/a/manifests/uploads", Route::kManifest, "a", "uploads");
}

TEST(RoutesTest, TrailingSlashesAreNotRoutes) {
  expect_unknown("/v2/a/manifests/latest/");
  expect_unknown(std::string("/v2/a/blobs/") + kDigest + "/");
  expect_unknown("/v2/a/tags/list/");
  expect_unknown("/v2/a/blobs/uploads/id-1/");
  expect_unknown(std::string("/v2/a/referrers/") + kDigest + "/");
  expect_unknown("/v2/_catalog/");
  expect_unknown("/v2/a/manifests/");
  expect_unknown("/v2/a/blobs/");
}

TEST(RoutesTest, MissingNames) {
  expect_unknown("/v2/manifests/latest");
  expect_unknown(std::string("/v2/blobs/") + kDigest);
  expect_unknown("/v2/tags/list");
  expect_unknown("/v2//tags/list");
  expect_unknown("/v2/blobs/uploads/");
  expect_unknown("/v2/blobs/uploads");
  expect_unknown("/v2//blobs/uploads/");
  expect_unknown("/v2/referrers/x");
}

TEST(RoutesTest, UnknownPaths) {
  expect_unknown("");
  expect_unknown("/");
  expect_unknown("/v1/");
  expect_unknown("/v3/a/manifests/latest");
  expect_unknown("/v2x");
  expect_unknown("/V2/");
  expect_unknown("v2/a/manifests/latest");
  expect_unknown("/v2/a");
  expect_unknown("/v2/a/b");
  expect_unknown("/v2/a/tags");
  expect_unknown("/v2/a/tags/other");
  expect_unknown("/v2/a/manifest/latest");
  expect_unknown("/v2/a/blob/x");
  expect_unknown("/v2/a/uploads/x");  // "uploads" only under "blobs"
  expect_unknown("/v2/_catalog/x");
  expect_unknown("/v2//");
}

TEST(RoutesTest, NamesAreReturnedUnvalidated) {
  // Validation is the handler's job; the router only splits.
  expect_route("/v2/Upper/Case/manifests/x", Route::kManifest, "Upper/Case", "x");
  expect_route("/v2/a//b/manifests/x", Route::kManifest, "a//b", "x");
}

// --- paging ---------------------------------------------------------------------------

Result<PageRequest> page(std::string_view target, size_t default_limit = 0,
                         size_t max_limit = 1000) {
  auto url = boost::urls::parse_origin_form(target);
  EXPECT_TRUE(url.has_value()) << target;
  return page_from_query(*url, default_limit, max_limit);
}

TEST(PagingTest, DefaultsWithoutQuery) {
  Result<PageRequest> p = page("/v2/_catalog");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->limit, 0u);
  EXPECT_EQ(p->after, "");

  Result<PageRequest> d = page("/v2/_catalog", 100, 1000);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->limit, 100u);
}

TEST(PagingTest, NAndLast) {
  Result<PageRequest> p = page("/v2/a/tags/list?n=10&last=v1.2");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->limit, 10u);
  EXPECT_EQ(p->after, "v1.2");

  Result<PageRequest> reordered = page("/v2/a/tags/list?last=b&n=3");
  ASSERT_TRUE(reordered.is_ok());
  EXPECT_EQ(reordered->limit, 3u);
  EXPECT_EQ(reordered->after, "b");

  Result<PageRequest> only_last = page("/v2/_catalog?last=org/app", 50, 1000);
  ASSERT_TRUE(only_last.is_ok());
  EXPECT_EQ(only_last->limit, 50u);
  EXPECT_EQ(only_last->after, "org/app");
}

TEST(PagingTest, LastIsPercentDecoded) {
  Result<PageRequest> p = page("/v2/_catalog?n=2&last=org%2Fapp");
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->after, "org/app");
}

TEST(PagingTest, NIsCappedAtTheMaximum) {
  Result<PageRequest> p = page("/v2/_catalog?n=5000", 100, 1000);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->limit, 1000u);
  Result<PageRequest> at = page("/v2/_catalog?n=1000", 100, 1000);
  ASSERT_TRUE(at.is_ok());
  EXPECT_EQ(at->limit, 1000u);
  Result<PageRequest> below = page("/v2/_catalog?n=999", 100, 1000);
  ASSERT_TRUE(below.is_ok());
  EXPECT_EQ(below->limit, 999u);
  Result<PageRequest> huge = page("/v2/_catalog?n=18446744073709551615", 100, 1000);
  ASSERT_TRUE(huge.is_ok());
  EXPECT_EQ(huge->limit, 1000u);
}

TEST(PagingTest, NZeroAsksForAnEmptyPageNotForEverything) {
  // limit 0 would mean "no limit" to a MetadataStore; n=0 must not turn into it.
  Result<PageRequest> p = page("/v2/_catalog?n=0", 100, 1000);
  ASSERT_TRUE(p.is_ok());
  EXPECT_NE(p->limit, 0u);
  EXPECT_EQ(p->limit, SIZE_MAX);  // the marker oci/listing.cc answers with an empty list
}

TEST(PagingTest, MalformedNIsInvalidArgument) {
  for (std::string_view target :
       {"/v2/_catalog?n=abc", "/v2/_catalog?n=-1", "/v2/_catalog?n=", "/v2/_catalog?n=1.5",
        "/v2/_catalog?n=10x", "/v2/_catalog?n=%2010", "/v2/_catalog?n=+5",
        "/v2/_catalog?n=99999999999999999999999"}) {
    Result<PageRequest> p = page(target);
    ASSERT_FALSE(p.is_ok()) << target;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << target;
  }
}

TEST(PagingTest, NextLinkFormat) {
  EXPECT_EQ(next_link("/v2/_catalog", 10, "b"), "</v2/_catalog?n=10&last=b>; rel=\"next\"");
  EXPECT_EQ(next_link("/v2/a/b/tags/list", 2, "v1.0"),
            "</v2/a/b/tags/list?n=2&last=v1.0>; rel=\"next\"");
}

// The link must lead back to the same page request: query delimiters, '%'
// and '+' (which page_from_query reads form-style, as a space, when bare)
// must survive.
TEST(PagingTest, NextLinkRoundTripsThroughPageFromQuery) {
  for (std::string_view last : {"org/team/app", "v1.0_rc-1", "a__b/c--d", "a b", "a&n=5", "x=y",
                                "100%", "frag#ment", "team+s/app", "a+b c", ""}) {
    const std::string link = next_link("/v2/_catalog", 7, last);
    ASSERT_EQ(link.front(), '<') << link;
    const auto close = link.find('>');
    ASSERT_NE(close, std::string::npos) << link;
    EXPECT_EQ(link.substr(close), ">; rel=\"next\"") << link;
    const std::string target = link.substr(1, close - 1);
    auto url = boost::urls::parse_origin_form(target);
    ASSERT_TRUE(url.has_value()) << "unparsable link target " << target;
    EXPECT_EQ(url->path(), "/v2/_catalog");
    Result<PageRequest> p = page_from_query(*url, 0, 1000);
    ASSERT_TRUE(p.is_ok()) << target;
    EXPECT_EQ(p->limit, 7u) << target;
    EXPECT_EQ(p->after, last) << target;
  }
}

}  // namespace
}  // namespace berth::oci

// The permission map of ECR-API.md §7.2, route by route.
namespace berth::oci {
namespace {

TEST(PermissionMapTest, EveryRouteNeedsItsEcrAction) {
  struct Case {
    Route route;
    const char* method;
    const char* action;
  };
  const Case cases[] = {
      {Route::kBase, "GET", ""},
      {Route::kCatalog, "GET", "ecr:DescribeRepositories"},
      {Route::kTags, "GET", "ecr:ListImages"},
      {Route::kManifest, "GET", "ecr:BatchGetImage"},
      {Route::kManifest, "HEAD", "ecr:BatchGetImage"},
      {Route::kManifest, "PUT", "ecr:PutImage"},
      {Route::kManifest, "DELETE", "ecr:BatchDeleteImage"},
      {Route::kBlob, "GET", "ecr:GetDownloadUrlForLayer"},
      {Route::kBlob, "HEAD", "ecr:BatchCheckLayerAvailability"},
      {Route::kBlob, "DELETE", "ecr:BatchDeleteImage"},
      {Route::kUploadStart, "POST", "ecr:InitiateLayerUpload"},
      {Route::kUpload, "PATCH", "ecr:UploadLayerPart"},
      {Route::kUpload, "GET", "ecr:UploadLayerPart"},
      {Route::kUpload, "DELETE", "ecr:UploadLayerPart"},
      {Route::kUpload, "PUT", "ecr:CompleteLayerUpload"},
      {Route::kReferrers, "GET", "ecr:BatchGetImage"},
      // Methods no route serves need no action: the handler refuses them.
      {Route::kBlob, "PUT", ""},
      {Route::kCatalog, "POST", ""},
      {Route::kUnknown, "GET", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(required_action(c.route, c.method), c.action)
        << "route " << static_cast<int>(c.route) << " " << c.method;
  }
}

}  // namespace
}  // namespace berth::oci
