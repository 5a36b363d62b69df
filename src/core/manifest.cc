#include "core/manifest.h"

#include <boost/json.hpp>

#include <algorithm>
#include <regex>

#include <fmt/format.h>

namespace berth {
namespace json = boost::json;

namespace {

Status invalid(std::string msg) {
  return error(Code::kManifestInvalid, std::move(msg));
}

Result<std::map<std::string, std::string>> parse_annotations(const json::object& obj,
                                                             std::string_view where) {
  std::map<std::string, std::string> out;
  auto it = obj.find("annotations");
  if (it == obj.end() || it->value().is_null()) return out;
  if (!it->value().is_object())
    return invalid(fmt::format("{}: annotations must be an object", where));
  for (const auto& kv : it->value().as_object()) {
    if (!kv.value().is_string()) {
      return invalid(fmt::format("{}: annotation values must be strings", where));
    }
    out.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
  }
  return out;
}

Result<std::string> optional_string(const json::object& obj, std::string_view key,
                                    std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::string();
  if (!it->value().is_string()) return invalid(fmt::format("{}: {} must be a string", where, key));
  return std::string(it->value().as_string());
}

Result<Descriptor> parse_descriptor(const json::value& v, std::string_view where) {
  if (!v.is_object()) return invalid(fmt::format("{} must be a descriptor object", where));
  const auto& obj = v.as_object();
  Descriptor d;
  auto mt = obj.find("mediaType");
  if (mt == obj.end() || !mt->value().is_string() || mt->value().as_string().empty()) {
    return invalid(fmt::format("{}: mediaType is required", where));
  }
  d.media_type = std::string(mt->value().as_string());
  auto dg = obj.find("digest");
  if (dg == obj.end() || !dg->value().is_string()) {
    return invalid(fmt::format("{}: digest is required", where));
  }
  auto digest = Digest::parse(std::string_view(dg->value().as_string()));
  if (!digest) return invalid(fmt::format("{}: {}", where, digest.status().message()));
  d.digest = std::move(digest).value();
  auto sz = obj.find("size");
  if (sz == obj.end() || !(sz->value().is_int64() || sz->value().is_uint64())) {
    return invalid(fmt::format("{}: size is required and must be an integer", where));
  }
  if (sz->value().is_int64()) {
    d.size = sz->value().as_int64();
  } else {
    if (sz->value().as_uint64() > static_cast<uint64_t>(INT64_MAX)) {
      return invalid(fmt::format("{}: size is too large", where));
    }
    d.size = static_cast<int64_t>(sz->value().as_uint64());
  }
  if (d.size < 0) return invalid(fmt::format("{}: size must not be negative", where));
  BERTH_ASSIGN_OR_RETURN(d.artifact_type, optional_string(obj, "artifactType", where));
  BERTH_ASSIGN_OR_RETURN(d.annotations, parse_annotations(obj, where));
  auto urls = obj.find("urls");
  if (urls != obj.end()) {
    if (!urls->value().is_array()) return invalid(fmt::format("{}: urls must be an array", where));
    for (const auto& u : urls->value().as_array()) {
      if (!u.is_string()) return invalid(fmt::format("{}: urls must be strings", where));
      d.urls.emplace_back(u.as_string());
    }
  }
  return d;
}

bool is_schema1(std::string_view mt) {
  return mt == media_type::kDockerSchema1 || mt == media_type::kDockerSchema1Signed;
}

// Content types clients send that carry no information about the manifest.
bool is_generic_content_type(std::string_view ct) {
  return ct.empty() || ct == "application/json" || ct == "application/octet-stream" ||
         ct == "text/plain";
}

std::string_view strip_parameters(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

}  // namespace

bool is_manifest_media_type(std::string_view mt) {
  return mt == media_type::kOciManifest || mt == media_type::kOciIndex ||
         mt == media_type::kDockerManifest || mt == media_type::kDockerManifestList;
}

bool is_foreign_layer_media_type(std::string_view mt) {
  return mt == media_type::kDockerForeignLayer || mt == media_type::kOciNondistributableLayer ||
         mt == media_type::kOciNondistributableLayerGzip ||
         mt == media_type::kOciNondistributableLayerZstd;
}

std::vector<Digest> ParsedManifest::required_blobs() const {
  std::vector<Digest> out;
  for (const auto& entry : required_blob_descriptors()) out.push_back(entry.second->digest);
  return out;
}

std::vector<std::pair<std::string, const Descriptor*>> ParsedManifest::required_blob_descriptors()
    const {
  std::vector<std::pair<std::string, const Descriptor*>> out;
  if (config) out.emplace_back("config", &*config);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].external) out.emplace_back(fmt::format("layers[{}]", i), &layers[i]);
  }
  return out;
}

struct ManifestUrlPolicy::Patterns {
  std::vector<std::regex> allow;
};

Result<ManifestUrlPolicy> ManifestUrlPolicy::compile(
    const std::vector<std::string>& allow_patterns) {
  auto patterns = std::make_shared<Patterns>();
  for (const std::string& pattern : allow_patterns) {
    try {
      patterns->allow.emplace_back(pattern, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return error(Code::kInvalidArgument,
                   fmt::format("manifest url pattern '{}' is not a valid regular expression: {}",
                               pattern, e.what()));
    }
  }
  ManifestUrlPolicy policy;
  policy.allow_ = std::move(patterns);
  return policy;
}

bool ManifestUrlPolicy::allows(std::string_view url) const {
  auto lower_prefix = [url](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      char c = url[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return false;
    }
    return true;
  };
  size_t authority = lower_prefix("https://") ? 8 : lower_prefix("http://") ? 7 : 0;
  if (authority == 0 || url.size() == authority || url[authority] == '/') return false;  // no host
  if (url.find('#') != std::string_view::npos) return false;
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  if (!allow_) return false;
  return std::any_of(allow_->allow.begin(), allow_->allow.end(), [url](const std::regex& re) {
    return std::regex_search(url.begin(), url.end(), re);
  });
}

Status check_descriptor_urls(ParsedManifest& m, const ManifestUrlPolicy& policy) {
  auto refuse_any = [](const Descriptor& d, std::string_view where) -> Status {
    if (d.urls.empty()) return Status::ok();
    return invalid(
        fmt::format("{}: urls are allowed only on foreign layers, not on {}", where, d.media_type));
  };
  if (m.config) BERTH_RETURN_IF_ERROR(refuse_any(*m.config, "config"));
  if (m.subject) BERTH_RETURN_IF_ERROR(refuse_any(*m.subject, "subject"));
  for (size_t i = 0; i < m.manifests.size(); ++i) {
    BERTH_RETURN_IF_ERROR(refuse_any(m.manifests[i], fmt::format("manifests[{}]", i)));
  }
  for (size_t i = 0; i < m.layers.size(); ++i) {
    Descriptor& d = m.layers[i];
    const std::string where = fmt::format("layers[{}]", i);
    if (!is_foreign_layer_media_type(d.media_type)) BERTH_RETURN_IF_ERROR(refuse_any(d, where));
    for (const std::string& url : d.urls) {
      if (!policy.allows(url)) {
        return invalid(fmt::format("{}: url {} is not allowed by this registry", where, url));
      }
    }
    d.external = !d.urls.empty();
  }
  return Status::ok();
}

std::vector<Digest> ParsedManifest::child_manifests() const {
  std::vector<Digest> out;
  out.reserve(manifests.size());
  for (const auto& m : manifests) out.push_back(m.digest);
  return out;
}

Result<ParsedManifest> parse_manifest(std::string_view bytes, std::string_view content_type,
                                      bool media_type_given) {
  if (bytes.size() > kMaxManifestBytes) {
    return error(Code::kTooLarge, "manifest is larger than 4 MiB");
  }
  content_type = strip_parameters(content_type);
  if (is_schema1(content_type)) {
    return invalid("Docker image manifest schema 1 is not supported; push schema 2 or OCI");
  }
  boost::system::error_code ec;
  json::value doc = json::parse(bytes, ec);
  if (ec) return invalid(fmt::format("manifest is not valid JSON: {}", ec.message()));
  if (!doc.is_object()) return invalid("manifest must be a JSON object");
  const auto& obj = doc.as_object();

  auto sv = obj.find("schemaVersion");
  if (sv != obj.end() && sv->value().is_int64() && sv->value().as_int64() == 1) {
    return invalid("Docker image manifest schema 1 is not supported; push schema 2 or OCI");
  }
  if (sv == obj.end() || !sv->value().is_int64() || sv->value().as_int64() != 2) {
    return invalid("schemaVersion must be 2");
  }

  ParsedManifest m;
  BERTH_ASSIGN_OR_RETURN(std::string declared, optional_string(obj, "mediaType", "manifest"));
  if (is_schema1(declared)) {
    return invalid("Docker image manifest schema 1 is not supported; push schema 2 or OCI");
  }
  if (!declared.empty()) {
    if (!is_generic_content_type(content_type) && content_type != declared) {
      return invalid(fmt::format("Content-Type {} does not match the manifest's mediaType {}",
                                 content_type, declared));
    }
    m.media_type = declared;
  } else if (!is_generic_content_type(content_type)) {
    m.media_type = std::string(content_type);
  } else if (obj.contains("manifests")) {
    m.media_type = media_type::kOciIndex;
  } else {
    m.media_type = media_type::kOciManifest;
  }
  if (!is_manifest_media_type(m.media_type)) {
    return invalid(fmt::format("unsupported manifest media type {}", m.media_type));
  }
  bool is_docker = m.media_type == media_type::kDockerManifest ||
                   m.media_type == media_type::kDockerManifestList;
  if (is_docker && declared.empty() && !media_type_given) {
    return invalid("Docker schema 2 manifests must carry their mediaType");
  }
  m.kind =
      (m.media_type == media_type::kOciIndex || m.media_type == media_type::kDockerManifestList)
          ? ManifestKind::kIndex
          : ManifestKind::kImage;

  BERTH_ASSIGN_OR_RETURN(m.artifact_type, optional_string(obj, "artifactType", "manifest"));
  BERTH_ASSIGN_OR_RETURN(m.annotations, parse_annotations(obj, "manifest"));
  if (auto it = obj.find("subject"); it != obj.end()) {
    BERTH_ASSIGN_OR_RETURN(auto subject, parse_descriptor(it->value(), "subject"));
    m.subject = std::move(subject);
  }

  if (m.kind == ManifestKind::kImage) {
    if (obj.contains("manifests")) return invalid("an image manifest must not have manifests");
    auto cfg = obj.find("config");
    if (cfg == obj.end()) return invalid("config is required");
    BERTH_ASSIGN_OR_RETURN(auto config, parse_descriptor(cfg->value(), "config"));
    m.config = std::move(config);
    auto layers = obj.find("layers");
    if (layers == obj.end() || !layers->value().is_array()) {
      return invalid("layers is required and must be an array");
    }
    size_t i = 0;
    for (const auto& l : layers->value().as_array()) {
      BERTH_ASSIGN_OR_RETURN(auto d, parse_descriptor(l, fmt::format("layers[{}]", i++)));
      m.layers.push_back(std::move(d));
    }
    if (m.artifact_type.empty()) m.artifact_type = m.config->media_type;
  } else {
    if (obj.contains("config") || obj.contains("layers")) {
      return invalid("an index must not have config or layers");
    }
    auto ms = obj.find("manifests");
    if (ms == obj.end() || !ms->value().is_array()) {
      return invalid("manifests is required and must be an array");
    }
    size_t i = 0;
    for (const auto& e : ms->value().as_array()) {
      std::string where = fmt::format("manifests[{}]", i++);
      BERTH_ASSIGN_OR_RETURN(auto d, parse_descriptor(e, where));
      if (e.as_object().contains("platform") && !e.as_object().at("platform").is_object()) {
        return invalid(where + ": platform must be an object");
      }
      m.manifests.push_back(std::move(d));
    }
  }
  return m;
}

}  // namespace berth
