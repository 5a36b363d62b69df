// Tag list, catalog and referrers: the read-only listings of /v2.
#include <boost/json.hpp>

#include "core/digest.h"
#include "core/manifest.h"
#include "oci/oci_api.h"
#include "oci/paging.h"

namespace berth::oci {
namespace http = server::http;
namespace json = boost::json;
using server::Exchange;
using server::net::awaitable;

awaitable<void> OciApi::catalog(Exchange& ex) {
  Status allowed =
      co_await authorize(ex, required_action(Route::kCatalog, "GET"), auth::kAllRepositories);
  if (!allowed.is_ok()) co_return co_await fail(ex, allowed);
  auto page = page_from_query(ex.url(), options_.catalog_default_page, options_.max_page);
  if (!page) co_return co_await fail(ex, page.status());
  json::array names;
  std::string link;
  if (page->limit != SIZE_MAX) {
    const std::string account = account_of(ex);
    auto repos = co_await call([&] { return registry_.list_repositories(account, *page); });
    if (!repos) co_return co_await fail(ex, repos.status());
    for (const auto& r : repos->items) names.emplace_back(r.name);
    if (repos->next_after) link = next_link("/v2/_catalog", page->limit, *repos->next_after);
  }
  auto res = response(ex, http::status::ok);
  res.set(http::field::content_type, "application/json");
  if (!link.empty()) res.set(http::field::link, link);
  res.body() = json::serialize(json::object{{"repositories", std::move(names)}});
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::tags(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto page = page_from_query(ex.url(), 0, options_.max_page);
  if (!page) co_return co_await fail(ex, page.status());
  json::array tags;
  std::string link;
  if (page->limit != SIZE_MAX) {
    auto list = co_await call([&] { return registry_.list_tags(*repo, *page); });
    if (!list) co_return co_await fail(ex, list.status());
    for (const auto& tag : list->items) tags.emplace_back(tag);
    if (list->next_after)
      link = next_link("/v2/" + t.name + "/tags/list", page->limit, *list->next_after);
  }
  auto res = response(ex, http::status::ok);
  res.set(http::field::content_type, "application/json");
  if (!link.empty()) res.set(http::field::link, link);
  res.body() = json::serialize(json::object{{"name", repo->name}, {"tags", std::move(tags)}});
  co_await ex.send(std::move(res));
}

awaitable<void> OciApi::referrers(Exchange& ex, const Target& t) {
  auto repo = co_await repository_for(ex, t.name, action_of(ex, t), false);
  if (!repo) co_return co_await fail(ex, repo.status());
  auto subject = Digest::parse(t.reference);
  if (!subject) co_return co_await fail(ex, subject.status());
  std::optional<std::string> artifact_type;
  auto params = ex.url().params();
  if (auto it = params.find("artifactType"); it != params.end())
    artifact_type = std::string((*it).value);
  auto list = co_await call([&] {
    return registry_.list_referrers(
        *repo, *subject,
        artifact_type ? std::optional<std::string_view>(*artifact_type) : std::nullopt);
  });
  if (!list) co_return co_await fail(ex, list.status());
  json::array manifests;
  for (const auto& r : *list) {
    json::object d{{"mediaType", r.media_type}, {"digest", r.digest.str()}, {"size", r.size}};
    if (!r.artifact_type.empty()) d["artifactType"] = r.artifact_type;
    if (!r.annotations.empty()) {
      json::object ann;
      for (const auto& [k, v] : r.annotations) ann[k] = v;
      d["annotations"] = std::move(ann);
    }
    manifests.emplace_back(std::move(d));
  }
  json::object index{{"schemaVersion", 2},
                     {"mediaType", std::string(media_type::kOciIndex)},
                     {"manifests", std::move(manifests)}};
  auto res = response(ex, http::status::ok);
  res.set(http::field::content_type, media_type::kOciIndex);
  if (artifact_type) res.set("OCI-Filters-Applied", "artifactType");
  res.body() = json::serialize(index);
  co_await ex.send(std::move(res));
}

}  // namespace berth::oci
