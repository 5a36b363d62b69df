#include "auth/sigv4.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "core/digest.h"

namespace berth::auth {
namespace {

using sigv4::decode_query;
using sigv4::QueryParams;

namespace urls = boost::urls;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";

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

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> percent_decode(std::string_view s) {
  auto checked = urls::make_pct_string_view(urls::string_view(s.data(), s.size()));
  if (checked.has_error()) {
    return error(Code::kInvalidArgument,
                 fmt::format("query string component '{}' is not valid percent-encoding", s));
  }
  return checked->decode();
}

// `raw_query` without its X-Amz-Signature components (the presigned signature
// does not sign itself).
Result<std::string> strip_presigned_signature(std::string_view raw_query) {
  std::string out;
  for (std::string_view component : split(raw_query, '&')) {
    if (component.empty()) continue;
    BERTH_ASSIGN_OR_RETURN(std::string key,
                           percent_decode(component.substr(0, component.find('='))));
    if (key == "X-Amz-Signature") continue;
    if (!out.empty()) out += '&';
    out += component;
  }
  return out;
}

// The value of a header that must occur at most once; nullopt when absent.
Result<std::optional<std::string_view>> single_header(const SigV4Request& request,
                                                      std::string_view name) {
  std::optional<std::string_view> found;
  for (const HttpHeader& header : request.headers) {
    if (!iequals(header.name, name)) continue;
    if (found) {
      return error(Code::kIncompleteSignature,
                   fmt::format("the '{}' header must not be repeated", name));
    }
    found = header.value;
  }
  return found;
}

// --- Dates ----------------------------------------------------------------------

bool parse_digits(std::string_view s, int& out) {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

std::optional<int64_t> civil_to_unix(int year, int month, int day, int hour, int minute,
                                     int second) {
  using namespace std::chrono;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  int64_t days = sys_days{ymd}.time_since_epoch().count();
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

std::string format_duration(int64_t seconds) {
  return seconds % 60 == 0 ? fmt::format("{} min.", seconds / 60) : fmt::format("{} sec.", seconds);
}

// --- The parsed authentication, whichever form carried it ----------------------

struct ParsedAuth {
  std::string access_key_id;
  CredentialScope scope;
  std::string terminator;
  std::vector<std::string> signed_headers;  // lowercase, sorted, unique
  std::string signature;
  std::string amz_date;  // as it enters the string to sign
  int64_t request_time = 0;
  std::optional<std::string> security_token;
  bool presigned = false;
  int64_t expires_seconds = 0;  // presigned only
};

Status parse_credential(std::string_view credential, ParsedAuth& out) {
  std::vector<std::string_view> parts = split(credential, '/');
  bool all_present =
      std::none_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); });
  if (parts.size() != 5 || !all_present) {
    return error(Code::kIncompleteSignature,
                 "Credential must have exactly 5 slash-delimited elements, e.g. "
                 "keyid/date/region/service/term");
  }
  out.access_key_id = parts[0];
  out.scope = {std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
  out.terminator = parts[4];
  return Status::ok();
}

Status parse_signed_headers(std::string_view list, ParsedAuth& out) {
  out.signed_headers.clear();
  for (std::string_view name : split(list, ';')) {
    if (name.empty()) {
      return error(Code::kIncompleteSignature, "SignedHeaders contains an empty header name");
    }
    out.signed_headers.push_back(to_lower(name));
    // The signature cannot cover itself; and a signed header's value would be
    // echoed in the mismatch message.
    if (out.signed_headers.back() == "authorization") {
      return error(Code::kIncompleteSignature, "'Authorization' cannot be a 'SignedHeader'");
    }
  }
  std::sort(out.signed_headers.begin(), out.signed_headers.end());
  if (std::adjacent_find(out.signed_headers.begin(), out.signed_headers.end()) !=
      out.signed_headers.end()) {
    return error(Code::kIncompleteSignature, "SignedHeaders names a header twice");
  }
  return Status::ok();
}

Status parse_request_date(std::string_view amz_date, ParsedAuth& out) {
  std::optional<int64_t> time = parse_amz_date(amz_date);
  if (!time) {
    return error(Code::kIncompleteSignature,
                 fmt::format("Date must be in ISO-8601 'basic format'. Got '{}'.", amz_date));
  }
  out.amz_date = amz_date;
  out.request_time = *time;
  return Status::ok();
}

Status parse_authorization_header(const SigV4Request& request, std::string_view header,
                                  ParsedAuth& out) {
  std::string_view value = trim(header);
  size_t space = value.find_first_of(" \t");
  std::string_view algorithm = value.substr(0, space);
  std::string_view rest = space == std::string_view::npos ? "" : value.substr(space + 1);
  if (algorithm != kAlgorithm) {
    return error(Code::kIncompleteSignature,
                 fmt::format("Unsupported AWS 'algorithm': only {} is accepted", kAlgorithm));
  }
  std::optional<std::string_view> credential, signed_headers, signature;
  for (std::string_view part : split(rest, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return error(Code::kIncompleteSignature,
                   "A component of the Authorization header is not a valid key=value pair "
                   "(missing equal-sign).");
    }
    std::string_view key = part.substr(0, eq);
    std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                            : key == "SignedHeaders" ? &signed_headers
                                            : key == "Signature"     ? &signature
                                                                     : nullptr;
    if (slot == nullptr) continue;  // unknown parameters are ignored, as AWS does
    if (*slot) {
      return error(Code::kIncompleteSignature,
                   fmt::format("Authorization header repeats '{}'", key));
    }
    *slot = trim(part.substr(eq + 1));
  }
  std::string missing;
  if (!credential) missing += "Authorization header requires 'Credential' parameter. ";
  if (!signature) missing += "Authorization header requires 'Signature' parameter. ";
  if (!signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!missing.empty()) {
    return error(Code::kIncompleteSignature, std::string(trim(missing)));
  }
  BERTH_RETURN_IF_ERROR(parse_credential(*credential, out));
  BERTH_RETURN_IF_ERROR(parse_signed_headers(*signed_headers, out));
  out.signature = *signature;

  BERTH_ASSIGN_OR_RETURN(auto amz_date, single_header(request, "x-amz-date"));
  if (amz_date) {
    BERTH_RETURN_IF_ERROR(parse_request_date(trim(*amz_date), out));
  } else {
    BERTH_ASSIGN_OR_RETURN(auto http_date, single_header(request, "date"));
    if (!http_date) {
      return error(Code::kIncompleteSignature,
                   "Authorization header requires existence of either a 'X-Amz-Date' or a "
                   "'Date' header.");
    }
    std::optional<int64_t> time = parse_http_date(trim(*http_date));
    if (!time) {
      return error(Code::kIncompleteSignature,
                   fmt::format("Date header '{}' is not an RFC 7231 IMF-fixdate", *http_date));
    }
    out.amz_date = format_amz_date(*time);
    out.request_time = *time;
  }

  BERTH_ASSIGN_OR_RETURN(auto token, single_header(request, "x-amz-security-token"));
  if (token) out.security_token = std::string(trim(*token));
  return Status::ok();
}

bool is_presigned(const QueryParams& params) {
  return std::any_of(params.begin(), params.end(), [](const auto& p) {
    return p.first == "X-Amz-Algorithm" || p.first == "X-Amz-Credential" ||
           p.first == "X-Amz-Signature";
  });
}

Result<std::optional<std::string>> single_param(const QueryParams& params, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [key, value] : params) {
    if (key != name) continue;
    if (found) {
      return error(Code::kIncompleteSignature,
                   fmt::format("query parameter '{}' must not be repeated", name));
    }
    found = value;
  }
  return found;
}

Status parse_presigned_query(const QueryParams& params, const VerifierOptions& options,
                             ParsedAuth& out) {
  out.presigned = true;
  std::string missing;
  // The value of a required parameter; "" (and a note in `missing`) if absent.
  auto required = [&](std::string_view name) -> Result<std::string> {
    BERTH_ASSIGN_OR_RETURN(std::optional<std::string> value, single_param(params, name));
    if (!value) {
      missing += fmt::format("Query-string authentication requires the {} parameter. ", name);
    }
    return value.value_or("");
  };
  BERTH_ASSIGN_OR_RETURN(std::string algorithm, required("X-Amz-Algorithm"));
  BERTH_ASSIGN_OR_RETURN(std::string credential, required("X-Amz-Credential"));
  BERTH_ASSIGN_OR_RETURN(std::string amz_date, required("X-Amz-Date"));
  BERTH_ASSIGN_OR_RETURN(std::string expires, required("X-Amz-Expires"));
  BERTH_ASSIGN_OR_RETURN(std::string signed_headers, required("X-Amz-SignedHeaders"));
  BERTH_ASSIGN_OR_RETURN(out.signature, required("X-Amz-Signature"));
  if (!missing.empty()) return error(Code::kIncompleteSignature, std::string(trim(missing)));

  if (algorithm != kAlgorithm) {
    return error(Code::kIncompleteSignature,
                 fmt::format("Unsupported AWS 'algorithm': '{}'", algorithm));
  }
  BERTH_RETURN_IF_ERROR(parse_credential(credential, out));
  BERTH_RETURN_IF_ERROR(parse_request_date(amz_date, out));
  int expires_seconds = 0;
  if (expires.size() > 9 || !parse_digits(expires, expires_seconds) || expires_seconds < 1 ||
      expires_seconds > options.max_presign_expires_seconds) {
    return error(Code::kIncompleteSignature,
                 fmt::format("X-Amz-Expires must be between 1 and {} seconds, got '{}'",
                             options.max_presign_expires_seconds, expires));
  }
  out.expires_seconds = expires_seconds;
  BERTH_RETURN_IF_ERROR(parse_signed_headers(signed_headers, out));
  BERTH_ASSIGN_OR_RETURN(out.security_token, single_param(params, "X-Amz-Security-Token"));
  return Status::ok();
}

bool is_valid_region_name(std::string_view region) {
  return !region.empty() && std::all_of(region.begin(), region.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// The scope and time checks shared by both forms.
Status check_scope_and_time(const ParsedAuth& auth, const VerifierOptions& options,
                            const Clock& clock) {
  if (auth.terminator != kTerminator) {
    return error(Code::kSignatureInvalid,
                 fmt::format("Credential should be scoped with a valid terminator: "
                             "'aws4_request', not '{}'.",
                             auth.terminator));
  }
  if (auth.scope.service != options.service) {
    return error(
        Code::kSignatureInvalid,
        fmt::format("Credential should be scoped to correct service: '{}'.", options.service));
  }
  bool region_ok = options.region.empty() ? is_valid_region_name(auth.scope.region)
                                          : auth.scope.region == options.region;
  if (!region_ok) {
    if (options.region.empty()) {
      return error(Code::kSignatureInvalid,
                   fmt::format("Credential should be scoped to a valid region, not '{}'.",
                               auth.scope.region));
    }
    // Name the expected region: a client configured for another one then
    // knows what to set (e.g. AWS_DEFAULT_REGION or --region).
    return error(
        Code::kSignatureInvalid,
        fmt::format(
            "Credential should be scoped to a valid region, not '{}'. This endpoint expects "
            "region '{}'.",
            auth.scope.region, options.region));
  }
  std::string_view request_day = std::string_view(auth.amz_date).substr(0, 8);
  if (auth.scope.date != request_day) {
    return error(Code::kSignatureInvalid,
                 fmt::format("Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                             "version of date from HTTP: '{}' != '{}', from '{}'.",
                             auth.scope.date, request_day, auth.amz_date));
  }
  if (!std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(), "host")) {
    return error(Code::kIncompleteSignature,
                 "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  for (const std::string& required : options.required_signed_headers) {
    if (!std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(),
                            to_lower(required))) {
      return error(
          Code::kIncompleteSignature,
          fmt::format("'{}' must be a 'SignedHeader' in the AWS Authorization.", required));
    }
  }

  const int64_t now = clock.now_seconds();
  const int64_t skew = options.max_clock_skew_seconds;
  if (auth.request_time > now + skew) {
    return error(
        Code::kSignatureExpired,
        fmt::format("Signature not yet current: {} is still later than {} ({} + {})", auth.amz_date,
                    format_amz_date(now + skew), format_amz_date(now), format_duration(skew)));
  }
  if (auth.presigned) {
    if (now > auth.request_time + auth.expires_seconds) {
      return error(Code::kSignatureExpired,
                   fmt::format("Request has expired: signed at {} for {} seconds, now {}",
                               auth.amz_date, auth.expires_seconds, format_amz_date(now)));
    }
  } else if (auth.request_time < now - skew) {
    return error(
        Code::kSignatureExpired,
        fmt::format("Signature expired: {} is now earlier than {} ({} - {})", auth.amz_date,
                    format_amz_date(now - skew), format_amz_date(now), format_duration(skew)));
  }
  return Status::ok();
}

Status check_content_sha256(const SigV4Request& request) {
  BERTH_ASSIGN_OR_RETURN(auto declared, single_header(request, "x-amz-content-sha256"));
  if (declared && trim(*declared) != request.payload_sha256) {
    return error(Code::kSignatureInvalid,
                 fmt::format("The provided 'x-amz-content-sha256' header does not match what "
                             "was computed: '{}' != '{}'",
                             trim(*declared), request.payload_sha256));
  }
  return Status::ok();
}

}  // namespace

// --- Public stages ----------------------------------------------------------------

std::optional<int64_t> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  int year, month, day, hour, minute, second;
  if (!parse_digits(s.substr(0, 4), year) || !parse_digits(s.substr(4, 2), month) ||
      !parse_digits(s.substr(6, 2), day) || !parse_digits(s.substr(9, 2), hour) ||
      !parse_digits(s.substr(11, 2), minute) || !parse_digits(s.substr(13, 2), second)) {
    return std::nullopt;
  }
  return civil_to_unix(year, month, day, hour, minute, second);
}

std::optional<int64_t> parse_http_date(std::string_view s) {
  // "Sun, 30 Aug 2015 12:36:00 GMT"
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(std::begin(kDays), std::end(kDays), s.substr(0, 3)) == std::end(kDays)) {
    return std::nullopt;
  }
  auto month_it = std::find(std::begin(kMonths), std::end(kMonths), s.substr(8, 3));
  if (month_it == std::end(kMonths)) return std::nullopt;
  int day, year, hour, minute, second;
  if (!parse_digits(s.substr(5, 2), day) || !parse_digits(s.substr(12, 4), year) ||
      !parse_digits(s.substr(17, 2), hour) || !parse_digits(s.substr(20, 2), minute) ||
      !parse_digits(s.substr(23, 2), second)) {
    return std::nullopt;
  }
  int month = static_cast<int>(month_it - std::begin(kMonths)) + 1;
  return civil_to_unix(year, month, day, hour, minute, second);
}

// --- Verification -------------------------------------------------------------------

namespace {

// The checks that need neither the body nor the secret: the credentials'
// form, scope and time.
Result<ParsedAuth> parse_and_check(const SigV4Request& request, const VerifierOptions& options,
                                   const Clock& clock) {
  BERTH_ASSIGN_OR_RETURN(auto authorization, single_header(request, "authorization"));
  BERTH_ASSIGN_OR_RETURN(QueryParams params, decode_query(request.raw_query));
  const bool presigned = is_presigned(params);

  ParsedAuth auth;
  if (authorization && presigned) {
    return error(Code::kIncompleteSignature,
                 "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                 "or the Authorization header should be specified");
  }
  if (authorization) {
    BERTH_RETURN_IF_ERROR(parse_authorization_header(request, *authorization, auth));
  } else if (presigned) {
    BERTH_RETURN_IF_ERROR(parse_presigned_query(params, options, auth));
  } else {
    return error(Code::kMissingAuthentication, "Missing Authentication Token");
  }

  BERTH_RETURN_IF_ERROR(check_scope_and_time(auth, options, clock));
  if (auth.security_token && !options.allow_security_token) {
    return error(Code::kUnknownAccessKey, "The security token included in the request is invalid.");
  }
  return auth;
}

}  // namespace

Result<std::string> precheck_request(const SigV4Request& request, const VerifierOptions& options,
                                     const Clock& clock) {
  BERTH_ASSIGN_OR_RETURN(ParsedAuth auth, parse_and_check(request, options, clock));
  return std::move(auth.access_key_id);
}

Result<VerifiedRequest> verify_request(const SigV4Request& request, const VerifierOptions& options,
                                       const SecretLookup& lookup_secret, const Clock& clock) {
  BERTH_ASSIGN_OR_RETURN(ParsedAuth auth, parse_and_check(request, options, clock));
  BERTH_RETURN_IF_ERROR(check_content_sha256(request));

  std::optional<std::string> secret = lookup_secret(auth.access_key_id);
  if (!secret) {
    return error(Code::kUnknownAccessKey, "The security token included in the request is invalid.");
  }

  std::string canonical;
  if (auth.presigned) {
    SigV4Request unsigned_request = request;
    BERTH_ASSIGN_OR_RETURN(unsigned_request.raw_query,
                           strip_presigned_signature(request.raw_query));
    BERTH_ASSIGN_OR_RETURN(canonical, canonical_request(unsigned_request, auth.signed_headers));
  } else {
    BERTH_ASSIGN_OR_RETURN(canonical, canonical_request(request, auth.signed_headers));
  }
  std::string to_sign = string_to_sign(auth.amz_date, auth.scope, canonical);
  std::array<uint8_t, 32> key = signing_key(*secret, auth.scope);
  OPENSSL_cleanse(secret->data(), secret->size());
  std::string expected = signature(key, to_sign);
  OPENSSL_cleanse(key.data(), key.size());

  if (!equal_constant_time(expected, auth.signature)) {
    return error(Code::kSignatureInvalid,
                 fmt::format("The request signature we calculated does not match the signature "
                             "you provided. Check your AWS Secret Access Key and signing method. "
                             "Consult the service documentation for details.\n\nThe Canonical "
                             "String for this request should have been\n'{}'\n\nThe "
                             "String-to-Sign should have been\n'{}'\n",
                             canonical, to_sign));
  }

  VerifiedRequest verified;
  verified.access_key_id = std::move(auth.access_key_id);
  verified.scope = std::move(auth.scope);
  verified.request_time = auth.request_time;
  verified.signed_headers = std::move(auth.signed_headers);
  verified.security_token = std::move(auth.security_token);
  verified.presigned = auth.presigned;
  return verified;
}

std::string claimed_access_key_id(const SigV4Request& request) {
  auto key_of = [](std::string_view credential) -> std::string {
    std::string_view id = credential.substr(0, credential.find_first_of("/%&, "));
    const bool plain =
        !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
          return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        });
    return plain ? std::string(id) : std::string();
  };
  for (const auto& h : request.headers) {
    if (h.name.size() != 13 ||
        !std::equal(h.name.begin(), h.name.end(), "authorization", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      continue;
    }
    constexpr std::string_view kCredential = "Credential=";
    auto at = h.value.find(kCredential);
    if (at == std::string::npos) return {};
    return key_of(std::string_view(h.value).substr(at + kCredential.size()));
  }
  constexpr std::string_view kQueryCredential = "X-Amz-Credential=";
  std::string_view q = request.raw_query;
  for (size_t at = q.find(kQueryCredential); at != std::string_view::npos;
       at = q.find(kQueryCredential, at + 1)) {
    if (at == 0 || q[at - 1] == '&') return key_of(q.substr(at + kQueryCredential.size()));
  }
  return {};
}

}  // namespace berth::auth
