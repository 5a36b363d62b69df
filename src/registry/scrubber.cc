#include "registry/scrubber.h"

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

namespace berth {

namespace {
constexpr size_t kMaxChunk = 1 << 20;
}

bool Scrubber::pace(const ScrubOptions& options, uint64_t bytes_so_far) {
  if (options.should_stop && options.should_stop()) return false;
  if (options.rate_bytes_per_second == 0) return true;
  using namespace std::chrono;
  const auto due =
      started_ +
      duration_cast<steady_clock::duration>(duration<double>(
          static_cast<double>(bytes_so_far) / static_cast<double>(options.rate_bytes_per_second)));
  while (steady_clock::now() < due) {
    std::this_thread::sleep_for(
        std::min<steady_clock::duration>(due - steady_clock::now(), milliseconds(100)));
    if (options.should_stop && options.should_stop()) return false;
  }
  return true;
}

Result<std::optional<ScrubIssue>> Scrubber::check(const Digest& digest,
                                                  std::optional<int64_t> recorded,
                                                  const ScrubOptions& options,
                                                  ScrubReport& report) {
  auto reader = blobs_.open(digest);
  if (!reader) {
    if (reader.status().code() != Code::kBlobUnknown) return reader.take_status();
    if (!recorded) return std::optional<ScrubIssue>();  // collected since the listing
    return std::optional<ScrubIssue>(
        ScrubIssue{ScrubIssue::Kind::kMissing, digest, "no stored bytes", false});
  }
  const uint64_t size = (*reader)->size();
  // Small reads at low rates keep the pacing smooth.
  const size_t chunk = options.rate_bytes_per_second == 0
                           ? kMaxChunk
                           : static_cast<size_t>(std::clamp<uint64_t>(
                                 options.rate_bytes_per_second / 10, 4096, kMaxChunk));
  std::vector<char> buf(chunk);
  Hasher h(digest.algorithm());
  uint64_t off = 0;
  while (off < size) {
    if (!pace(options, paced_bytes_)) return error(Code::kUnavailable, "scrub stopped");
    BERTH_ASSIGN_OR_RETURN(
        size_t n, (*reader)->read_at(off, buf.data(), std::min<uint64_t>(chunk, size - off)));
    if (n == 0) break;
    h.update(buf.data(), n);
    off += n;
    paced_bytes_ += n;
    report.bytes += n;
  }
  ++report.checked;
  std::string detail;
  const Digest actual = h.peek();
  if (!(actual == digest)) detail = fmt::format("the bytes hash to {}", actual.str());
  if (recorded && static_cast<uint64_t>(*recorded) != size) {
    if (!detail.empty()) detail += "; ";
    detail += fmt::format("{} bytes stored, {} recorded", size, *recorded);
  }
  if (detail.empty()) return std::optional<ScrubIssue>();
  ScrubIssue issue{ScrubIssue::Kind::kCorrupt, digest, std::move(detail), false};
  if (options.repair) {
    Status st = blobs_.quarantine(digest, reader->get());
    if (st.is_ok()) {
      issue.quarantined = true;
    } else if (st.code() == Code::kFailedPrecondition || st.code() == Code::kBlobUnknown) {
      // Replaced (healed by a push) or collected since it was read: nothing
      // bad is left under this digest.
      return std::optional<ScrubIssue>();
    } else {
      return st;
    }
  }
  return std::optional<ScrubIssue>(std::move(issue));
}

Result<ScrubReport> Scrubber::run(const ScrubOptions& options,
                                  const std::function<void(const ScrubIssue&)>& on_issue,
                                  const std::function<void(size_t, size_t)>& progress) {
  started_ = std::chrono::steady_clock::now();
  paced_bytes_ = 0;
  ScrubReport report;
  // Every digest that has bytes or a link, in digest order, so that a
  // budgeted run can stop anywhere and the next one continue after it.
  BERTH_ASSIGN_OR_RETURN(auto stored, blobs_.list());
  BERTH_ASSIGN_OR_RETURN(auto linked, meta_.linked_blobs());
  std::map<std::string, std::pair<Digest, std::optional<int64_t>>> all;
  for (auto& d : stored) {
    std::string key = d.str();
    all.emplace(std::move(key), std::make_pair(std::move(d), std::optional<int64_t>()));
  }
  for (auto& l : linked) {
    auto [it, fresh] =
        all.emplace(l.digest.str(), std::make_pair(l.digest, std::optional<int64_t>(l.size)));
    if (!fresh) it->second.second = l.size;
  }
  const size_t total = all.size();
  std::vector<ScrubIssue> missing;
  size_t done = 0;
  auto it = cursor_.empty() ? all.begin() : all.upper_bound(cursor_);
  if (!cursor_.empty()) done = static_cast<size_t>(std::distance(all.begin(), it));
  for (; it != all.end(); ++it) {
    if (options.time_budget.count() > 0 &&
        std::chrono::steady_clock::now() - started_ >= options.time_budget)
      break;
    auto issue = check(it->second.first, it->second.second, options, report);
    if (!issue) {
      if (issue.status().code() == Code::kUnavailable && options.should_stop &&
          options.should_stop())
        break;
      return issue.take_status();
    }
    if (*issue) {
      if ((*issue)->kind == ScrubIssue::Kind::kMissing) {
        missing.push_back(std::move(**issue));  // confirmed below
      } else {
        ++report.corrupt;
        if ((*issue)->quarantined) ++report.quarantined;
        if (on_issue) on_issue(**issue);
      }
    }
    cursor_ = it->first;
    ++done;
    if (progress) progress(done, total);
  }
  report.complete = it == all.end();
  if (!missing.empty()) {
    // A blob collected during the run lost its links before its bytes: only
    // what is still linked and still absent now is missing.
    BERTH_ASSIGN_OR_RETURN(auto now_linked, meta_.linked_blobs());
    std::set<std::string> still;
    for (const auto& l : now_linked) still.insert(l.digest.str());
    for (auto& m : missing) {
      if (!still.count(m.digest.str())) continue;
      auto stat = blobs_.stat(m.digest);
      if (stat || stat.status().code() != Code::kBlobUnknown) continue;
      ++report.missing;
      if (on_issue) on_issue(m);
    }
  }
  if (report.complete) cursor_.clear();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return report;
}

}  // namespace berth
