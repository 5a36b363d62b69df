#include "iam/fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "core/base64.h"
#include "core/digest.h"

namespace berth::iam {

std::variant<std::string, IamError> required(const QueryForm& form, std::string_view name) {
  auto v = form.get(name);
  if (!v || v->empty()) {
    return validation_error(fmt::format(
        "1 validation error detected: Value null at '{}{}' failed to satisfy constraint: Member "
        "must not be null",
        static_cast<char>(std::tolower(static_cast<unsigned char>(name.front()))), name.substr(1)));
  }
  return std::move(*v);
}

std::variant<Page, IamError> page_of(const QueryForm& form, const std::vector<std::string>& names) {
  size_t max_items = 100;
  if (auto m = form.get("MaxItems")) {
    size_t n = 0;
    auto [p, ec] = std::from_chars(m->data(), m->data() + m->size(), n);
    if (ec != std::errc() || p != m->data() + m->size() || n < 1 || n > 1000) {
      return validation_error(
          "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member "
          "must have value between 1 and 1000");
    }
    max_items = n;
  }
  Page page;
  if (auto marker = form.get("Marker")) {
    auto from = base64_decode(*marker);
    if (!from) return validation_error("Invalid Marker.");
    page.begin =
        static_cast<size_t>(std::lower_bound(names.begin(), names.end(), *from) - names.begin());
  }
  page.end = std::min(names.size(), page.begin + max_items);
  if (page.end < names.size()) page.next_marker = base64_encode(names[page.end]);
  return page;
}

void write_page_end(XmlWriter& w, const Page& page) {
  w.element("IsTruncated", page.next_marker.empty() ? "false" : "true");
  if (!page.next_marker.empty()) w.element("Marker", page.next_marker);
}

std::string iso8601(int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string user_arn(std::string_view account, std::string_view user) {
  return fmt::format("arn:aws:iam::{}:user/{}", account, user);
}

namespace {
// "<prefix>" and 17 characters derived from the kind, account and name.
std::string stable_id(std::string_view prefix, std::string_view kind, std::string_view account,
                      std::string_view name) {
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  Hasher h;
  h.update(fmt::format("{}\n{}\n{}", kind, account, name));
  const std::string hex = h.peek().hex();
  std::string id(prefix);
  for (size_t i = 0; i < 17; ++i) {
    unsigned v = 0;
    std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    id.push_back(kAlphabet[v % kAlphabet.size()]);
  }
  return id;
}
}  // namespace

std::string user_id(std::string_view account, std::string_view user) {
  return stable_id("AIDA", "user", account, user);
}

void write_user(XmlWriter& w, const UserRecord& user, std::string_view element) {
  w.open(element);
  w.element("Path", "/");
  w.element("UserName", user.name);
  w.element("UserId", user_id(user.account_id, user.name));
  w.element("Arn", user_arn(user.account_id, user.name));
  w.element("CreateDate", iso8601(user.created_at));
  w.close();
}

void write_group(XmlWriter& w, const GroupRecord& group, std::string_view element) {
  w.open(element);
  w.element("Path", "/");
  w.element("GroupName", group.name);
  w.element("GroupId", stable_id("AGPA", "group", group.account_id, group.name));
  w.element("Arn", fmt::format("arn:aws:iam::{}:group/{}", group.account_id, group.name));
  w.element("CreateDate", iso8601(group.created_at));
  w.close();
}

}  // namespace berth::iam
