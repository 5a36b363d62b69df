#include "ecr/fields.h"

#include <fmt/format.h>

#include "core/names.h"

namespace berth::ecr {
namespace json = boost::json;

EcrError serialization_error(std::string_view member, std::string_view expected) {
  return ecr_error("SerializationException",
                   fmt::format("Unable to parse member '{}': expected {}", member, expected));
}

EcrError constraint_error(std::string_view member, std::string_view constraint) {
  return invalid_parameter(fmt::format(
      "Invalid parameter at '{}' failed to satisfy constraint: '{}'", member, constraint));
}

namespace {
const json::value* find(const json::object& in, std::string_view member) {
  auto it = in.find(member);
  if (it == in.end() || it->value().is_null()) return nullptr;
  return &it->value();
}
}  // namespace

Field<std::optional<std::string>> opt_string(const json::object& in, std::string_view member,
                                             size_t min_len, size_t max_len) {
  const json::value* v = find(in, member);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return serialization_error(member, "a string");
  std::string s(v->as_string());
  if (s.size() < min_len) {
    return constraint_error(member,
                            fmt::format("must have length greater than or equal to {}", min_len));
  }
  if (s.size() > max_len) {
    return constraint_error(member,
                            fmt::format("must have length less than or equal to {}", max_len));
  }
  return std::optional<std::string>(std::move(s));
}

Field<std::string> req_string(const json::object& in, std::string_view member, size_t min_len,
                              size_t max_len) {
  ECR_ASSIGN(auto s, opt_string(in, member, min_len, max_len));
  if (!s) return constraint_error(member, "must not be null");
  return *s;
}

Field<std::optional<bool>> opt_bool(const json::object& in, std::string_view member) {
  const json::value* v = find(in, member);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) return serialization_error(member, "a boolean");
  return std::optional<bool>(v->as_bool());
}

Field<std::optional<int64_t>> opt_int(const json::object& in, std::string_view member, int64_t min,
                                      int64_t max) {
  const json::value* v = find(in, member);
  if (v == nullptr) return std::optional<int64_t>();
  int64_t n;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v->as_uint64());
  } else {
    return serialization_error(member, "an integer");
  }
  if (n < min)
    return constraint_error(member,
                            fmt::format("must have value greater than or equal to {}", min));
  if (n > max)
    return constraint_error(member, fmt::format("must have value less than or equal to {}", max));
  return std::optional<int64_t>(n);
}

Field<std::optional<const json::array*>> opt_array(const json::object& in, std::string_view member,
                                                   size_t min_len, size_t max_len) {
  const json::value* v = find(in, member);
  if (v == nullptr) return std::optional<const json::array*>();
  if (!v->is_array()) return serialization_error(member, "a list");
  const auto& a = v->as_array();
  if (a.size() < min_len) {
    return constraint_error(member,
                            fmt::format("must have length greater than or equal to {}", min_len));
  }
  if (a.size() > max_len) {
    return constraint_error(member,
                            fmt::format("must have length less than or equal to {}", max_len));
  }
  return std::optional<const json::array*>(&a);
}

Field<std::optional<const json::object*>> opt_object(const json::object& in,
                                                     std::string_view member) {
  const json::value* v = find(in, member);
  if (v == nullptr) return std::optional<const json::object*>();
  if (!v->is_object()) return serialization_error(member, "a structure");
  return std::optional<const json::object*>(&v->as_object());
}

Field<std::string> repository_name(const json::object& in) {
  ECR_ASSIGN(auto name, req_string(in, "repositoryName", 2, 256));
  if (!validate_repository_name(name).is_ok()) {
    return constraint_error(
        "repositoryName",
        "must satisfy regular expression "
        "'[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*'");
  }
  return name;
}

Field<std::string> registry_id(const json::object& in, const std::string& fallback) {
  ECR_ASSIGN(auto id, opt_string(in, "registryId"));
  if (!id) return fallback;
  if (id->size() != 12 || id->find_first_not_of("0123456789") != std::string::npos) {
    return constraint_error("registryId", "must satisfy regular expression '[0-9]{12}'");
  }
  return *id;
}

Field<Paging> paging(const json::object& in, size_t max, size_t def) {
  Paging p{def, std::nullopt, false};
  ECR_ASSIGN(auto m, opt_int(in, "maxResults", 1, static_cast<int64_t>(max)));
  if (m) {
    p.max_results = static_cast<size_t>(*m);
    p.explicit_max = true;
  }
  ECR_ASSIGN(p.next_token, opt_string(in, "nextToken"));
  if (p.next_token && p.next_token->empty()) p.next_token.reset();
  return p;
}

}  // namespace berth::ecr
