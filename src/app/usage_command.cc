#include "app/usage_command.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <ostream>
#include <vector>

namespace berth::app {
namespace json = boost::json;

namespace {

// "2026-11-03", "2026-11-03T04:05:06Z" (UTC only) as ms since the epoch.
Result<int64_t> parse_time(const std::string& text) {
  std::tm tm{};
  char tail[8] = {};
  int n = 0;
  const bool full = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%7s", &tm.tm_year, &tm.tm_mon,
                                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, tail) == 7 &&
                    std::string(tail) == "Z";
  if (!full) {
    tm = std::tm{};
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 ||
        static_cast<size_t>(n) != text.size()) {
      return error(Code::kInvalidArgument,
                   "'" + text + "': expected a UTC time, 2026-11-03 or 2026-11-03T04:00:00Z");
    }
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return error(Code::kInvalidArgument, "'" + text + "': not a valid time");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm)) * 1000;
}

std::string format_time(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// [from, to) of the query.
Status resolve_range(const UsageReportQuery& q, int64_t now_ms, int64_t& from, int64_t& to) {
  if (!q.month.empty()) {
    if (!q.from.empty() || !q.to.empty())
      return error(Code::kInvalidArgument, "give --month or --from/--to, not both");
    BERTH_ASSIGN_OR_RETURN(from, parse_time(q.month + "-01"));
    auto months = usage::split_by_month(from, from + 1);
    to = months.front().month_start_ms + months.front().month_length_ms;
    return Status::ok();
  }
  if (q.from.empty()) {
    if (!q.to.empty()) return error(Code::kInvalidArgument, "--to needs --from");
    from = usage::split_by_month(now_ms, now_ms + 1).front().month_start_ms;
  } else {
    BERTH_ASSIGN_OR_RETURN(from, parse_time(q.from));
  }
  if (q.to.empty()) {
    to = now_ms;
  } else {
    BERTH_ASSIGN_OR_RETURN(to, parse_time(q.to));
  }
  if (to <= from) return error(Code::kInvalidArgument, "the range ends before it starts");
  return Status::ok();
}

struct Line {
  std::string account;
  std::string repository;  // empty: the account's own line
  long double gib_months = 0;
  int64_t bytes_out = 0;
  int64_t storage_micros = 0;
  int64_t transfer_micros = 0;
  int64_t total() const { return storage_micros + transfer_micros; }
};

struct AccountReport {
  Line account;
  std::map<std::string, Line> repositories;
};

double gib(int64_t bytes) {
  return static_cast<double>(bytes) / usage::kBytesPerGiB;
}

Result<std::map<std::string, AccountReport>> build_report(UsageStore& store,
                                                          const usage::Pricing& pricing,
                                                          const std::string& account, int64_t from,
                                                          int64_t to) {
  std::map<std::string, AccountReport> out;
  auto line = [&](const std::string& a, const std::string& repo) -> Line& {
    AccountReport& r = out[a];
    r.account.account = a;
    if (repo.empty()) return r.account;
    Line& l = r.repositories[repo];
    l.account = a;
    l.repository = repo;
    return l;
  };

  // Storage: per series, the integral of its samples. A repository's sample
  // holds until the next sampling run of its account (its next sample, or
  // none: the repository was gone), so the runs are the account's samples.
  BERTH_ASSIGN_OR_RETURN(auto samples, store.storage_samples(account, from, to));
  std::map<std::pair<std::string, std::string>, std::vector<usage::StorageSample>> series;
  for (const StorageSampleRow& s : samples) {
    series[{s.account_id, s.repository}].push_back({s.sampled_at_ms, s.bytes});
  }
  std::map<std::string, std::vector<int64_t>> runs;
  for (const auto& [key, list] : series) {
    if (!key.second.empty()) continue;
    for (const auto& s : list) runs[key.first].push_back(s.at_ms);
  }
  for (const auto& [key, list] : series) {
    Line& l = line(key.first, key.second);
    l.gib_months = usage::gib_months(list, runs[key.first], from, to);
    l.storage_micros = usage::storage_cost_micros(l.gib_months, pricing);
  }

  // Transfer: tiers apply per account and calendar month, counting what the
  // month sent before the range too; a repository carries its share of its
  // account's transfer cost by bytes.
  const std::vector<usage::MonthSpan> months = usage::split_by_month(from, to);
  if (months.empty()) return out;
  BERTH_ASSIGN_OR_RETURN(auto buckets, store.transfer(account, months.front().month_start_ms, to));
  for (const usage::MonthSpan& m : months) {
    std::map<std::string, int64_t> before;                         // account -> bytes
    std::map<std::string, std::map<std::string, int64_t>> within;  // account -> repo -> bytes
    for (const TransferRow& b : buckets) {
      if (b.hour_ms < m.month_start_ms || b.hour_ms >= m.to_ms) continue;
      if (b.hour_ms < m.from_ms) {
        before[b.account_id] += b.bytes;
      } else {
        within[b.account_id][b.repository] += b.bytes;
      }
    }
    for (const auto& [a, repos] : within) {
      int64_t bytes = 0;
      for (const auto& [repo, n] : repos) bytes += n;
      const int64_t cost = usage::transfer_cost_micros(before[a], bytes, pricing);
      Line& acct = line(a, "");
      acct.bytes_out += bytes;
      acct.transfer_micros += cost;
      for (const auto& [repo, n] : repos) {
        Line& l = line(a, repo);
        l.bytes_out += n;
        if (bytes > 0) {
          l.transfer_micros += static_cast<int64_t>(static_cast<long double>(cost) * n / bytes);
        }
      }
    }
  }
  return out;
}

json::object line_json(const Line& l) {
  json::object o;
  o["gb_months_stored"] = static_cast<double>(l.gib_months);
  o["bytes_out"] = l.bytes_out;
  o["gb_out"] = gib(l.bytes_out);
  o["storage_cost_micros"] = l.storage_micros;
  o["transfer_cost_micros"] = l.transfer_micros;
  o["total_cost_micros"] = l.total();
  o["storage_cost_usd"] = usage::usd_cents(l.storage_micros);
  o["transfer_cost_usd"] = usage::usd_cents(l.transfer_micros);
  o["total_cost_usd"] = usage::usd_cents(l.total());
  return o;
}

std::vector<std::string> line_cells(const Line& l) {
  return {l.account,
          l.repository.empty() ? "(account, each blob once)" : l.repository,
          fmt::format("{:.6f}", static_cast<double>(l.gib_months)),
          fmt::format("{:.6f}", gib(l.bytes_out)),
          usage::usd_cents(l.storage_micros),
          usage::usd_cents(l.transfer_micros),
          usage::usd_cents(l.total())};
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

int print_current_usage(UsageStore& store, const std::string& account_id, std::ostream& out,
                        std::ostream& err) {
  auto repos = store.repository_usage(account_id);
  if (!repos) {
    err << "berth admin: " << repos.status().message() << "\n";
    return 1;
  }
  auto total = store.account_usage(account_id);
  if (!total) {
    err << "berth admin: " << total.status().message() << "\n";
    return 1;
  }
  for (const auto& r : *repos) out << r.name << "\t" << r.bytes << "\n";
  out << "total (account " << account_id << ", each blob once)\t" << *total << "\n";
  return 0;
}

int print_usage_report(UsageStore& store, const usage::Pricing& pricing,
                       const UsageReportQuery& query, int64_t now_ms, std::ostream& out,
                       std::ostream& err) {
  const std::string format = query.format.empty() ? "table" : query.format;
  if (format != "table" && format != "csv" && format != "json") {
    err << "berth admin usage report: --format: expected table, csv or json\n";
    return 1;
  }
  int64_t from = 0, to = 0;
  if (Status s = resolve_range(query, now_ms, from, to); !s.is_ok()) {
    err << "berth admin usage report: " << s.message() << "\n";
    return 1;
  }
  auto report = build_report(store, pricing, query.account, from, to);
  if (!report) {
    err << "berth admin usage report: " << report.status().message() << "\n";
    return 1;
  }

  if (format == "json") {
    json::array accounts;
    for (const auto& [id, r] : *report) {
      json::object a = line_json(r.account);
      a["account"] = id;
      json::array repos;
      for (const auto& [name, l] : r.repositories) {
        json::object o = line_json(l);
        o["repository"] = name;
        repos.push_back(std::move(o));
      }
      a["repositories"] = std::move(repos);
      accounts.push_back(std::move(a));
    }
    json::array tiers;
    for (const auto& t : pricing.transfer_tiers) {
      json::object o;
      if (t.up_to_gib != usage::kUnlimited) o["up_to_gb"] = t.up_to_gib;
      o["usd_per_gb"] = static_cast<double>(t.micros_per_gib) / usage::kMicrosPerUsd;
      tiers.push_back(std::move(o));
    }
    json::object doc{
        {"from", format_time(from)},
        {"to", format_time(to)},
        {"gb", "GiB (2^30 bytes), as AWS bills GB"},
        {"pricing", json::object{{"storage_usd_per_gb_month",
                                  static_cast<double>(pricing.storage_micros_per_gib_month) /
                                      usage::kMicrosPerUsd},
                                 {"free_transfer_gb", gib(pricing.free_transfer_bytes)},
                                 {"transfer_out_tiers", std::move(tiers)}}},
        {"accounts", std::move(accounts)}};
    out << json::serialize(doc) << "\n";
    return 0;
  }

  std::vector<std::vector<std::string>> rows;
  for (const auto& [id, r] : *report) {
    rows.push_back(line_cells(r.account));
    for (const auto& [name, l] : r.repositories) rows.push_back(line_cells(l));
  }
  if (format == "csv") {
    out << "account,repository,gb_months_stored,gb_out,storage_cost_usd,transfer_cost_usd,"
           "total_usd\n";
    for (auto& row : rows) {
      if (row[1].front() == '(') row[1].clear();  // the account's own line
      for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << csv_field(row[i]);
      out << "\n";
    }
    return 0;
  }
  const std::vector<std::string> head = {"ACCOUNT",     "REPOSITORY",   "GB-MONTHS", "GB-OUT",
                                         "STORAGE-USD", "TRANSFER-USD", "TOTAL-USD"};
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string text;
    for (size_t i = 0; i < row.size(); ++i) {
      // Names to the left, figures to the right.
      text +=
          i < 2 ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("{:>{}}", row[i], width[i]);
      if (i + 1 < row.size()) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  out << "usage from " << format_time(from) << " to " << format_time(to)
      << " (GB = GiB, 2^30 bytes)\n";
  print(head);
  for (const auto& row : rows) print(row);
  return 0;
}

}  // namespace berth::app
