#include "iam/query_form.h"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <fmt/format.h>

namespace berth::iam {
namespace urls = boost::urls;

Result<QueryForm> QueryForm::parse(std::string_view body) {
  const urls::string_view text(body.data(), body.size());
  if (!urls::parse_query(text)) {
    return error(Code::kInvalidArgument, "the request body is not form-urlencoded");
  }
  urls::encoding_opts opts;
  opts.space_as_plus = true;
  QueryForm form;
  // Validated above: the constructor does not throw.
  for (const auto& p : urls::params_view(text, opts)) {
    if (p.key.empty()) continue;
    form.values_.insert_or_assign(p.key, p.has_value ? p.value : std::string());
  }
  return form;
}

std::optional<std::string> QueryForm::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> QueryForm::list(std::string_view name) const {
  std::vector<std::string> out;
  for (size_t n = 1;; ++n) {
    auto v = get(fmt::format("{}.member.{}", name, n));
    if (!v) return out;
    out.push_back(std::move(*v));
  }
}

std::vector<std::vector<std::string>> QueryForm::structures(
    std::string_view name, const std::vector<std::string>& fields) const {
  std::vector<std::vector<std::string>> out;
  for (size_t n = 1;; ++n) {
    std::vector<std::string> entry;
    bool any = false;
    for (const auto& f : fields) {
      auto v = get(fmt::format("{}.member.{}.{}", name, n, f));
      any = any || v.has_value();
      entry.push_back(v.value_or(""));
    }
    if (!any) return out;
    out.push_back(std::move(entry));
  }
}

}  // namespace berth::iam
