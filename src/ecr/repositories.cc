// Repository operations: create, describe, delete, settings and resource tags.
#include <boost/json.hpp>

#include <fmt/format.h>
#include <cctype>
#include <map>

#include "core/names.h"
#include "core/tag_mutability.h"
#include "ecr/ecr_api.h"
#include "ecr/fields.h"

namespace berth::ecr {
namespace json = boost::json;

namespace {

using TagList = ResourceTags;

Field<TagList> read_tags(const json::object& in, std::string_view member) {
  TagList out;
  ECR_ASSIGN(auto arr, opt_array(in, member, 0, 200));
  if (!arr) return out;
  for (const auto& t : **arr) {
    if (!t.is_object()) return serialization_error(member, "a list of Tag structures");
    ECR_ASSIGN(auto key, req_string(t.as_object(), "Key", 1, SIZE_MAX));
    ECR_ASSIGN(auto value, opt_string(t.as_object(), "Value"));
    if (key.size() > 128 || (value && value->size() > 256)) {
      return ecr_error("InvalidTagParameterException",
                       "Tag keys are at most 128 characters and tag values at most 256");
    }
    std::string prefix = key.substr(0, 4);
    for (auto& ch : prefix) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (prefix == "aws:") {
      return ecr_error("InvalidTagParameterException",
                       "Tag keys starting with 'aws:' are reserved");
    }
    out.emplace_back(std::move(key), value.value_or(""));
  }
  return out;
}

// imageTagMutability and its exclusion filters, validated by the domain.
Field<TagMutabilityConfig> read_mutability(const json::object& in, bool required) {
  ECR_ASSIGN(auto mode, opt_string(in, "imageTagMutability"));
  if (!mode) {
    if (required) return constraint_error("imageTagMutability", "must not be null");
    mode = "MUTABLE";
  }
  std::vector<std::string> filters;
  ECR_ASSIGN(auto arr,
             opt_array(in, "imageTagMutabilityExclusionFilters", 1, kMaxExclusionFilters));
  if (arr) {
    for (const auto& f : **arr) {
      if (!f.is_object())
        return serialization_error("imageTagMutabilityExclusionFilters", "a list of filters");
      ECR_ASSIGN(auto type, req_string(f.as_object(), "filterType"));
      if (!validate_exclusion_filter_type(type).is_ok()) {
        return constraint_error("imageTagMutabilityExclusionFilters.filterType",
                                "Member must satisfy enum value set: [WILDCARD]");
      }
      ECR_ASSIGN(auto filter, req_string(f.as_object(), "filter"));
      filters.push_back(std::move(filter));
    }
  }
  auto config = make_tag_mutability_config(*mode, filters);
  if (!config) return invalid_parameter(config.status().message());
  return std::move(config).value();
}

EcrError too_many_tags() {
  return ecr_error("TooManyTagsException", "A resource may have at most 50 tags");
}

}  // namespace

EcrResult EcrApi::create_repository(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto tags, read_tags(c.input, "tags"));
  if (tags.size() > kMaxResourceTags) return too_many_tags();
  ECR_ASSIGN(auto mutability, read_mutability(c.input, false));
  NewRepository r;
  r.account = c.account;
  r.name = name;
  r.tag_mutability = std::string(format_tag_mutability(mutability.mode));
  r.exclusion_filters = mutability.exclusion_filters;
  r.tags = std::move(tags);
  ECR_ASSIGN(auto scanning, opt_object(c.input, "imageScanningConfiguration"));
  if (scanning) {
    ECR_ASSIGN(auto scan, opt_bool(**scanning, "scanOnPush"));
    r.scan_on_push = scan.value_or(false);
  }
  ECR_ASSIGN(auto enc, opt_object(c.input, "encryptionConfiguration"));
  if (enc) {
    ECR_ASSIGN(auto type, req_string(**enc, "encryptionType"));
    if (type != "AES256" && type != "KMS" && type != "KMS_DSSE") {
      return constraint_error("encryptionConfiguration.encryptionType",
                              "Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]");
    }
    ECR_ASSIGN(auto key, opt_string(**enc, "kmsKey", 1, 2048));
    if (key && type == "AES256") {
      return invalid_parameter(
          "Invalid parameter: kmsKey can only be specified when encryptionType is KMS");
    }
    r.encryption_type = type;
    r.kms_key = key.value_or("");
  }
  auto created = registry_.create_repository(r);
  if (!created) {
    if (created.status().code() == Code::kAlreadyExists) {
      return ecr_error(
          "RepositoryAlreadyExistsException",
          fmt::format("The repository with name '{}' already exists in the registry with id '{}'",
                      name, c.account));
    }
    return from_status(created.status());
  }
  return json::object{{"repository", repository_json(*created)}};
}

EcrResult EcrApi::describe_repositories(Call& c) {
  ECR_ASSIGN(auto names, opt_array(c.input, "repositoryNames", 1, 100));
  ECR_ASSIGN(auto page, paging(c.input, 1000, 100));
  json::array out;
  if (names) {
    if (page.next_token || page.explicit_max) {
      return invalid_parameter(
          "Invalid parameter: nextToken and maxResults cannot be used with repositoryNames");
    }
    for (const auto& n : **names) {
      if (!n.is_string()) return serialization_error("repositoryNames", "a list of strings");
      json::object one{{"repositoryName", n}};
      ECR_ASSIGN(auto name, repository_name(one));
      auto repo = repository(c, name);
      if (!repo) return repository_error(c, name, repo.status());
      out.push_back(repository_json(*repo));
    }
    return json::object{{"repositories", std::move(out)}};
  }
  PageRequest req;
  req.limit = page.max_results;
  if (page.next_token) {
    auto after = read_next_token(c.operation, c.account, *page.next_token);
    if (!after) return invalid_parameter(after.status().message());
    req.after = *after;
  }
  auto repos = registry_.list_repositories(c.account, req);
  if (!repos) return from_status(repos.status());
  json::object result;
  // berth's own extra field (SDKs ignore unknown members): bytes stored.
  std::map<std::string, int64_t> usage = registry_.repository_usage(c.account);
  for (const auto& repo : repos->items) {
    json::object r = repository_json(repo);
    r["berthStorageBytes"] = usage[repo.name];
    out.push_back(std::move(r));
  }
  if (repos->next_after)
    result["nextToken"] = make_next_token(c.operation, c.account, *repos->next_after);
  result["repositories"] = std::move(out);
  return result;
}

EcrResult EcrApi::delete_repository(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto force, opt_bool(c.input, "force"));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  Status s = registry_.delete_repository(*repo, force.value_or(false));
  if (s.code() == Code::kRepositoryNotEmpty) {
    return ecr_error(
        "RepositoryNotEmptyException",
        fmt::format(
            "The repository with name '{}' in registry with id '{}' cannot be deleted because "
            "it still contains images",
            name, c.account));
  }
  if (s.code() == Code::kNameUnknown) return repository_not_found(c, name);
  if (!s.is_ok()) return from_status(s);
  return json::object{{"repository", repository_json(*repo)}};
}

EcrResult EcrApi::put_image_tag_mutability(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto mutability, read_mutability(c.input, true));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto updated = registry_.set_tag_mutability(*repo, mutability);
  if (!updated) return from_status(updated.status());
  json::object out{{"registryId", c.account},
                   {"repositoryName", name},
                   {"imageTagMutability", format_tag_mutability(mutability.mode)}};
  json::object shaped = repository_json(*updated);
  if (auto it = shaped.find("imageTagMutabilityExclusionFilters"); it != shaped.end()) {
    out["imageTagMutabilityExclusionFilters"] = it->value();
  }
  return out;
}

EcrResult EcrApi::put_image_scanning_configuration(Call& c) {
  ECR_ASSIGN(auto name, repository_name(c.input));
  ECR_ASSIGN(auto scanning, opt_object(c.input, "imageScanningConfiguration"));
  if (!scanning) return constraint_error("imageScanningConfiguration", "must not be null");
  ECR_ASSIGN(auto scan, opt_bool(**scanning, "scanOnPush"));
  auto repo = repository(c, name);
  if (!repo) return repository_error(c, name, repo.status());
  auto updated = registry_.set_scan_on_push(*repo, scan.value_or(false));
  if (!updated) return from_status(updated.status());
  return json::object{
      {"registryId", c.account},
      {"repositoryName", name},
      {"imageScanningConfiguration", json::object{{"scanOnPush", updated->scan_on_push}}}};
}

namespace {

// Parses arn:aws:ecr:<region>:<account>:repository/<name>.
struct ParsedArn {
  std::string region;
  std::string account;
  std::string name;
};

std::optional<ParsedArn> parse_repository_arn(std::string_view arn) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    auto colon = arn.find(':', start);
    if (colon == std::string_view::npos) return std::nullopt;
    parts.push_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  std::string_view rest = arn.substr(start);
  if (parts[0] != "arn" || parts[2] != "ecr" || rest.substr(0, 11) != "repository/")
    return std::nullopt;
  return ParsedArn{std::string(parts[3]), std::string(parts[4]), std::string(rest.substr(11))};
}

bool valid_arn_parts(const ParsedArn& arn) {
  return arn.account.size() == 12 &&
         arn.account.find_first_not_of("0123456789") == std::string::npos &&
         validate_repository_name(arn.name).is_ok();
}

}  // namespace

// The repository a resource ARN names, in the caller's account.
#define ECR_RESOURCE_REPOSITORY(repo_var, c)                                               \
  ECR_ASSIGN(auto _arn_text, req_string((c).input, "resourceArn"));                        \
  auto _arn = parse_repository_arn(_arn_text);                                             \
  if (!_arn || _arn->region != options_.region || !valid_arn_parts(*_arn)) {               \
    return invalid_parameter(                                                              \
        "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'"); \
  }                                                                                        \
  if (_arn->account != (c).principal.account_id) {                                         \
    return ecr_error("AccessDeniedException",                                              \
                     "not authorized to access resources of another account");             \
  }                                                                                        \
  auto repo_var = registry_.repository(_arn->account, _arn->name);                         \
  if (!repo_var) return repository_error(c, _arn->name, repo_var.status())

EcrResult EcrApi::tag_resource(Call& c) {
  ECR_RESOURCE_REPOSITORY(repo, c);
  ECR_ASSIGN(auto tags, read_tags(c.input, "tags"));
  Status s = registry_.tag_resource(*repo, tags);
  if (s.code() == Code::kLimitExceeded) return too_many_tags();
  if (!s.is_ok()) return from_status(s);
  return json::object{};
}

EcrResult EcrApi::untag_resource(Call& c) {
  ECR_RESOURCE_REPOSITORY(repo, c);
  ECR_ASSIGN(auto keys, opt_array(c.input, "tagKeys", 0, 200));
  if (!keys) return constraint_error("tagKeys", "must not be null");
  std::vector<std::string> names;
  for (const auto& key : **keys) {
    if (key.is_string()) names.emplace_back(key.as_string());
  }
  if (Status s = registry_.untag_resource(*repo, names); !s.is_ok()) return from_status(s);
  return json::object{};
}

EcrResult EcrApi::list_tags_for_resource(Call& c) {
  ECR_RESOURCE_REPOSITORY(repo, c);
  auto current = registry_.resource_tags(*repo);
  if (!current) return from_status(current.status());
  json::array tags;
  for (const auto& [k, v] : *current) tags.push_back(json::object{{"Key", k}, {"Value", v}});
  return json::object{{"tags", std::move(tags)}};
}

}  // namespace berth::ecr
