#include "oci/paging.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <charconv>

namespace berth::oci {

Result<PageRequest> page_from_query(const boost::urls::url_view& url, size_t default_limit,
                                    size_t max_limit) {
  PageRequest page;
  page.limit = default_limit;
  auto params = url.params();
  if (auto it = params.find("n"); it != params.end()) {
    const std::string v = (*it).value;
    size_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) {
      return error(Code::kInvalidArgument, "n must be a non-negative integer");
    }
    page.limit = std::min(n, max_limit);
    if (n == 0) page.limit = SIZE_MAX;  // marker: an empty page was asked for
  }
  if (auto it = params.find("last"); it != params.end()) page.after = (*it).value;
  return page;
}

std::string next_link(std::string_view path, size_t n, std::string_view last) {
  boost::urls::url u;
  u.set_path(path);
  // Everything but unreserved characters is percent-encoded: page_from_query
  // reads the query form-style, where a bare '+' would come back as a space.
  u.set_encoded_query("n=" + std::to_string(n) +
                      "&last=" + boost::urls::encode(last, boost::urls::unreserved_chars));
  return "<" + std::string(u.buffer()) + ">; rel=\"next\"";
}

}  // namespace berth::oci
