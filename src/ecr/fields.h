// Reading members of an ECR request with ECR's validation and messages:
// a wrong JSON type is a SerializationException, a broken constraint an
// InvalidParameterException naming the member.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "ecr/ecr_error.h"

namespace berth::ecr {

template <typename T>
using Field = std::variant<T, EcrError>;

// `ECR_ASSIGN(auto x, expr)` where expr yields Field<T>: returns the error
// from the enclosing operation.
#define ECR_ASSIGN(lhs, expr) ECR_ASSIGN_IMPL(BERTH_CONCAT(_field_, __LINE__), lhs, expr)
#define ECR_ASSIGN_IMPL(tmp, lhs, expr)                                     \
  auto tmp = (expr);                                                        \
  if (auto* _err = std::get_if<::berth::ecr::EcrError>(&tmp)) return *_err; \
  lhs = std::move(std::get<0>(tmp))

EcrError serialization_error(std::string_view member, std::string_view expected);
EcrError constraint_error(std::string_view member, std::string_view constraint);

Field<std::optional<std::string>> opt_string(const boost::json::object& in, std::string_view member,
                                             size_t min_len = 0, size_t max_len = SIZE_MAX);
Field<std::string> req_string(const boost::json::object& in, std::string_view member,
                              size_t min_len = 1, size_t max_len = SIZE_MAX);
Field<std::optional<bool>> opt_bool(const boost::json::object& in, std::string_view member);
Field<std::optional<int64_t>> opt_int(const boost::json::object& in, std::string_view member,
                                      int64_t min, int64_t max);
Field<std::optional<const boost::json::array*>> opt_array(const boost::json::object& in,
                                                          std::string_view member, size_t min_len,
                                                          size_t max_len);
Field<std::optional<const boost::json::object*>> opt_object(const boost::json::object& in,
                                                            std::string_view member);

// The validated repositoryName member (required).
Field<std::string> repository_name(const boost::json::object& in);
// `registryId`, when present, must be twelve digits; returns it or `fallback`.
Field<std::string> registry_id(const boost::json::object& in, const std::string& fallback);
// maxResults within [1, max] (default `def`) and nextToken.
struct Paging {
  size_t max_results;
  std::optional<std::string> next_token;
  bool explicit_max = false;
};
Field<Paging> paging(const boost::json::object& in, size_t max, size_t def);

// Seconds since the epoch as ECR encodes timestamps (a JSON number).
inline boost::json::value timestamp(int64_t seconds) {
  return static_cast<double>(seconds);
}
// The same from milliseconds: fractional seconds, as ECR's imagePushedAt.
inline boost::json::value timestamp_ms(int64_t millis) {
  return static_cast<double>(millis) / 1000.0;
}

}  // namespace berth::ecr
