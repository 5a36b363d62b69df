// What the IAM actions share: required parameters, paging (Marker,
// MaxItems), the ARNs and ids berth gives users, and their XML. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "iam/iam_error.h"
#include "iam/query_form.h"
#include "iam/xml_writer.h"
#include "identity/iam_service.h"

namespace berth::iam {

// The value of a Result, or the IamError its Status maps to.
#define IAM_ASSIGN_OR_RETURN(lhs, expr)                         \
  auto lhs##_result = (expr);                                   \
  if (!lhs##_result) return from_status(lhs##_result.status()); \
  auto lhs = std::move(lhs##_result).value()

// The value of a required parameter `name` of `form`, or its ValidationError.
#define IAM_REQUIRE(lhs, form, name)                            \
  auto lhs##_value = required(form, name);                      \
  if (auto* e = std::get_if<IamError>(&lhs##_value)) return *e; \
  const std::string lhs = std::get<std::string>(std::move(lhs##_value))

// The value of a required parameter, or ValidationError naming it.
std::variant<std::string, IamError> required(const QueryForm& form, std::string_view name);

// One page of a list: the items from `Marker` on, at most `MaxItems` (1-1000,
// default 100). The marker is the base64 of the first name not yet returned.
struct Page {
  size_t begin = 0;
  size_t end = 0;
  std::string next_marker;  // empty on the last page
};
// `names` in byte order. ValidationError for a bad MaxItems or Marker.
std::variant<Page, IamError> page_of(const QueryForm& form, const std::vector<std::string>& names);
// <IsTruncated> and, when truncated, <Marker>.
void write_page_end(XmlWriter& w, const Page& page);

// ISO 8601 in UTC, as IAM writes dates: 2026-12-07T08:15:00Z.
std::string iso8601(int64_t epoch_seconds);
std::string user_arn(std::string_view account, std::string_view user);
// A stable unique id of the user ("AIDA" and 17 characters), derived from its
// account and name.
std::string user_id(std::string_view account, std::string_view user);
// <User> with Path, UserName, UserId, Arn and CreateDate, named `element`
// ("User", or "member" in a list).
void write_user(XmlWriter& w, const UserRecord& user, std::string_view element = "User");
// <Group> with Path, GroupName, GroupId ("AGPA" and 17 characters), Arn and CreateDate.
void write_group(XmlWriter& w, const GroupRecord& group, std::string_view element = "Group");

}  // namespace berth::iam
