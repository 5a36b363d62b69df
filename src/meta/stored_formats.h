// The text forms in which the metadata stores keep typed fields, shared by
// every backend so that they all read and write the same format (the one
// every berth has written). Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/records.h"
#include "scan/advisory.h"
#include "scan/match.h"

namespace berth::stored_formats {

// The typed fields as their columns hold them (the format every berth has
// written): a JSON array of strings, a JSON object of strings, and the
// preview results as [{"digest","tags","pushed_at_ms","rule"}]. The readers
// take what is unreadable as empty, and preview results written before
// milliseconds ("pushed_at", seconds) as what they meant.
std::string strings_to_json(const std::vector<std::string>& v);
std::vector<std::string> strings_from_json(std::string_view text);
std::string annotations_to_json(const std::map<std::string, std::string>& m);
std::map<std::string, std::string> annotations_from_json(std::string_view text);
std::string preview_results_to_json(const std::vector<LifecyclePreviewResult>& results);
std::vector<LifecyclePreviewResult> preview_results_from_json(std::string_view text);

// A scan's findings counted per severity, as the scans table keeps them
// beside the findings (so that a page of summaries reads no finding): the
// counts of the six severities in scan::Severity's order, comma-separated
// ("0,0,3,12,5,1"). The migration that added the column writes the same text
// in SQL. The reader gives the non-zero counts, none for unreadable text.
std::string severity_counts_text(const std::vector<scan::Finding>& findings);
std::map<scan::Severity, int64_t> severity_counts_from_text(std::string_view text);

}  // namespace berth::stored_formats
