// Advisory readers (src/scan/advisory_parse.*): the files an operator feeds
// `berth advisories import`, untrusted text from the network.
//
// Every input is detected and parsed as every format. Properties: parsing
// never throws or crashes; a failure is kInvalidArgument; every advisory has
// an id and at least one affected package, each with an ecosystem and a
// package name, and a not-affected entry names no fix; a detected format
// parses the same input again to the same advisories.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "scan/advisory_parse.h"

namespace {

using berth::scan::AdvisoryFormat;

void check(const berth::Result<std::vector<berth::scan::Advisory>>& r) {
  if (!r.is_ok()) {
    FUZZ_CHECK(r.status().code() == berth::Code::kInvalidArgument);
    return;
  }
  for (const auto& a : *r) {
    FUZZ_CHECK(!a.id.empty());
    FUZZ_CHECK(!a.affected.empty());
    for (const auto& p : a.affected) {
      FUZZ_CHECK(!p.ecosystem.empty());
      FUZZ_CHECK(!p.package.empty());
      FUZZ_CHECK(!p.not_affected || p.fixed.empty());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (auto f : {AdvisoryFormat::kDebianTrackerList, AdvisoryFormat::kDebianTrackerJson,
                 AdvisoryFormat::kAlpineSecdb, AdvisoryFormat::kOsv})
    check(berth::scan::parse_advisories(f, bytes));
  if (auto f = berth::scan::detect_advisory_format("input", bytes)) {
    auto first = berth::scan::parse_advisories(*f, bytes);
    auto again = berth::scan::parse_advisories(*f, bytes);
    FUZZ_CHECK(first.is_ok() == again.is_ok());
    if (first.is_ok()) FUZZ_CHECK(first->size() == again->size());
  }
  return 0;
}
