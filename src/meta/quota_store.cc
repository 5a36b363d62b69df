#include "meta/quota_store.h"

#include <fmt/format.h>

namespace berth {

Status quota_exceeded(std::string_view scope, std::string_view name, int64_t allowed,
                      int64_t would_store) {
  return error(Code::kLimitExceeded,
               fmt::format("storage quota of {} {} exceeded: {} bytes allowed, {} would be stored",
                           scope, name, allowed, would_store));
}

}  // namespace berth
