// `berth admin usage`: bytes stored now per repository and account, and
// `berth admin usage report`: GB-months stored, GB out and their cost over a
// month or a range, priced as ECR prices them (core/usage_pricing.h).
#pragma once

#include <iosfwd>
#include <string>

#include "core/usage_pricing.h"
#include "meta/usage_store.h"

namespace berth::app {

// Prints the bytes of every repository of `account_id` and the account's
// total (each blob once), tab-separated. Returns the exit code.
int print_current_usage(UsageStore& store, const std::string& account_id, std::ostream& out,
                        std::ostream& err);

struct UsageReportQuery {
  std::string month;    // "2026-11": that calendar month (UTC)
  std::string from;     // or a range: RFC 3339 time or date, inclusive ...
  std::string to;       // ... to exclusive; empty: now
  std::string account;  // only this account; empty: every account
  std::string format;   // "table", "csv" or "json"
};

// Prints the report of `query` from `store`'s samples and transfer buckets,
// priced by `pricing`: per account and per repository, GiB-months stored,
// GiB out, storage cost, transfer cost and total (USD). Without month or
// from, the current month so far. `now_ms` is the end of an open range.
// Returns the exit code: 0, or 1 with the reason on `err` (a malformed
// argument, a store error).
int print_usage_report(UsageStore& store, const usage::Pricing& pricing,
                       const UsageReportQuery& query, int64_t now_ms, std::ostream& out,
                       std::ostream& err);

}  // namespace berth::app
