// `n`/`last` pagination shared by the tag list and the catalog.
#pragma once

#include <boost/url/url_view.hpp>

#include <string>

#include "core/records.h"
#include "core/status.h"

namespace berth::oci {

// Reads `n` and `last` from the query. kInvalidArgument for a malformed `n`.
// Without `n`, `default_limit` applies (0: unlimited); `n` is capped at
// `max_limit`. `n=0` (an empty page was asked for) yields limit SIZE_MAX,
// which callers must answer with an empty list rather than pass to a store.
Result<PageRequest> page_from_query(const boost::urls::url_view& url, size_t default_limit,
                                    size_t max_limit);

// The RFC 8288 Link header for the next page: <path?n=N&last=L>; rel="next".
std::string next_link(std::string_view path, size_t n, std::string_view last);

}  // namespace berth::oci
