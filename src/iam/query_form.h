// The parameters of an AWS Query protocol request (IAM, STS): the body,
// application/x-www-form-urlencoded ("Action=CreateUser&UserName=ci&
// Version=2010-05-08"), with lists flattened as "<Name>.member.<n>" (from 1)
// and maps of structures as "<Name>.member.<n>.<Field>". Immutable once
// parsed; safe to read from several threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth::iam {

class QueryForm {
 public:
  // Percent-escapes and '+' (a space) decoded. kInvalidArgument when the body
  // is not form encoding (e.g. a bad percent escape). A repeated name keeps
  // its last value.
  static Result<QueryForm> parse(std::string_view body);

  // The value of `name`; nullopt when absent (an empty value is present).
  std::optional<std::string> get(std::string_view name) const;
  // `name`.member.1, .2, ... up to the first index missing.
  std::vector<std::string> list(std::string_view name) const;
  // `name`.member.<n>.`field` for n = 1, 2, ... up to the first index that
  // has none of `fields`; each entry holds the fields' values in order ("" when
  // absent).
  std::vector<std::vector<std::string>> structures(std::string_view name,
                                                   const std::vector<std::string>& fields) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace berth::iam
