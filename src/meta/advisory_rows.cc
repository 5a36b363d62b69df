#include "meta/advisory_rows.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>
#include <utility>

namespace berth::advisory_rows {

namespace {

bool same_entry(const scan::AffectedPackage& a, const scan::AffectedPackage& b) {
  return a.introduced == b.introduced && a.fixed == b.fixed && a.versions == b.versions &&
         a.not_affected == b.not_affected;
}

void merge_into(scan::Advisory& into, const scan::Advisory& from) {
  for (const std::string& alias : from.aliases) {
    if (std::find(into.aliases.begin(), into.aliases.end(), alias) == into.aliases.end())
      into.aliases.push_back(alias);
  }
  if (!from.description.empty()) into.description = from.description;
  if (!from.uri.empty()) into.uri = from.uri;
  if (from.severity != scan::Severity::kUndefined) into.severity = from.severity;
  if (from.cvss_score) into.cvss_score = from.cvss_score;
  if (!from.cvss_vector.empty()) into.cvss_vector = from.cvss_vector;
}

}  // namespace

ImportRows lay_out(const std::vector<scan::Advisory>& advisories) {
  ImportRows rows;
  std::map<std::string, size_t, std::less<>> by_id;
  using KeyTuple = std::tuple<std::string, std::string, std::string>;
  std::map<KeyTuple, std::vector<const scan::AffectedPackage*>> by_key;
  for (const scan::Advisory& a : advisories) {
    auto [it, inserted] = by_id.try_emplace(a.id, rows.advisories.size());
    if (inserted) {
      scan::Advisory head = a;
      head.affected.clear();
      head.aliases.clear();
      rows.advisories.push_back(std::move(head));
    }
    merge_into(rows.advisories[it->second], a);
    for (const scan::AffectedPackage& p : a.affected) {
      auto [k, fresh] = by_key.try_emplace(KeyTuple{a.id, p.ecosystem, p.package});
      if (fresh) rows.keys.push_back({a.id, p.ecosystem, p.package});
      auto& entries = k->second;
      if (std::any_of(entries.begin(), entries.end(),
                      [&](const scan::AffectedPackage* e) { return same_entry(*e, p); }))
        continue;
      rows.affected.push_back({a.id, &p, static_cast<int64_t>(entries.size())});
      entries.push_back(&p);
    }
  }
  return rows;
}

scan::Severity severity_from_text(std::string_view text) {
  if (text == "INFORMATIONAL") return scan::Severity::kInformational;
  if (text == "LOW") return scan::Severity::kLow;
  if (text == "MEDIUM") return scan::Severity::kMedium;
  if (text == "HIGH") return scan::Severity::kHigh;
  if (text == "CRITICAL") return scan::Severity::kCritical;
  return scan::Severity::kUndefined;
}

std::optional<std::string> cvss_text(const std::optional<double>& score) {
  if (!score) return std::nullopt;
  return fmt::format("{}", *score);
}

std::optional<double> cvss_from_text(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace berth::advisory_rows
