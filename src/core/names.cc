#include "core/names.h"

namespace berth {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component: alnum+ (separator alnum+)* where separator is ".", "_",
// "__" or one or more "-".
bool valid_component(std::string_view c) {
  size_t i = 0;
  const size_t n = c.size();
  auto alnum_run = [&]() {
    size_t start = i;
    while (i < n && is_lower_alnum(c[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < n) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < n && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < n && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

}  // namespace

Status validate_repository_name(std::string_view name) {
  if (name.empty()) return error(Code::kNameInvalid, "repository name is empty");
  if (name.size() > kMaxRepositoryNameLength) {
    return error(Code::kNameInvalid, "repository name is longer than 255 characters");
  }
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string_view comp = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_component(comp)) {
      return error(Code::kNameInvalid,
                   "invalid repository name: components are lower-case letters and digits, "
                   "joined by '.', '_', '__' or '-', separated by '/'");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::ok();
}

Status validate_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) {
    return error(Code::kTagInvalid, "tag must be 1 to 128 characters");
  }
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag[0])) return error(Code::kTagInvalid, "tag must start with a letter, digit or '_'");
  for (char c : tag.substr(1)) {
    if (!word(c) && c != '.' && c != '-') {
      return error(Code::kTagInvalid, "tag may contain only letters, digits, '_', '.' and '-'");
    }
  }
  return Status::ok();
}

}  // namespace berth
