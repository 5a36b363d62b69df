#include "core/sigv4_signing.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "core/digest.h"

namespace berth::sigv4 {
namespace {

namespace urls = boost::urls;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr urls::grammar::lut_chars kPathSafeChars = urls::unreserved_chars + '/';

// --- Small string helpers ----------------------------------------------------

bool is_http_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_http_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_http_space(s.back())) s.remove_suffix(1);
  return s;
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// A digest failure means OpenSSL itself is unusable; there is no sensible way
// to carry on signing, so it is fatal rather than an error value.
[[noreturn]] void crypto_failure() {
  std::abort();
}

// --- Percent-encoding (Boost.URL does the work) -------------------------------

std::string percent_encode(std::string_view s, const urls::grammar::lut_chars& safe) {
  return urls::encode(urls::string_view(s.data(), s.size()), safe);
}

Result<std::string> percent_decode(std::string_view s) {
  auto checked = urls::make_pct_string_view(urls::string_view(s.data(), s.size()));
  if (checked.has_error()) {
    return error(Code::kInvalidArgument,
                 fmt::format("query string component '{}' is not valid percent-encoding", s));
  }
  return checked->decode();
}

// botocore's remove_dot_segments: RFC 3986 dot removal that also collapses
// repeated '/', as every AWS service except S3 expects.
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> kept;
  for (std::string_view segment : split(path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    out += kept[i];
  }
  if (path.back() == '/' && !kept.empty()) out += '/';
  return out.empty() ? "/" : out;
}

// HttpHeader value as it enters the canonical request: trimmed, each internal run
// of whitespace (folded lines included) replaced by one space.
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : trim(value)) {
    if (is_http_space(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

// --- HttpHeader access -------------------------------------------------------------

bool has_header(const SigV4Request& request, std::string_view name) {
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [&](const HttpHeader& header) { return iequals(header.name, name); });
}

}  // namespace

std::string percent_encode_unreserved(std::string_view s) {
  return percent_encode(s, urls::unreserved_chars);
}

// The query's components percent-decoded, in order; empty components dropped.
Result<QueryParams> decode_query(std::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> params;
  if (raw_query.empty()) return params;
  for (std::string_view component : split(raw_query, '&')) {
    if (component.empty()) continue;
    size_t eq = component.find('=');
    std::string_view key = component.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : component.substr(eq + 1);
    BERTH_ASSIGN_OR_RETURN(std::string decoded_key, percent_decode(key));
    BERTH_ASSIGN_OR_RETURN(std::string decoded_value, percent_decode(value));
    params.emplace_back(std::move(decoded_key), std::move(decoded_value));
  }
  return params;
}

std::string CredentialScope::to_string() const {
  return fmt::format("{}/{}/{}/{}", date, region, service, kTerminator);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    crypto_failure();
  }
  return to_hex(digest, size);
}

std::string canonical_uri(std::string_view raw_path) {
  return percent_encode(normalize_path(raw_path), kPathSafeChars);
}

Result<std::string> canonical_query_string(std::string_view raw_query) {
  BERTH_ASSIGN_OR_RETURN(QueryParams params, decode_query(raw_query));
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [key, value] : params) {
    encoded.emplace_back(percent_encode(key, urls::unreserved_chars),
                         percent_encode(value, urls::unreserved_chars));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

Result<std::string> canonical_request(const SigV4Request& request,
                                      const std::vector<std::string>& signed_headers) {
  std::vector<std::string> names;
  names.reserve(signed_headers.size());
  for (const std::string& name : signed_headers) names.push_back(to_lower(name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  BERTH_ASSIGN_OR_RETURN(std::string query, canonical_query_string(request.raw_query));
  std::string headers;
  for (const std::string& name : names) {
    if (name.empty()) return error(Code::kSignatureInvalid, "empty name in SignedHeaders");
    std::string values;
    bool found = false;
    for (const HttpHeader& header : request.headers) {
      if (!iequals(header.name, name)) continue;
      if (found) values += ',';
      values += canonical_header_value(header.value);
      found = true;
    }
    if (!found) {
      return error(Code::kSignatureInvalid,
                   fmt::format("signed header '{}' is not present in the request", name));
    }
    headers += fmt::format("{}:{}\n", name, values);
  }
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, canonical_uri(request.raw_path),
                     query, headers, join(names, ";"), request.payload_sha256);
}

std::string string_to_sign(std::string_view amz_date, const CredentialScope& scope,
                           std::string_view canonical_request) {
  return fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amz_date, scope.to_string(),
                     sha256_hex(canonical_request));
}

std::array<uint8_t, 32> signing_key(std::string_view secret_access_key,
                                    const CredentialScope& scope) {
  std::string seed = fmt::format("AWS4{}", secret_access_key);
  std::array<uint8_t, 32> key = hmac_sha256(seed.data(), seed.size(), scope.date);
  OPENSSL_cleanse(seed.data(), seed.size());
  key = hmac_sha256(key.data(), key.size(), scope.region);
  key = hmac_sha256(key.data(), key.size(), scope.service);
  return hmac_sha256(key.data(), key.size(), kTerminator);
}

std::string signature(const std::array<uint8_t, 32>& signing_key, std::string_view string_to_sign) {
  std::array<uint8_t, 32> mac = hmac_sha256(signing_key.data(), signing_key.size(), string_to_sign);
  return to_hex(mac.data(), mac.size());
}

std::string format_amz_date(int64_t unix_seconds) {
  using namespace std::chrono;
  int64_t days = unix_seconds / 86400;
  int64_t rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     rem / 3600, rem / 60 % 60, rem % 60);
}

// --- Client side ----------------------------------------------------------------------

namespace {

// Headers botocore never signs (SIGNED_HEADERS_BLACKLIST plus hop-by-hop ones).
bool is_unsigned_header(std::string_view lower_name) {
  static constexpr std::string_view kUnsigned[] = {"authorization",
                                                   "connection",
                                                   "expect",
                                                   "keep-alive",
                                                   "proxy-authenticate",
                                                   "proxy-authorization",
                                                   "te",
                                                   "trailer",
                                                   "transfer-encoding",
                                                   "upgrade",
                                                   "user-agent",
                                                   "x-amzn-trace-id"};
  return std::find(std::begin(kUnsigned), std::end(kUnsigned), lower_name) != std::end(kUnsigned);
}

}  // namespace

Result<std::string> sign_request(SigV4Request& request, const SigningCredentials& credentials,
                                 std::string_view region, std::string_view service,
                                 int64_t unix_seconds) {
  if (!has_header(request, "host")) {
    return error(Code::kInvalidArgument, "cannot sign a request without a Host header");
  }
  const std::string amz_date = format_amz_date(unix_seconds);
  std::erase_if(request.headers,
                [](const HttpHeader& header) { return iequals(header.name, "authorization"); });
  auto is_date = [](const HttpHeader& header) { return iequals(header.name, "x-amz-date"); };
  auto date_it = std::find_if(request.headers.begin(), request.headers.end(), is_date);
  if (date_it != request.headers.end()) {
    date_it->value = amz_date;
    // Verification refuses a repeated X-Amz-Date, so later copies go.
    request.headers.erase(std::remove_if(date_it + 1, request.headers.end(), is_date),
                          request.headers.end());
  } else {
    request.headers.push_back({"X-Amz-Date", amz_date});
  }

  std::vector<std::string> names;
  for (const HttpHeader& header : request.headers) {
    std::string name = to_lower(header.name);
    if (!is_unsigned_header(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  CredentialScope scope{amz_date.substr(0, 8), std::string(region), std::string(service)};
  BERTH_ASSIGN_OR_RETURN(std::string canonical, canonical_request(request, names));
  std::string sig = signature(signing_key(credentials.secret_access_key, scope),
                              string_to_sign(amz_date, scope, canonical));
  std::string authorization =
      fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                  credentials.access_key_id, scope.to_string(), join(names, ";"), sig);
  request.headers.push_back({"Authorization", authorization});
  return authorization;
}

Result<std::string> presign_query(const SigV4Request& request,
                                  const SigningCredentials& credentials, std::string_view region,
                                  std::string_view service, int64_t unix_seconds,
                                  int64_t expires_seconds) {
  if (!has_header(request, "host")) {
    return error(Code::kInvalidArgument, "cannot presign a request without a Host header");
  }
  if (expires_seconds < 1) return error(Code::kInvalidArgument, "expires_seconds must be >= 1");
  const std::string amz_date = format_amz_date(unix_seconds);
  CredentialScope scope{amz_date.substr(0, 8), std::string(region), std::string(service)};

  SigV4Request presigned = request;
  std::string& query = presigned.raw_query;
  auto append = [&query](std::string_view key, std::string_view value) {
    if (!query.empty()) query += '&';
    query += key;
    query += '=';
    query += percent_encode_unreserved(value);
  };
  append("X-Amz-Algorithm", kAlgorithm);
  append("X-Amz-Credential", fmt::format("{}/{}", credentials.access_key_id, scope.to_string()));
  append("X-Amz-Date", amz_date);
  append("X-Amz-Expires", std::to_string(expires_seconds));
  append("X-Amz-SignedHeaders", "host");

  BERTH_ASSIGN_OR_RETURN(std::string canonical, canonical_request(presigned, {"host"}));
  append("X-Amz-Signature", signature(signing_key(credentials.secret_access_key, scope),
                                      string_to_sign(amz_date, scope, canonical)));
  return query;
}

}  // namespace berth::sigv4
