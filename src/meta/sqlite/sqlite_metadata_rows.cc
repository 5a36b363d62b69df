#include "meta/sqlite/sqlite_metadata_rows.h"

#include <boost/json.hpp>

namespace berth::sqlite_meta {
using sqlite::Connection;
using sqlite::Statement;

RepositoryRecord read_repo(const Statement& s) {
  RepositoryRecord r;
  r.id = s.int64(0);
  r.account_id = s.text(1);
  r.name = s.text(2);
  r.created_at = s.int64(3);
  r.tag_mutability = s.text(4);
  r.tag_mutability_exclusions = strings_from_json(s.text(5));
  r.scan_on_push = s.int64(6) != 0;
  r.encryption_type = s.text(7);
  r.kms_key = s.text(8);
  if (!s.is_null(9)) r.lifecycle_policy = s.text(9);
  r.lifecycle_evaluated_at = s.opt_int64(10);
  return r;
}

namespace {

boost::json::value parse_or_null(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return ec ? boost::json::value() : v;
}

}  // namespace

std::string strings_to_json(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return boost::json::serialize(a);
}

std::vector<std::string> strings_from_json(std::string_view text) {
  std::vector<std::string> out;
  boost::json::value v = parse_or_null(text);
  if (!v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::string annotations_to_json(const std::map<std::string, std::string>& m) {
  boost::json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return boost::json::serialize(o);
}

std::map<std::string, std::string> annotations_from_json(std::string_view text) {
  std::map<std::string, std::string> out;
  boost::json::value v = parse_or_null(text);
  if (!v.is_object()) return out;
  for (const auto& [k, e] : v.as_object()) {
    if (e.is_string()) out.emplace(std::string(k), std::string(e.as_string()));
  }
  return out;
}

std::string preview_results_to_json(const std::vector<LifecyclePreviewResult>& results) {
  boost::json::array a;
  for (const auto& r : results) {
    boost::json::array tags;
    for (const auto& t : r.tags) tags.emplace_back(t);
    a.push_back(boost::json::object{{"digest", r.digest},
                                    {"tags", std::move(tags)},
                                    {"pushed_at_ms", r.pushed_at_ms},
                                    {"rule", r.rule_priority}});
  }
  return boost::json::serialize(a);
}

std::vector<LifecyclePreviewResult> preview_results_from_json(std::string_view text) {
  std::vector<LifecyclePreviewResult> out;
  boost::json::value v = parse_or_null(text);
  if (!v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    LifecyclePreviewResult r;
    if (const auto* d = o.if_contains("digest"); d != nullptr && d->is_string()) r.digest = d->as_string();
    if (const auto* t = o.if_contains("tags"); t != nullptr && t->is_array()) {
      for (const auto& tag : t->as_array()) {
        if (tag.is_string()) r.tags.emplace_back(tag.as_string());
      }
    }
    if (const auto* ms = o.if_contains("pushed_at_ms"); ms != nullptr && ms->is_int64()) {
      r.pushed_at_ms = ms->as_int64();
    } else if (const auto* sec = o.if_contains("pushed_at"); sec != nullptr && sec->is_int64()) {
      r.pushed_at_ms = sec->as_int64() * 1000;
    }
    if (const auto* rule = o.if_contains("rule"); rule != nullptr && rule->is_int64()) {
      r.rule_priority = static_cast<int>(rule->as_int64());
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<int64_t>> manifest_id(Connection& c, RepositoryId repo, std::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("SELECT id FROM manifests WHERE repo_id=?1 AND digest=?2"));
  s.bind(1, repo).bind(2, digest);
  BERTH_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.int64(0));
}

Status enqueue_candidate(Connection& c, std::string_view digest, int64_t now) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("INSERT INTO gc_candidates (digest, since) VALUES (?1, ?2) "
                                           "ON CONFLICT (digest) DO NOTHING"));
  return s.bind(1, digest).bind(2, now).run();
}

Status enqueue_manifest_blobs(Connection& c, int64_t manifest_id) {
  BERTH_ASSIGN_OR_RETURN(
      auto s, c.prepare("INSERT INTO gc_candidates (digest, since) SELECT digest, 0 "
                        "FROM manifest_refs WHERE manifest_id=?1 AND kind=0 ON CONFLICT (digest) DO NOTHING"));
  return s.bind(1, manifest_id).run();
}

Result<bool> pending_deletion(Connection& c, std::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(auto s, c.prepare("SELECT 1 FROM gc_pending WHERE digest=?1"));
  s.bind(1, digest);
  return s.step();
}

Status link_blob_in(Connection& c, RepositoryId repo, const Digest& digest, int64_t size, int64_t now) {
  BERTH_ASSIGN_OR_RETURN(bool pending, pending_deletion(c, digest.str()));
  if (pending) return error(Code::kUnavailable, "the blob is being garbage collected; upload it again");
  BERTH_ASSIGN_OR_RETURN(
      auto s, c.prepare("INSERT INTO blob_links (repo_id, digest, size, linked_at) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repo_id, digest) DO UPDATE "
                        "SET linked_at=excluded.linked_at"));
  BERTH_RETURN_IF_ERROR(s.bind(1, repo).bind(2, std::string_view(digest.str())).bind(3, size).bind(4, now).run());
  return enqueue_candidate(c, digest.str(), now);
}

}  // namespace berth::sqlite_meta
