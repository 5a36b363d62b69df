// Manifest parsing, against the OCI image-spec (manifest.md, image-index.md,
// descriptor.md), the Docker image manifest v2 schema 2 and the
// distribution-spec v1.1 rules on Content-Type.
#include "core/manifest.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cctype>
#include <string>
#include <vector>

namespace berth {
namespace {
namespace json = boost::json;

constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr std::string_view kDockerForeign =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// Distinct, well-formed digests for descriptors.
Digest digest_of(std::string_view s) {
  return Digest::of(s);
}

json::object descriptor(std::string_view media_type, const Digest& d, int64_t size) {
  return json::object{{"mediaType", media_type}, {"digest", d.str()}, {"size", size}};
}

// An OCI image manifest with a config and two layers.
json::object oci_image() {
  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = media_type::kOciManifest;
  m["config"] = descriptor(kOciConfig, digest_of("config"), 6);
  m["layers"] = json::array{descriptor(kOciLayer, digest_of("layer-1"), 100),
                            descriptor(kOciLayer, digest_of("layer-2"), 200)};
  return m;
}

json::object oci_index() {
  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = media_type::kOciIndex;
  json::object amd64 = descriptor(media_type::kOciManifest, digest_of("amd64"), 500);
  amd64["platform"] = json::object{{"architecture", "amd64"}, {"os", "linux"}};
  json::object arm64 = descriptor(media_type::kOciManifest, digest_of("arm64"), 501);
  arm64["platform"] = json::object{{"architecture", "arm64"}, {"os", "linux"}};
  m["manifests"] = json::array{amd64, arm64};
  return m;
}

std::string text(const json::value& v) {
  return json::serialize(v);
}

ParsedManifest parse_ok(const json::value& doc, std::string_view content_type = "") {
  Result<ParsedManifest> r = parse_manifest(text(doc), content_type);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string() << "\n" << text(doc);
  return r.is_ok() ? *r : ParsedManifest{};
}

Status parse_status(std::string_view bytes, std::string_view content_type = "") {
  Result<ParsedManifest> r = parse_manifest(bytes, content_type);
  return r.is_ok() ? Status::ok() : r.status();
}

void expect_invalid(const json::value& doc, std::string_view content_type = "",
                    std::string_view message_part = "") {
  Status s = parse_status(text(doc), content_type);
  ASSERT_FALSE(s.is_ok()) << "accepted: " << text(doc);
  EXPECT_EQ(s.code(), Code::kManifestInvalid) << s.to_string();
  if (!message_part.empty()) {
    EXPECT_NE(s.message().find(message_part), std::string::npos)
        << "message '" << s.message() << "' lacks '" << message_part << "'";
  }
}

// --- OCI image manifest -------------------------------------------------------

TEST(ManifestTest, OciImageManifest) {
  ParsedManifest m = parse_ok(oci_image(), media_type::kOciManifest);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  EXPECT_EQ(m.media_type, media_type::kOciManifest);
  ASSERT_TRUE(m.config.has_value());
  EXPECT_EQ(m.config->media_type, kOciConfig);
  EXPECT_EQ(m.config->digest, digest_of("config"));
  EXPECT_EQ(m.config->size, 6);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].digest, digest_of("layer-1"));
  EXPECT_EQ(m.layers[0].size, 100);
  EXPECT_EQ(m.layers[1].digest, digest_of("layer-2"));
  EXPECT_EQ(m.layers[1].media_type, kOciLayer);
  EXPECT_FALSE(m.layers[0].external);
  EXPECT_TRUE(m.manifests.empty());
  EXPECT_FALSE(m.subject.has_value());
  EXPECT_TRUE(m.annotations.empty());
  // Without artifactType the config media type stands in.
  EXPECT_EQ(m.artifact_type, kOciConfig);
  EXPECT_EQ(m.required_blobs(),
            (std::vector<Digest>{digest_of("config"), digest_of("layer-1"), digest_of("layer-2")}));
  EXPECT_TRUE(m.child_manifests().empty());
}

TEST(ManifestTest, OciImageWithoutLayersIsValid) {
  json::object doc = oci_image();
  doc["layers"] = json::array{};
  ParsedManifest m = parse_ok(doc);
  EXPECT_TRUE(m.layers.empty());
  EXPECT_EQ(m.required_blobs(), std::vector<Digest>{digest_of("config")});
}

TEST(ManifestTest, MediaTypeComesFromContentTypeWhenTheDocumentHasNone) {
  json::object doc = oci_image();
  doc.erase("mediaType");
  ParsedManifest m = parse_ok(doc, media_type::kOciManifest);
  EXPECT_EQ(m.media_type, media_type::kOciManifest);

  json::object idx = oci_index();
  idx.erase("mediaType");
  ParsedManifest i = parse_ok(idx, media_type::kOciIndex);
  EXPECT_EQ(i.media_type, media_type::kOciIndex);
  EXPECT_EQ(i.kind, ManifestKind::kIndex);
}

TEST(ManifestTest, MediaTypeIsInferredFromStructureWithGenericContentType) {
  json::object doc = oci_image();
  doc.erase("mediaType");
  for (std::string_view ct : {"", "application/json", "application/octet-stream", "text/plain"}) {
    ParsedManifest m = parse_ok(doc, ct);
    EXPECT_EQ(m.media_type, media_type::kOciManifest) << ct;
    EXPECT_EQ(m.kind, ManifestKind::kImage) << ct;
  }
  json::object idx = oci_index();
  idx.erase("mediaType");
  ParsedManifest i = parse_ok(idx, "application/json");
  EXPECT_EQ(i.media_type, media_type::kOciIndex);
  EXPECT_EQ(i.kind, ManifestKind::kIndex);
}

TEST(ManifestTest, GenericContentTypeWithDeclaredMediaTypeIsAccepted) {
  ParsedManifest m = parse_ok(oci_image(), "application/json");
  EXPECT_EQ(m.media_type, media_type::kOciManifest);
}

TEST(ManifestTest, ContentTypeParametersAreIgnored) {
  ParsedManifest m =
      parse_ok(oci_image(), std::string(media_type::kOciManifest) + "; charset=utf-8");
  EXPECT_EQ(m.media_type, media_type::kOciManifest);
}

// --- OCI index ---------------------------------------------------------------------

TEST(ManifestTest, OciIndex) {
  ParsedManifest m = parse_ok(oci_index(), media_type::kOciIndex);
  EXPECT_EQ(m.kind, ManifestKind::kIndex);
  EXPECT_EQ(m.media_type, media_type::kOciIndex);
  EXPECT_FALSE(m.config.has_value());
  EXPECT_TRUE(m.layers.empty());
  ASSERT_EQ(m.manifests.size(), 2u);
  EXPECT_EQ(m.manifests[0].media_type, media_type::kOciManifest);
  EXPECT_EQ(m.manifests[1].size, 501);
  EXPECT_EQ(m.child_manifests(), (std::vector<Digest>{digest_of("amd64"), digest_of("arm64")}));
  EXPECT_TRUE(m.required_blobs().empty());
  EXPECT_TRUE(m.artifact_type.empty());
}

TEST(ManifestTest, EmptyIndexIsValid) {
  json::object doc = oci_index();
  doc["manifests"] = json::array{};
  ParsedManifest m = parse_ok(doc);
  EXPECT_TRUE(m.manifests.empty());
  EXPECT_TRUE(m.child_manifests().empty());
}

TEST(ManifestTest, IndexWithArtifactType) {
  json::object doc = oci_index();
  doc["artifactType"] = "application/vnd.example.bundle";
  ParsedManifest m = parse_ok(doc);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.bundle");
}

TEST(ManifestTest, IndexPlatformMustBeAnObject) {
  json::object doc = oci_index();
  doc["manifests"].as_array()[1].as_object()["platform"] = "linux/arm64";
  expect_invalid(doc, "", "platform");
}

TEST(ManifestTest, IndexEntriesAreFullDescriptors) {
  json::object doc = oci_index();
  doc["manifests"].as_array()[0].as_object().erase("digest");
  expect_invalid(doc, "", "manifests[0]");

  json::object not_object = oci_index();
  not_object["manifests"].as_array().push_back("sha256:abc");
  expect_invalid(not_object, "", "manifests[2]");
}

// --- Docker schema 2 -------------------------------------------------------------

json::object docker_image() {
  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = media_type::kDockerManifest;
  m["config"] = descriptor(kDockerConfig, digest_of("docker-config"), 1469);
  m["layers"] = json::array{descriptor(kDockerLayer, digest_of("docker-layer"), 2479)};
  return m;
}

TEST(ManifestTest, DockerV2Manifest) {
  ParsedManifest m = parse_ok(docker_image(), media_type::kDockerManifest);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  EXPECT_EQ(m.media_type, media_type::kDockerManifest);
  ASSERT_TRUE(m.config.has_value());
  EXPECT_EQ(m.config->digest, digest_of("docker-config"));
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.artifact_type, kDockerConfig);
  EXPECT_EQ(m.required_blobs(),
            (std::vector<Digest>{digest_of("docker-config"), digest_of("docker-layer")}));
}

TEST(ManifestTest, DockerManifestList) {
  json::object doc;
  doc["schemaVersion"] = 2;
  doc["mediaType"] = media_type::kDockerManifestList;
  json::object entry = descriptor(media_type::kDockerManifest, digest_of("docker-amd64"), 7143);
  entry["platform"] = json::object{{"architecture", "amd64"}, {"os", "linux"}};
  doc["manifests"] = json::array{entry};
  ParsedManifest m = parse_ok(doc, media_type::kDockerManifestList);
  EXPECT_EQ(m.kind, ManifestKind::kIndex);
  EXPECT_EQ(m.media_type, media_type::kDockerManifestList);
  EXPECT_EQ(m.child_manifests(), std::vector<Digest>{digest_of("docker-amd64")});
}

TEST(ManifestTest, DockerManifestMustDeclareItsMediaType) {
  json::object doc = docker_image();
  doc.erase("mediaType");
  expect_invalid(doc, media_type::kDockerManifest, "mediaType");
}

// ECR PutImage names the media type beside the manifest
// (imageManifestMediaType); then the document need not carry it.
TEST(ManifestTest, DockerManifestTypeMayBeGivenOutOfBand) {
  json::object doc = docker_image();
  doc.erase("mediaType");
  auto parsed = parse_manifest(json::serialize(doc), media_type::kDockerManifest, true);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->media_type, media_type::kDockerManifest);
  EXPECT_EQ(parsed->layers.size(), docker_image().at("layers").as_array().size());
}

ManifestUrlPolicy allow(std::vector<std::string> patterns) {
  auto policy = ManifestUrlPolicy::compile(patterns);
  EXPECT_TRUE(policy.is_ok()) << policy.status().to_string();
  return policy.is_ok() ? *policy : ManifestUrlPolicy{};
}

TEST(ManifestTest, ForeignLayersWithAllowedUrlsAreNotRequiredBlobs) {
  json::object doc = docker_image();
  json::object foreign = descriptor(kDockerForeign, digest_of("windows-base"), 5000);
  foreign["urls"] = json::array{"https://mcr.microsoft.com/v2/windows/blobs/x"};
  doc["layers"].as_array().insert(doc["layers"].as_array().begin(), foreign);
  ParsedManifest m = parse_ok(doc);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].urls,
            std::vector<std::string>{"https://mcr.microsoft.com/v2/windows/blobs/x"});
  EXPECT_FALSE(m.layers[0].external);  // parsing alone decides nothing
  ASSERT_TRUE(check_descriptor_urls(m, allow({R"(^https://mcr\.microsoft\.com/)"})).is_ok());
  EXPECT_TRUE(m.layers[0].external);
  EXPECT_FALSE(m.layers[1].external);
  EXPECT_EQ(m.required_blobs(),
            (std::vector<Digest>{digest_of("docker-config"), digest_of("docker-layer")}));
}

// Off by default, as berth cannot vouch for content elsewhere.
TEST(ManifestTest, UrlsAreRefusedByTheDefaultPolicy) {
  json::object doc = docker_image();
  json::object foreign = descriptor(kDockerForeign, digest_of("windows-base"), 5000);
  foreign["urls"] = json::array{"https://mcr.microsoft.com/v2/windows/blobs/x"};
  doc["layers"].as_array().insert(doc["layers"].as_array().begin(), foreign);
  ParsedManifest m = parse_ok(doc);
  Status s = check_descriptor_urls(m, ManifestUrlPolicy{});
  EXPECT_EQ(s.code(), Code::kManifestInvalid);
  EXPECT_NE(s.message().find("layers[0]"), std::string::npos) << s.message();
  EXPECT_FALSE(m.layers[0].external);
}

TEST(ManifestTest, UrlsOnlyOnForeignLayerMediaTypes) {
  const ManifestUrlPolicy policy = allow({"^https://"});
  for (std::string_view type :
       {media_type::kOciNondistributableLayer, media_type::kOciNondistributableLayerGzip,
        media_type::kOciNondistributableLayerZstd, media_type::kDockerForeignLayer}) {
    json::object doc = oci_image();
    doc["layers"].as_array()[0].as_object()["mediaType"] = type;
    doc["layers"].as_array()[0].as_object()["urls"] = json::array{"https://cdn.example/l"};
    ParsedManifest m = parse_ok(doc);
    EXPECT_TRUE(check_descriptor_urls(m, policy).is_ok()) << type;
    EXPECT_TRUE(m.layers[0].external) << type;
  }
  // An ordinary layer, the config, an index entry or the subject: never.
  json::object layer = oci_image();
  layer["layers"].as_array()[0].as_object()["urls"] = json::array{"https://cdn.example/l"};
  json::object config = oci_image();
  config["config"].as_object()["urls"] = json::array{"https://cdn.example/c"};
  json::object subject = oci_image();
  subject["subject"] = descriptor(media_type::kOciManifest, digest_of("s"), 3);
  subject["subject"].as_object()["urls"] = json::array{"https://cdn.example/s"};
  json::object index = oci_index();
  index["manifests"].as_array()[0].as_object()["urls"] = json::array{"https://cdn.example/m"};
  for (const json::object& doc : {layer, config, subject, index}) {
    ParsedManifest m = parse_ok(doc);
    Status s = check_descriptor_urls(m, policy);
    EXPECT_EQ(s.code(), Code::kManifestInvalid) << text(doc);
    EXPECT_NE(s.message().find("only on foreign layers"), std::string::npos) << s.message();
  }
}

TEST(ManifestTest, UrlPolicyMatchesLikeDistribution) {
  const ManifestUrlPolicy policy = allow({R"(^https?://cdn\.example/)", "mirror"});
  EXPECT_TRUE(policy.allows("https://cdn.example/layer"));
  EXPECT_TRUE(
      policy.allows("https://other.example/mirror/x"));  // a match anywhere, as Go's MatchString
  EXPECT_FALSE(policy.allows("https://cdn.example.evil/layer"));
  EXPECT_FALSE(policy.allows("ftp://cdn.example/mirror"));  // http and https only
  EXPECT_FALSE(policy.allows("file:///mirror"));
  EXPECT_FALSE(policy.allows("https:///mirror"));               // no host
  EXPECT_FALSE(policy.allows("https://cdn.example/l#mirror"));  // no fragment
  EXPECT_FALSE(policy.allows("https://cdn.example/l mirror"));
  EXPECT_FALSE(ManifestUrlPolicy{}.allows("https://cdn.example/layer"));
  EXPECT_EQ(ManifestUrlPolicy::compile({"(unclosed"}).status().code(), Code::kInvalidArgument);
}

TEST(ManifestTest, UrlsMustBeStrings) {
  json::object doc = oci_image();
  doc["layers"].as_array()[0].as_object()["urls"] = json::array{1};
  expect_invalid(doc, "", "urls");
}

TEST(ManifestTest, EmptyUrlsMakeNoForeignLayer) {
  json::object doc = oci_image();
  doc["layers"].as_array()[0].as_object()["urls"] = json::array{};
  ParsedManifest m = parse_ok(doc);
  ASSERT_TRUE(check_descriptor_urls(m, ManifestUrlPolicy{}).is_ok());
  EXPECT_FALSE(m.layers[0].external);
  EXPECT_EQ(m.required_blobs().size(), 3u);
}

TEST(ManifestTest, UrlsMustBeAnArray) {
  json::object doc = oci_image();
  doc["layers"].as_array()[0].as_object()["urls"] = "https://example.com/layer";
  expect_invalid(doc, "", "urls");
}

// --- artifacts ---------------------------------------------------------------------

TEST(ManifestTest, ArtifactWithArtifactTypeAndEmptyConfig) {
  json::object doc;
  doc["schemaVersion"] = 2;
  doc["mediaType"] = media_type::kOciManifest;
  doc["artifactType"] = "application/vnd.example.sbom.v1+json";
  doc["config"] = descriptor(media_type::kOciEmpty, Digest::of("{}"), 2);
  doc["layers"] =
      json::array{descriptor("application/vnd.example.sbom.v1+json", digest_of("sbom"), 1234)};
  ParsedManifest m = parse_ok(doc);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.sbom.v1+json");
  EXPECT_EQ(m.config->media_type, media_type::kOciEmpty);
  EXPECT_EQ(m.config->digest, Digest::of("{}"));
}

TEST(ManifestTest, ArtifactTypeFallsBackToAnArbitraryConfigMediaType) {
  json::object doc = oci_image();
  doc["config"] = descriptor("application/vnd.example.thing.config.v1+json", digest_of("c"), 1);
  ParsedManifest m = parse_ok(doc);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.thing.config.v1+json");
}

TEST(ManifestTest, ArtifactTypeMustBeAString) {
  json::object doc = oci_image();
  doc["artifactType"] = 7;
  expect_invalid(doc, "", "artifactType");
}

TEST(ManifestTest, DescriptorArtifactTypeIsKept) {
  json::object doc = oci_index();
  doc["manifests"].as_array()[0].as_object()["artifactType"] = "application/vnd.example.sig";
  ParsedManifest m = parse_ok(doc);
  EXPECT_EQ(m.manifests[0].artifact_type, "application/vnd.example.sig");
  EXPECT_TRUE(m.manifests[1].artifact_type.empty());
}

// --- subject -------------------------------------------------------------------------

TEST(ManifestTest, SubjectIsParsed) {
  json::object doc = oci_image();
  doc["subject"] = descriptor(media_type::kOciManifest, digest_of("the-subject"), 321);
  ParsedManifest m = parse_ok(doc);
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->digest, digest_of("the-subject"));
  EXPECT_EQ(m.subject->media_type, media_type::kOciManifest);
  EXPECT_EQ(m.subject->size, 321);
  // The subject is not a blob the repository must hold.
  EXPECT_EQ(m.required_blobs().size(), 3u);
}

TEST(ManifestTest, IndexMayHaveASubject) {
  json::object doc = oci_index();
  doc["subject"] = descriptor(media_type::kOciIndex, digest_of("parent-index"), 99);
  ParsedManifest m = parse_ok(doc);
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->digest, digest_of("parent-index"));
  EXPECT_EQ(m.child_manifests().size(), 2u);
}

TEST(ManifestTest, MalformedSubjectIsInvalid) {
  json::object doc = oci_image();
  doc["subject"] = "sha256:0000";
  expect_invalid(doc, "", "subject");
  json::object bad_digest = oci_image();
  bad_digest["subject"] =
      json::object{{"mediaType", media_type::kOciManifest}, {"digest", "sha256:abc"}, {"size", 1}};
  expect_invalid(bad_digest, "", "subject");
}

// --- schema 1 and media types ------------------------------------------------------------

TEST(ManifestTest, Schema1IsRefusedByContentType) {
  for (std::string_view ct : {media_type::kDockerSchema1, media_type::kDockerSchema1Signed}) {
    // Even a body that would otherwise parse as schema 2.
    expect_invalid(oci_image(), ct, "schema 1");
  }
  expect_invalid(oci_image(), std::string(media_type::kDockerSchema1Signed) + "; charset=utf-8",
                 "schema 1");
}

TEST(ManifestTest, Schema1IsRefusedBySchemaVersion) {
  json::object doc{{"schemaVersion", 1},
                   {"name", "library/hello"},
                   {"tag", "latest"},
                   {"architecture", "amd64"},
                   {"fsLayers", json::array{json::object{{"blobSum", digest_of("x").str()}}}},
                   {"history", json::array{}}};
  expect_invalid(doc, "", "schema 1");
  expect_invalid(doc, "application/json", "schema 1");
}

TEST(ManifestTest, Schema1IsRefusedByDeclaredMediaType) {
  json::object doc = oci_image();
  doc["mediaType"] = media_type::kDockerSchema1Signed;
  expect_invalid(doc, "", "schema 1");
}

TEST(ManifestTest, SchemaVersionMustBeTheInteger2) {
  json::object missing = oci_image();
  missing.erase("schemaVersion");
  expect_invalid(missing, "", "schemaVersion");
  json::object three = oci_image();
  three["schemaVersion"] = 3;
  expect_invalid(three, "", "schemaVersion");
  json::object as_string = oci_image();
  as_string["schemaVersion"] = "2";
  expect_invalid(as_string, "", "schemaVersion");
  json::object as_double = oci_image();
  as_double["schemaVersion"] = 2.0;
  expect_invalid(as_double, "", "schemaVersion");
}

TEST(ManifestTest, ContentTypeMustMatchDeclaredMediaType) {
  expect_invalid(oci_image(), media_type::kDockerManifest, "does not match");
  expect_invalid(oci_image(), media_type::kOciIndex, "does not match");
  expect_invalid(docker_image(), media_type::kOciManifest, "does not match");
  expect_invalid(oci_image(), "application/vnd.example.other", "does not match");
}

TEST(ManifestTest, NonManifestMediaTypesAreRefused) {
  json::object doc = oci_image();
  doc["mediaType"] = kOciConfig;
  expect_invalid(doc, "", "unsupported");
  json::object no_mt = oci_image();
  no_mt.erase("mediaType");
  expect_invalid(no_mt, "application/vnd.example.other", "unsupported");
  json::object not_string = oci_image();
  not_string["mediaType"] = 5;
  expect_invalid(not_string, "", "mediaType");
}

TEST(ManifestTest, IsManifestMediaType) {
  EXPECT_TRUE(is_manifest_media_type(media_type::kOciManifest));
  EXPECT_TRUE(is_manifest_media_type(media_type::kOciIndex));
  EXPECT_TRUE(is_manifest_media_type(media_type::kDockerManifest));
  EXPECT_TRUE(is_manifest_media_type(media_type::kDockerManifestList));
  EXPECT_FALSE(is_manifest_media_type(media_type::kDockerSchema1));
  EXPECT_FALSE(is_manifest_media_type(media_type::kDockerSchema1Signed));
  EXPECT_FALSE(is_manifest_media_type(media_type::kOciEmpty));
  EXPECT_FALSE(is_manifest_media_type(kOciConfig));
  EXPECT_FALSE(is_manifest_media_type(""));
  EXPECT_FALSE(is_manifest_media_type("application/json"));
}

// --- structure ---------------------------------------------------------------------------

TEST(ManifestTest, MissingConfigLayersOrManifests) {
  json::object no_config = oci_image();
  no_config.erase("config");
  expect_invalid(no_config, "", "config");

  json::object no_layers = oci_image();
  no_layers.erase("layers");
  expect_invalid(no_layers, "", "layers");

  json::object layers_object = oci_image();
  layers_object["layers"] = json::object{};
  expect_invalid(layers_object, "", "layers");

  json::object config_array = oci_image();
  config_array["config"] = json::array{};
  expect_invalid(config_array, "", "config");

  json::object no_manifests = oci_index();
  no_manifests.erase("manifests");
  expect_invalid(no_manifests, "", "manifests");

  json::object manifests_null = oci_index();
  manifests_null["manifests"] = nullptr;
  expect_invalid(manifests_null, "", "manifests");
}

TEST(ManifestTest, ImageAndIndexFieldsDoNotMix) {
  json::object image_with_manifests = oci_image();
  image_with_manifests["manifests"] = json::array{};
  expect_invalid(image_with_manifests, "", "manifests");

  json::object index_with_config = oci_index();
  index_with_config["config"] = descriptor(kOciConfig, digest_of("config"), 6);
  expect_invalid(index_with_config, "", "config");

  json::object index_with_layers = oci_index();
  index_with_layers["layers"] = json::array{};
  expect_invalid(index_with_layers, "", "layers");
}

// Replaces one field of the first layer descriptor.
json::object with_layer_field(std::string_view key, json::value v) {
  json::object doc = oci_image();
  doc["layers"].as_array()[0].as_object()[key] = std::move(v);
  return doc;
}

json::object without_layer_field(std::string_view key) {
  json::object doc = oci_image();
  doc["layers"].as_array()[0].as_object().erase(key);
  return doc;
}

TEST(ManifestTest, BadDescriptorDigests) {
  const std::string hex = digest_of("x").hex();
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad :
       {std::string("sha256:") + hex.substr(1), std::string("sha256:") + upper, "md5:" + hex, hex,
        std::string(""), std::string("sha256:"), "sha512:" + hex}) {
    expect_invalid(with_layer_field("digest", json::value(bad)), "", "layers[0]");
  }
  expect_invalid(with_layer_field("digest", 42), "", "digest");
  expect_invalid(without_layer_field("digest"), "", "digest");
  // The config is checked the same way.
  json::object doc = oci_image();
  doc["config"].as_object()["digest"] = "sha256:nothex";
  expect_invalid(doc, "", "config");
}

TEST(ManifestTest, BadDescriptorSizes) {
  expect_invalid(with_layer_field("size", -1), "", "size");
  expect_invalid(with_layer_field("size", "100"), "", "size");
  expect_invalid(with_layer_field("size", 1.5), "", "size");
  expect_invalid(with_layer_field("size", nullptr), "", "size");
  expect_invalid(without_layer_field("size"), "", "size");
  expect_invalid(with_layer_field("size", json::value(uint64_t{1} << 63)), "", "size");
}

TEST(ManifestTest, LargestAndSmallestDescriptorSizes) {
  ParsedManifest big = parse_ok(with_layer_field("size", json::value(INT64_MAX)));
  EXPECT_EQ(big.layers[0].size, INT64_MAX);
  ParsedManifest zero = parse_ok(with_layer_field("size", 0));
  EXPECT_EQ(zero.layers[0].size, 0);
}

TEST(ManifestTest, BadDescriptorMediaTypes) {
  expect_invalid(without_layer_field("mediaType"), "", "mediaType");
  expect_invalid(with_layer_field("mediaType", ""), "", "mediaType");
  expect_invalid(with_layer_field("mediaType", 1), "", "mediaType");
}

TEST(ManifestTest, NotAJsonObject) {
  for (std::string_view bytes :
       {std::string_view("[]"), std::string_view("\"manifest\""), std::string_view("2"),
        std::string_view("null"), std::string_view("true")}) {
    Status s = parse_status(bytes);
    ASSERT_FALSE(s.is_ok()) << bytes;
    EXPECT_EQ(s.code(), Code::kManifestInvalid) << bytes;
  }
}

TEST(ManifestTest, NotJsonAtAll) {
  const std::string valid = text(oci_image());
  for (const std::string& bytes : {std::string(""), std::string("{"), std::string("not json"),
                                   valid.substr(0, valid.size() - 1), valid + "}"}) {
    Status s = parse_status(bytes);
    ASSERT_FALSE(s.is_ok()) << bytes;
    EXPECT_EQ(s.code(), Code::kManifestInvalid) << bytes;
  }
}

// A valid OCI image manifest padded with an annotation to exactly `total` bytes.
std::string manifest_of_size(size_t total) {
  json::object doc = oci_image();
  doc["annotations"] = json::object{{"pad", ""}};
  const size_t base = text(doc).size();
  EXPECT_LE(base, total);
  doc["annotations"].as_object()["pad"] = std::string(total - base, 'x');
  std::string out = text(doc);
  EXPECT_EQ(out.size(), total);
  return out;
}

TEST(ManifestTest, FourMiBIsTheLimit) {
  const std::string at_limit = manifest_of_size(kMaxManifestBytes);
  Result<ParsedManifest> ok = parse_manifest(at_limit, media_type::kOciManifest);
  EXPECT_TRUE(ok.is_ok()) << ok.status().to_string();

  const std::string over = manifest_of_size(kMaxManifestBytes + 1);
  Result<ParsedManifest> big = parse_manifest(over, media_type::kOciManifest);
  ASSERT_FALSE(big.is_ok());
  EXPECT_EQ(big.status().code(), Code::kTooLarge);
  EXPECT_EQ(kMaxManifestBytes, 4u * 1024 * 1024);
}

TEST(ManifestTest, TooLargeWinsOverInvalid) {
  const std::string garbage(kMaxManifestBytes + 10, '{');
  Result<ParsedManifest> r = parse_manifest(garbage, "");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
}

// --- annotations ---------------------------------------------------------------------------

TEST(ManifestTest, AnnotationsOnManifestAndDescriptors) {
  json::object doc = oci_image();
  doc["annotations"] = json::object{{"org.opencontainers.image.created", "2024-01-01T00:00:00Z"},
                                    {"org.example.empty", ""}};
  doc["layers"].as_array()[1].as_object()["annotations"] =
      json::object{{"org.opencontainers.image.title", "layer.tar.gz"}};
  ParsedManifest m = parse_ok(doc);
  EXPECT_EQ(m.annotations.size(), 2u);
  EXPECT_EQ(m.annotations.at("org.opencontainers.image.created"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(m.annotations.at("org.example.empty"), "");
  EXPECT_TRUE(m.layers[0].annotations.empty());
  EXPECT_EQ(m.layers[1].annotations.at("org.opencontainers.image.title"), "layer.tar.gz");
}

TEST(ManifestTest, NullAnnotationsAreNone) {
  json::object doc = oci_image();
  doc["annotations"] = nullptr;
  ParsedManifest m = parse_ok(doc);
  EXPECT_TRUE(m.annotations.empty());
}

TEST(ManifestTest, AnnotationsMustBeAMapOfStrings) {
  json::object not_object = oci_image();
  not_object["annotations"] = json::array{"a"};
  expect_invalid(not_object, "", "annotations");

  json::object number_value = oci_image();
  number_value["annotations"] = json::object{{"a", 1}};
  expect_invalid(number_value, "", "annotation");

  json::object in_descriptor = oci_image();
  in_descriptor["config"].as_object()["annotations"] = json::object{{"a", json::object{}}};
  expect_invalid(in_descriptor, "", "config");
}

TEST(ManifestTest, UnknownFieldsAreIgnored) {
  json::object doc = oci_image();
  doc["x-vendor-extension"] = json::object{{"k", "v"}};
  doc["layers"].as_array()[0].as_object()["data"] = "aGVsbG8=";
  ParsedManifest m = parse_ok(doc);
  EXPECT_EQ(m.layers.size(), 2u);
}

}  // namespace
}  // namespace berth
