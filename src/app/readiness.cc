#include "app/readiness.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "log/log.h"

namespace berth::app {

namespace {

Status check_free_space(const std::string& dir, uint64_t min_free) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) {
    return error(Code::kInternal, fmt::format("statvfs {}: {}", dir, std::strerror(errno)));
  }
  const uint64_t free_bytes =
      static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
  if (free_bytes < min_free) {
    return error(Code::kStorageFull,
                 fmt::format("{} bytes free in {}, below {}", free_bytes, dir, min_free));
  }
  return Status::ok();
}

}  // namespace

Readiness::Probe Readiness::probe() {
  auto now = [this] { return options_.now ? options_.now() : std::chrono::steady_clock::now(); };
  // A caller that arrived while a run was going takes that run's result.
  const auto arrived = now();
  std::lock_guard lock(probe_mu_);
  if (probed_ && arrived - probed_at_ < options_.reuse) return last_probe_;
  Probe fresh;
  auto run = [&](const char* name, const std::function<Status()>& fn) {
    if (!fn) return;
    Status s = fn();
    if (s.is_ok()) return;
    fresh.failing.emplace_back(name);
    fresh.reasons.emplace_back(name, s.to_string());
  };
  run("database", options_.check_metadata);
  run("storage", options_.check_blobs);
  if (options_.min_free_bytes > 0) {
    run("disk", [this] { return check_free_space(options_.data_dir, options_.min_free_bytes); });
  }
  probed_ = true;
  probed_at_ = now();  // when the run ended
  last_probe_ = fresh;
  return fresh;
}

ReadinessReport Readiness::check() {
  Probe probed = probe();
  ReadinessReport report;
  report.failing = std::move(probed.failing);
  const auto& reasons = probed.reasons;
  if (options_.draining != nullptr && options_.draining->load()) {
    report.failing.emplace_back("draining");
  }
  report.ready = report.failing.empty();
  std::lock_guard lock(mu_);
  if (report.failing != last_failing_) {
    last_failing_ = report.failing;
    if (report.ready) {
      log::info("ready");
    } else {
      boost::json::object fields;
      for (const auto& [name, why] : reasons) fields[name] = why;
      boost::json::array names;
      for (const auto& n : report.failing) names.emplace_back(n);
      fields["failing"] = std::move(names);
      log::write(log::Level::kWarn, "not ready", std::move(fields));
    }
  }
  return report;
}

std::string readiness_json(const ReadinessReport& report) {
  boost::json::object o;
  o["status"] = report.ready ? "ok" : "unavailable";
  if (!report.ready) {
    boost::json::array names;
    for (const auto& n : report.failing) names.emplace_back(n);
    o["failing"] = std::move(names);
  }
  return boost::json::serialize(o) + "\n";
}

}  // namespace berth::app
