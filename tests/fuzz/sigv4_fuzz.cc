// SigV4 verification (src/auth/sigv4.*): the Authorization header, the
// presigned query, the canonical URI and query, X-Amz-Date and Date, on every
// ECR request before anything else reads it.
//
// Input: a request in the AWS test suite's form (tests/fuzz/corpus/sigv4 holds
// signed ones): "METHOD target HTTP/1.1", "Name:value" header lines (a line
// starting with a space or tab continues the previous value), a blank line,
// the body.
// Properties: verification never crashes and never accepts a request unless
// its key id and secret are the known ones; date parsing round-trips through
// format_amz_date; a request signed with sign_request, whatever else it
// carries, verifies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "core/clock.h"
#include "fuzz_check.h"

namespace {

using namespace berth::auth;

constexpr std::string_view kAccessKeyId = "AKIDEXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kSuiteTime = 1'440'938'160;  // 20150830T123600Z, the test suite's clock

SigV4Request parse_request(std::string_view in) {
  SigV4Request r;
  auto take_line = [&in]() {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  std::string_view first = take_line();
  auto sp = first.find(' ');
  r.method = std::string(first.substr(0, sp));
  std::string_view target =
      sp == std::string_view::npos ? std::string_view() : first.substr(sp + 1);
  if (auto v = target.rfind(" HTTP/"); v != std::string_view::npos) target = target.substr(0, v);
  auto q = target.find('?');
  r.raw_path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.raw_query = std::string(target.substr(q + 1));
  while (!in.empty()) {
    std::string_view line = take_line();
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.back().value += "\n" + std::string(line);
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    r.headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  r.payload_sha256 = sha256_hex(in);
  return r;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// An RFC 9110 token: the only header names Beast's parser hands to berth.
bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

std::optional<std::string> lookup(std::string_view id) {
  if (id == kAccessKeyId) return std::string(kSecret);
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  SigV4Request request = parse_request(input);

  // The stages on their own.
  (void)canonical_uri(request.raw_path);
  (void)canonical_query_string(request.raw_query);
  int64_t clock_time = kSuiteTime;
  for (const auto& h : request.headers) {
    if (iequals(h.name, "x-amz-date")) {
      if (auto t = parse_amz_date(h.value)) {
        FUZZ_CHECK(format_amz_date(*t) == h.value);
        clock_time = *t;
      }
    } else if (iequals(h.name, "date")) {
      (void)parse_http_date(h.value);
    }
  }

  // Verification, at the time the request claims (so the signature is
  // reached) and for both services the corpus signs for.
  berth::FakeClock clock(clock_time * 1000);
  for (const char* service : {"service", "ecr"}) {
    VerifierOptions options;
    options.region = "us-east-1";
    options.service = service;
    options.allow_security_token = true;
    auto verified = verify_request(request, options, lookup, clock);
    if (verified) FUZZ_CHECK(verified->access_key_id == kAccessKeyId);
  }

  // Round trip: whatever headers and query the request carries, once signed
  // by sign_request (it replaces X-Amz-Date and appends Authorization) it
  // must verify. Presigned parameters in the query would make it carry both
  // forms at once, which verification rightly refuses; header names are
  // tokens, as the HTTP parser guarantees (a ';' would split SignedHeaders).
  SigV4Request resign = request;
  std::erase_if(resign.headers,
                [](const HttpHeader& h) { return iequals(h.name, "authorization"); });
  if (resign.raw_query.find("X-Amz-") != std::string::npos) return 0;
  // A repeated X-Amz-Security-Token is refused whoever signs it.
  size_t tokens = 0;
  for (const auto& h : resign.headers) {
    if (!is_token(h.name)) return 0;
    tokens += iequals(h.name, "x-amz-security-token");
  }
  if (tokens > 1) return 0;
  auto signed_value =
      sign_request(resign, SigningCredentials{std::string(kAccessKeyId), std::string(kSecret)},
                   "us-east-1", "ecr", kSuiteTime);
  if (!signed_value) return 0;
  VerifierOptions options;
  options.region = "us-east-1";
  options.allow_security_token = true;
  berth::FakeClock suite_clock(kSuiteTime * 1000);
  auto verified = verify_request(resign, options, lookup, suite_clock);
  if (!verified) {
    std::fprintf(stderr, "signed request refused: %s\n", verified.status().message().c_str());
  }
  FUZZ_CHECK(verified.is_ok());
  return 0;
}
