// Image scanning operations: StartImageScan, DescribeImageScanFindings, the
// registry scanning configuration and BatchGetRepositoryScanningConfiguration.
// Wire mapping only: the meaning lives in ScanningService (registry/scanning.h).
#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>

#include "ecr/ecr_api.h"
#include "ecr/fields.h"
#include "registry/scanning.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

EcrError scanning_off() {
  return ecr_error("ValidationException", "image scanning is not enabled on this registry");
}

// The request's imageId {imageDigest?, imageTag?} (required).
Field<ImageId> read_image_id(const json::object& in) {
  ECR_ASSIGN(auto obj, opt_object(in, "imageId"));
  if (!obj) return constraint_error("imageId", "must not be null");
  ImageId id;
  ECR_ASSIGN(id.digest, opt_string(**obj, "imageDigest"));
  ECR_ASSIGN(id.tag, opt_string(**obj, "imageTag", 1, 300));
  return id;
}

json::object id_json(const ImageId& id) {
  json::object o;
  if (id.digest) o["imageDigest"] = *id.digest;
  if (id.tag) o["imageTag"] = *id.tag;
  return o;
}

// Basic scanning reports a queued scan as IN_PROGRESS.
std::string_view api_status(const std::string& status) {
  if (status == kScanPending) return kScanInProgress;
  return status;
}

json::object status_json(const ScanRecord& s) {
  json::object o{{"status", api_status(s.status)}};
  if (!s.description.empty()) o["description"] = s.description;
  return o;
}

json::object counts_json(const std::map<std::string, int64_t>& counts) {
  json::object o;
  for (const auto& [severity, n] : counts) o[severity] = n;
  return o;
}

json::object finding_json(const scan::Finding& f) {
  json::array attributes;
  auto attr = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) attributes.push_back(json::object{{"key", key}, {"value", value}});
  };
  attr("package_version", f.package_version);
  attr("package_name", f.package_name);
  const bool v3 = f.cvss_vector.rfind("CVSS:3", 0) == 0;
  attr(v3 ? "CVSS3_VECTOR" : "CVSS2_VECTOR", f.cvss_vector);
  if (f.cvss_score) attr(v3 ? "CVSS3_SCORE" : "CVSS2_SCORE", fmt::format("{}", *f.cvss_score));
  json::object o{{"name", f.name},
                 {"severity", severity_label(f.severity)},
                 {"attributes", std::move(attributes)}};
  if (!f.description.empty()) o["description"] = f.description;
  if (!f.uri.empty()) o["uri"] = f.uri;
  return o;
}

json::object config_json(const RegistryScanningConfiguration& cfg) {
  json::array rules;
  for (const ScanningRule& r : cfg.rules) {
    json::array filters;
    for (const std::string& f : r.repository_filters)
      filters.push_back(json::object{{"filter", f}, {"filterType", "WILDCARD"}});
    rules.push_back(json::object{{"scanFrequency", r.scan_frequency},
                                 {"repositoryFilters", std::move(filters)}});
  }
  return json::object{{"scanType", cfg.scan_type}, {"rules", std::move(rules)}};
}

}  // namespace

std::map<Digest, json::object> EcrApi::scan_summaries_json(const RepositoryRecord& repo,
                                                           const std::vector<Digest>& digests) {
  std::map<Digest, json::object> out;
  if (options_.scanning == nullptr || digests.empty()) return out;
  auto reports = options_.scanning->summaries(repo, digests);
  if (!reports) return out;  // the store failed: the listing still answers
  for (const auto& [digest, r] : *reports) {
    json::object o{{"imageScanStatus", status_json(r.scan)}};
    if (r.scan.status == kScanComplete) {
      o["imageScanFindingsSummary"] = json::object{
          {"imageScanCompletedAt", timestamp_ms(r.scan.completed_at_ms)},
          {"vulnerabilitySourceUpdatedAt", timestamp_ms(r.scan.vulnerability_source_updated_at_ms)},
          {"findingSeverityCounts", counts_json(r.severity_counts)}};
    }
    out.emplace(digest, std::move(o));
  }
  return out;
}

EcrResult EcrApi::start_image_scan(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto id, read_image_id(c.input));
  if (options_.scanning == nullptr) return scanning_off();
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto resolved = registry_.resolve_image(*repo, id);
  if (!resolved) return from_status(resolved.status());
  if (!resolved->manifest) {
    if (resolved->failure == ImageFailure::kNotFound ||
        resolved->failure == ImageFailure::kTagDoesNotMatchDigest) {
      return ecr_error(
          "ImageNotFoundException",
          fmt::format("The image with imageId {{imageDigest:'{}', imageTag:'{}'}} "
                      "does not exist within the repository with name '{}' in the "
                      "registry with id '{}'",
                      id.digest.value_or("null"), id.tag.value_or("null"), name, c.account));
    }
    return invalid_parameter(resolved->reason);
  }
  auto started = options_.scanning->start_scan(*repo, *resolved->manifest);
  if (!started) {
    if (started.status().code() == Code::kUnsupported)
      return ecr_error("UnsupportedImageTypeException", started.status().message());
    return from_status(started.status());
  }
  json::object image_id = id_json(id);
  image_id["imageDigest"] = resolved->manifest->digest.str();
  return json::object{{"registryId", c.account},
                      {"repositoryName", name},
                      {"imageId", std::move(image_id)},
                      {"imageScanStatus", status_json(*started)}};
}

EcrResult EcrApi::describe_image_scan_findings(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto id, read_image_id(c.input));
  ECR_ASSIGN(auto page, paging(c.input, 1000, 100));
  if (options_.scanning == nullptr) return scanning_off();
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto resolved = registry_.resolve_image(*repo, id);
  if (!resolved) return from_status(resolved.status());
  if (!resolved->manifest) {
    if (resolved->failure == ImageFailure::kNotFound ||
        resolved->failure == ImageFailure::kTagDoesNotMatchDigest) {
      return ecr_error(
          "ImageNotFoundException",
          fmt::format("The image with imageId {{imageDigest:'{}', imageTag:'{}'}} "
                      "does not exist within the repository with name '{}' in the "
                      "registry with id '{}'",
                      id.digest.value_or("null"), id.tag.value_or("null"), name, c.account));
    }
    return invalid_parameter(resolved->reason);
  }
  const Digest digest = resolved->manifest->digest;
  auto report = options_.scanning->report(*repo, digest);
  if (!report) {
    if (report.status().code() != Code::kNotFound) return from_status(report.status());
    return ecr_error(
        "ScanNotFoundException",
        fmt::format("Image scan does not exist for the image with "
                    "'{{imageDigest:'{}', imageTag:'{}'}}' in the repository with "
                    "name '{}' in the registry with id '{}'",
                    id.digest.value_or("null"), id.tag.value_or("null"), name, c.account));
  }
  json::object image_id = id_json(id);
  image_id["imageDigest"] = digest.str();
  json::object result{{"registryId", c.account},
                      {"repositoryName", name},
                      {"imageId", std::move(image_id)},
                      {"imageScanStatus", status_json(report->scan)}};
  if (report->scan.status != kScanComplete) return result;

  // Findings are paged by position; the other members repeat on every page.
  const std::string scope =
      fmt::format("{}/{}/{}/{}", c.account, name, digest.str(), report->scan.advisory_version);
  size_t from = 0;
  if (page.next_token) {
    auto a = read_next_token(c.operation, scope, *page.next_token);
    if (!a) return invalid_parameter(a.status().message());
    from = static_cast<size_t>(std::strtoull(a->c_str(), nullptr, 10));
  }
  const auto& all = report->findings;
  const size_t to = std::min(all.size(), from + page.max_results);
  json::array findings;
  for (size_t i = from; i < to; ++i) findings.push_back(finding_json(all[i]));
  result["imageScanFindings"] =
      json::object{{"imageScanCompletedAt", timestamp_ms(report->scan.completed_at_ms)},
                   {"vulnerabilitySourceUpdatedAt",
                    timestamp_ms(report->scan.vulnerability_source_updated_at_ms)},
                   {"findingSeverityCounts", counts_json(report->severity_counts)},
                   {"findings", std::move(findings)}};
  if (to < all.size())
    result["nextToken"] = make_next_token(c.operation, scope, std::to_string(to));
  return result;
}

EcrResult EcrApi::put_registry_scanning_configuration(Call& c) {
  if (options_.scanning == nullptr) return scanning_off();
  RegistryScanningConfiguration cfg;
  ECR_ASSIGN(auto type, opt_string(c.input, "scanType"));
  cfg.scan_type = type.value_or("BASIC");
  ECR_ASSIGN(auto rules, opt_array(c.input, "rules", 0, 2));
  if (rules) {
    for (const auto& v : **rules) {
      if (!v.is_object()) return serialization_error("rules", "a list of RegistryScanningRule");
      ScanningRule rule;
      ECR_ASSIGN(rule.scan_frequency, req_string(v.as_object(), "scanFrequency"));
      ECR_ASSIGN(auto filters, opt_array(v.as_object(), "repositoryFilters", 1, 100));
      if (!filters) return constraint_error("rules.repositoryFilters", "must not be null");
      for (const auto& f : **filters) {
        if (!f.is_object())
          return serialization_error("repositoryFilters", "a list of ScanningRepositoryFilter");
        ECR_ASSIGN(auto filter, req_string(f.as_object(), "filter", 1, 255));
        ECR_ASSIGN(auto filter_type, opt_string(f.as_object(), "filterType"));
        if (filter_type.value_or("WILDCARD") != "WILDCARD") {
          return constraint_error("repositoryFilters.filterType",
                                  "Member must satisfy enum value set: [WILDCARD]");
        }
        rule.repository_filters.push_back(std::move(filter));
      }
      cfg.rules.push_back(std::move(rule));
    }
  }
  Status s = options_.scanning->put_registry_configuration(c.account, cfg);
  if (!s.is_ok()) {
    if (s.code() == Code::kUnsupported || s.code() == Code::kInvalidArgument)
      return ecr_error("ValidationException", s.message());
    return from_status(s);
  }
  return json::object{{"registryScanningConfiguration", config_json(cfg)}};
}

EcrResult EcrApi::get_registry_scanning_configuration(Call& c) {
  if (options_.scanning == nullptr) return scanning_off();
  auto cfg = options_.scanning->registry_configuration(c.account);
  if (!cfg) return from_status(cfg.status());
  return json::object{{"registryId", c.account}, {"scanningConfiguration", config_json(*cfg)}};
}

EcrResult EcrApi::batch_get_repository_scanning_configuration(Call& c) {
  if (options_.scanning == nullptr) return scanning_off();
  ECR_ASSIGN(auto names, opt_array(c.input, "repositoryNames", 1, 25));
  if (!names) return constraint_error("repositoryNames", "must not be null");
  json::array configs;
  json::array failures;
  for (const auto& v : **names) {
    if (!v.is_string()) return serialization_error("repositoryNames", "a list of strings");
    const std::string name(v.as_string());
    auto repo = repository(c, name);
    if (!repo) {
      if (repo.status().code() != Code::kNameUnknown && repo.status().code() != Code::kNameInvalid)
        return from_status(repo.status());
      failures.push_back(json::object{{"repositoryName", name},
                                      {"failureCode", "REPOSITORY_NOT_FOUND"},
                                      {"failureReason", "REPOSITORY_NOT_FOUND"}});
      continue;
    }
    auto rule = options_.scanning->rule_for(c.account, name);
    if (!rule) return from_status(rule.status());
    std::string frequency = repo->scan_on_push ? "SCAN_ON_PUSH" : "MANUAL";
    json::array applied;
    if (*rule) {
      if ((*rule)->first == "SCAN_ON_PUSH" || !repo->scan_on_push) frequency = (*rule)->first;
      applied.push_back(json::object{{"filter", (*rule)->second}, {"filterType", "WILDCARD"}});
    }
    configs.push_back(json::object{{"repositoryArn", repository_arn(c.account, name)},
                                   {"repositoryName", name},
                                   {"scanOnPush", frequency == "SCAN_ON_PUSH"},
                                   {"scanFrequency", frequency},
                                   {"appliedScanFilters", std::move(applied)}});
  }
  return json::object{{"scanningConfigurations", std::move(configs)},
                      {"failures", std::move(failures)}};
}

}  // namespace berth::ecr
