// Lifecycle policies as the ECR operations manage them: validated storage of
// the policy text and the preview, planned by the same LifecycleRunner the
// background enforcement uses.
#include <boost/json.hpp>

#include "core/lifecycle.h"
#include "meta/metadata_store.h"
#include "registry/lifecycle_runner.h"
#include "registry/registry.h"

namespace berth {

namespace json = boost::json;

namespace {

Result<lifecycle::LifecyclePolicy> parse_policy(const std::string& text) {
  auto policy = lifecycle::parse_lifecycle_policy(text);
  if (!policy) return error(Code::kInvalidArgument, policy.status().message());
  return policy;
}

std::string preview_json(const std::vector<PreviewEntry>& entries) {
  json::array results;
  for (const auto& e : entries) {
    json::array tags;
    for (const auto& t : e.tags) tags.emplace_back(t);
    results.push_back(json::object{{"digest", e.digest},
                                   {"tags", std::move(tags)},
                                   {"pushed_at_ms", e.pushed_at_ms},
                                   {"rule", e.rule_priority}});
  }
  return json::serialize(results);
}

// Previews stored before times had milliseconds carry whole seconds in "pushed_at".
Result<std::vector<PreviewEntry>> parse_preview(const std::string& text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_array()) return error(Code::kInternal, "corrupt preview");
  std::vector<PreviewEntry> out;
  for (const auto& v : parsed.as_array()) {
    const json::object* r = v.if_object();
    if (r == nullptr) return error(Code::kInternal, "corrupt preview");
    PreviewEntry e;
    const json::value* digest = r->if_contains("digest");
    const json::value* tags = r->if_contains("tags");
    const json::value* rule = r->if_contains("rule");
    if (digest == nullptr || !digest->is_string() || tags == nullptr || !tags->is_array() || rule == nullptr ||
        !rule->is_int64()) {
      return error(Code::kInternal, "corrupt preview");
    }
    e.digest = std::string(digest->as_string());
    for (const auto& t : tags->as_array()) {
      if (t.is_string()) e.tags.emplace_back(t.as_string());
    }
    e.rule_priority = static_cast<int>(rule->as_int64());
    if (const json::value* ms = r->if_contains("pushed_at_ms"); ms != nullptr && ms->is_int64()) {
      e.pushed_at_ms = ms->as_int64();
    } else if (const json::value* s = r->if_contains("pushed_at"); s != nullptr && s->is_int64()) {
      e.pushed_at_ms = s->as_int64() * 1000;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Status Registry::set_lifecycle_policy(const RepositoryRecord& repo, const std::string& text) {
  BERTH_RETURN_IF_ERROR(parse_policy(text).status());
  return meta_.set_lifecycle_policy(repo.id, text);
}

Status Registry::delete_lifecycle_policy(const RepositoryRecord& repo) {
  return meta_.set_lifecycle_policy(repo.id, std::nullopt);
}

Result<LifecyclePreview> Registry::start_lifecycle_preview(const RepositoryRecord& repo, const std::string& text) {
  BERTH_ASSIGN_OR_RETURN(auto policy, parse_policy(text));
  // Planning is a pure function over a snapshot and takes milliseconds, so
  // the preview is complete by the time this call returns.
  LifecycleRunner runner(meta_, clock_);
  BERTH_ASSIGN_OR_RETURN(auto planned, runner.plan(repo, policy));
  LifecyclePreview preview{text, "COMPLETE", clock_.now_seconds(), {}};
  for (const auto& p : planned) {
    preview.entries.push_back(
        PreviewEntry{p.expiration.digest, p.expiration.tags, p.pushed_at_ms, p.expiration.rule_priority});
  }
  LifecyclePreviewRecord rec{text, preview.status, preview_json(preview.entries), preview.created_at};
  BERTH_RETURN_IF_ERROR(meta_.put_lifecycle_preview(repo.id, rec));
  return preview;
}

Result<LifecyclePreview> Registry::lifecycle_preview(const RepositoryRecord& repo) {
  BERTH_ASSIGN_OR_RETURN(auto rec, meta_.get_lifecycle_preview(repo.id));
  BERTH_ASSIGN_OR_RETURN(auto entries, parse_preview(rec.results_json));
  return LifecyclePreview{rec.policy_text, rec.status, rec.created_at, std::move(entries)};
}

}  // namespace berth
