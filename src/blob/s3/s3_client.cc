#include "blob/s3/s3_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace berth::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Beast reads a response in reads of the read buffer's free capacity, at
// least 512 bytes and at most 64 KiB: a buffer left to grow by itself stays
// near 512 bytes, and a 4 MiB body then takes some 8,000 reads (and most of a
// core at S3 speeds). Reserved up front, every read takes up to 64 KiB.
constexpr size_t kReadBuffer = 64 * 1024;

// The client side of https: one context for every connection (OpenSSL
// creates each connection's state from it, thread-safely).
struct S3Client::Tls {
  asio::ssl::context ctx{asio::ssl::context::tls_client};
};

// One keep-alive connection with its own io_context: each step runs the
// context until the step's handler ran or its timer fired, so a synchronous
// call still has a timeout. Plain TCP, or TLS over it.
struct S3Client::Connection {
  explicit Connection(asio::ssl::context* tls) {
    buffer.reserve(kReadBuffer);
    if (tls != nullptr) {
      secure.emplace(ioc, *tls);
    } else {
      plain.emplace(ioc);
    }
  }
  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool reused = false;
};

namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_retryable_status(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (const auto& [entity, c] : kEntities) {
      if (s.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        done = true;
        break;
      }
    }
    if (!done) out += '&';
  }
  return out;
}

}  // namespace

std::string S3Response::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string S3Response::error_code() const {
  return xml_first(body, "Code");
}

bool is_plain_key(std::string_view key) {
  if (key.empty() || key.front() == '/' || key.back() == '/') return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    if (!ok) return false;
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

std::vector<std::string> xml_all(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = fmt::format("<{}>", tag);
  const std::string close = fmt::format("</{}>", tag);
  size_t at = 0;
  while (true) {
    size_t b = xml.find(open, at);
    if (b == std::string_view::npos) return out;
    b += open.size();
    size_t e = xml.find(close, b);
    if (e == std::string_view::npos) return out;
    out.push_back(xml_unescape(xml.substr(b, e - b)));
    at = e + close.size();
  }
}

std::string xml_first(std::string_view xml, std::string_view tag) {
  auto all = xml_all(xml, tag);
  return all.empty() ? std::string() : all.front();
}

namespace {

int64_t civil_seconds(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok()) return 0;
  return sys_days{ymd}.time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s;
}

}  // namespace

int64_t parse_iso8601(std::string_view t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (t.size() < 19) return 0;
  if (std::sscanf(std::string(t.substr(0, 19)).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h,
                  &mi, &s) != 6) {
    return 0;
  }
  return civil_seconds(y, static_cast<unsigned>(mo), static_cast<unsigned>(d), h, mi, s);
}

int64_t parse_http_date_seconds(std::string_view t) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char mon[4] = {};
  int d = 0, y = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(std::string(t).c_str(), "%*3s, %2d %3s %4d %2d:%2d:%2d", &d, mon, &y, &h, &mi,
                  &s) != 6)
    return 0;
  auto it = std::find(std::begin(kMonths), std::end(kMonths), std::string_view(mon));
  if (it == std::end(kMonths)) return 0;
  return civil_seconds(y, static_cast<unsigned>(it - std::begin(kMonths) + 1),
                       static_cast<unsigned>(d), h, mi, s);
}

Result<std::unique_ptr<S3Client>> S3Client::create(S3ClientOptions options) {
  // http(s)://host[:port][/], host a name, an IPv4 address or a bracketed
  // IPv6 one; nothing else (no user, path, query or fragment).
  auto bad_endpoint = [&options](std::string_view why) {
    return error(Code::kInvalidArgument,
                 fmt::format("storage.s3.endpoint '{}' must be http(s)://host[:port]: {}",
                             options.endpoint, why));
  };
  auto url = boost::urls::parse_absolute_uri(options.endpoint);
  if (!url) return bad_endpoint(url.error().message());
  const bool https = url->scheme_id() == boost::urls::scheme::https;
  if (!https && url->scheme_id() != boost::urls::scheme::http)
    return bad_endpoint("the scheme is neither http nor https");
  if (url->has_userinfo() || url->has_query() || url->has_fragment() ||
      !(url->encoded_path().empty() || url->encoded_path() == "/"))
    return bad_endpoint("it has more than a host and a port");
  if (url->encoded_host().empty()) return bad_endpoint("it has no host");
  if (url->has_port()) {
    const std::string_view port = url->port();
    unsigned number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
        number > 65535)
      return bad_endpoint("the port is not a number from 1 to 65535");
  }
  const bool ip = url->host_type() == boost::urls::host_type::ipv4 ||
                  url->host_type() == boost::urls::host_type::ipv6;
  if (ip && !options.path_style) {
    return error(Code::kInvalidArgument,
                 fmt::format("storage.s3.endpoint '{}' is an IP address: virtual-hosted buckets "
                             "(path-style: false) need a host name",
                             options.endpoint));
  }
  if (!https && !options.ca_file.empty()) {
    return error(Code::kInvalidArgument,
                 fmt::format("storage.s3.ca-file is set but the endpoint '{}' is not https://",
                             options.endpoint));
  }
  if (options.bucket.empty()) return error(Code::kInvalidArgument, "storage.s3.bucket is required");
  for (char c : options.bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return error(Code::kInvalidArgument,
                   fmt::format("storage.s3.bucket '{}': only a-z, 0-9, '-' and '.' are allowed",
                               options.bucket));
    }
  }
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return error(Code::kInvalidArgument,
                 "storage.s3: no credentials (access-key-id and secret-access-key)");
  }
  std::unique_ptr<Tls> tls;
  if (https) {
    tls = std::make_unique<Tls>();
    SSL_CTX_set_min_proto_version(tls->ctx.native_handle(), TLS1_2_VERSION);
    tls->ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (options.ca_file.empty()) {
      tls->ctx.set_default_verify_paths(ec);
      if (ec) {
        return error(
            Code::kInvalidArgument,
            fmt::format("storage.s3: cannot load the system's CA certificates: {}", ec.message()));
      }
    } else {
      tls->ctx.load_verify_file(options.ca_file, ec);
      if (ec) {
        return error(Code::kInvalidArgument,
                     fmt::format("storage.s3.ca-file {}: cannot load CA certificates from it: {}",
                                 options.ca_file, ec.message()));
      }
    }
  }
  auto client = std::unique_ptr<S3Client>(new S3Client(std::move(options)));
  client->tls_ = std::move(tls);
  // The Host header names the endpoint as written (brackets and port kept);
  // the connection goes to the bare address or name.
  const std::string authority(url->encoded_authority());
  client->connect_host_ = std::string(url->encoded_host_address());
  client->connect_port_ = url->has_port() ? std::string(url->port()) : (https ? "443" : "80");
  client->host_ = client->options_.path_style
                      ? authority
                      : fmt::format("{}.{}", client->options_.bucket, authority);
  if (!client->options_.path_style)
    client->connect_host_ = client->options_.bucket + "." + client->connect_host_;
  return client;
}

S3Client::S3Client(S3ClientOptions options) : options_(std::move(options)) {}

S3Client::~S3Client() = default;

std::string S3Client::bucket_path() const {
  return options_.path_style ? "/" + options_.bucket : std::string();
}

std::string S3Client::copy_source(std::string_view key) const {
  return fmt::format("/{}/{}", options_.bucket, key);
}

std::unique_ptr<S3Client::Connection> S3Client::take_connection() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return nullptr;
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void S3Client::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (idle_.size() < options_.max_idle_connections) {
    c->reused = true;
    idle_.push_back(std::move(c));
  }
}

namespace {

// Runs `ioc` until the started step's handler ran: the step completes, or
// the stream's timer expires and fails it with beast::error::timeout.
void run_until(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

// `configured`, cut short so that the step ends by `until` (at least 1 ms).
std::chrono::milliseconds step_timeout(std::chrono::milliseconds configured,
                                       std::optional<std::chrono::steady_clock::time_point> until) {
  if (!until) return configured;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *until - std::chrono::steady_clock::now());
  return std::max(std::chrono::milliseconds(1), std::min(configured, left));
}

}  // namespace

Status S3Client::connect(Connection& conn, bool& retryable, std::optional<TimePoint> until) {
  beast::error_code ec;
  tcp::resolver resolver(conn.ioc);
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(connect_host_, connect_port_,
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                         });
  run_until(conn.ioc);
  if (ec) {
    retryable = true;
    return error(Code::kUnavailable,
                 fmt::format("S3 endpoint {}: resolve: {}", options_.endpoint, ec.message()));
  }
  conn.tcp().expires_after(step_timeout(options_.connect_timeout, until));
  conn.tcp().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run_until(conn.ioc);
  if (ec) {
    retryable = true;
    return error(Code::kUnavailable,
                 fmt::format("S3 endpoint {}: connect: {}", options_.endpoint, ec.message()));
  }
  conn.tcp().socket().set_option(tcp::no_delay(true), ec);
  if (!conn.secure) return Status::ok();

  // The certificate must name the host we connect to: its DNS name (also
  // sent as SNI), or its IP address when the endpoint is one (RFC 6066 sends
  // no SNI for an address).
  SSL* ssl = conn.secure->native_handle();
  beast::error_code not_ip;
  asio::ip::make_address(connect_host_, not_ip);
  const bool named =
      not_ip ? SSL_set_tlsext_host_name(ssl, connect_host_.c_str()) == 1 &&
                   SSL_set1_host(ssl, connect_host_.c_str()) == 1
             : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), connect_host_.c_str()) == 1;
  if (!named) {
    return error(Code::kInternal,
                 fmt::format("S3 endpoint {}: cannot set the TLS peer name", options_.endpoint));
  }
  conn.tcp().expires_after(step_timeout(options_.connect_timeout, until));
  conn.secure->async_handshake(asio::ssl::stream_base::client,
                               [&](beast::error_code e) { ec = e; });
  run_until(conn.ioc);
  if (!ec) return Status::ok();
  // A refusal by either side's TLS (the certificate, its name, the
  // protocol) is a configuration problem that retrying does not fix; a
  // connection lost or timed out during the handshake is retried.
  // kUnavailable like any outage (callers tell kFailedPrecondition apart as
  // "the blob changed"), but not retried.
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return error(Code::kUnavailable,
                 fmt::format("S3 endpoint {}: TLS certificate verification failed: {}",
                             options_.endpoint, X509_verify_cert_error_string(verify)));
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    return error(Code::kUnavailable, fmt::format("S3 endpoint {}: TLS handshake failed: {}",
                                                 options_.endpoint, ec.message()));
  }
  retryable = true;
  return error(Code::kUnavailable,
               fmt::format("S3 endpoint {}: TLS handshake: {}", options_.endpoint, ec.message()));
}

Result<S3Response> S3Client::attempt(const S3Request& request, bool& retryable,
                                     std::optional<TimePoint> until) {
  retryable = false;
  std::unique_ptr<Connection> conn = take_connection();
  beast::error_code ec;
  if (!conn) {
    conn = std::make_unique<Connection>(tls_ ? &tls_->ctx : nullptr);
    BERTH_RETURN_IF_ERROR(connect(*conn, retryable, until));
  }

  // Sign: the path is sent as it is signed (keys are plain, see is_plain_key).
  sigv4::SigV4Request sr;
  sr.method = request.method;
  // The bucket itself is "/bucket" (path style) or "/" (virtual host).
  sr.raw_path = request.key.empty() ? (options_.path_style ? bucket_path() : "/")
                                    : bucket_path() + "/" + request.key;
  sr.raw_query = request.query;
  sr.headers.push_back({"Host", host_});
  sr.headers.push_back({"x-amz-content-sha256", "UNSIGNED-PAYLOAD"});
  for (const auto& h : request.headers) sr.headers.push_back(h);
  sr.payload_sha256 = "UNSIGNED-PAYLOAD";
  auto signed_ok =
      sigv4::sign_request(sr, options_.credentials, options_.region, "s3", now_seconds());
  if (!signed_ok) return signed_ok.status();

  http::request<http::string_body> req;
  req.method_string(request.method);
  req.target(request.query.empty() ? sr.raw_path : sr.raw_path + "?" + request.query);
  req.version(11);
  for (const auto& h : sr.headers) req.set(h.name, h.value);
  req.body() = std::string(request.body);
  req.prepare_payload();
  if (request.body.empty() && (request.method == "PUT" || request.method == "POST")) {
    req.set(http::field::content_length, "0");
  }
  req.keep_alive(true);

  conn->tcp().expires_after(step_timeout(options_.io_timeout, until));
  auto write = [&](auto& stream) {
    http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
  };
  if (conn->secure) {
    write(*conn->secure);
  } else {
    write(*conn->plain);
  }
  run_until(conn->ioc);
  if (ec) {
    retryable = true;
    return error(Code::kUnavailable,
                 fmt::format("S3 {} {}: write: {}", request.method, request.key, ec.message()));
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_response_body);
  if (request.head) parser.skip(true);
  conn->tcp().expires_after(step_timeout(options_.io_timeout, until));
  auto read = [&](auto& stream) {
    http::async_read(stream, conn->buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  };
  if (conn->secure) {
    read(*conn->secure);
  } else {
    read(*conn->plain);
  }
  run_until(conn->ioc);
  if (ec) {
    retryable = true;
    return error(Code::kUnavailable,
                 fmt::format("S3 {} {}: read: {}", request.method, request.key, ec.message()));
  }
  auto res = parser.release();
  S3Response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(f.value());
  }
  out.body = std::move(res.body());
  if (res.keep_alive()) {
    conn->tcp().expires_never();
    give_back(std::move(conn));
  }
  if (is_retryable_status(out.status)) {
    retryable = true;
    std::string code = out.error_code();
    return error(Code::kUnavailable, fmt::format("S3 {} {}: HTTP {}{}", request.method, request.key,
                                                 out.status, code.empty() ? "" : " " + code));
  }
  return out;
}

Result<S3Response> S3Client::send(const S3Request& request,
                                  std::optional<std::chrono::milliseconds> deadline) {
  using clock = std::chrono::steady_clock;
  const auto limit =
      clock::now() + std::min(options_.retry_deadline, deadline.value_or(options_.retry_deadline));
  // Only an explicit deadline cuts the steps short: a large transfer's step
  // may take longer than the retry deadline.
  const std::optional<TimePoint> until = deadline ? std::optional<TimePoint>(limit) : std::nullopt;
  auto backoff = options_.initial_backoff;
  while (true) {
    bool retryable = false;
    auto res = attempt(request, retryable, until);
    if (res.is_ok() || !retryable) return res;
    if (clock::now() + backoff >= limit) return res;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

Result<std::string> S3Client::presign_get(std::string_view key, std::chrono::seconds ttl) const {
  sigv4::SigV4Request sr;
  sr.method = "GET";
  sr.raw_path = bucket_path() + "/" + std::string(key);
  sr.headers.push_back({"Host", host_});
  sr.payload_sha256 = "UNSIGNED-PAYLOAD";
  BERTH_ASSIGN_OR_RETURN(std::string query,
                         sigv4::presign_query(sr, options_.credentials, options_.region, "s3",
                                              now_seconds(), std::max<int64_t>(1, ttl.count())));
  return fmt::format("{}://{}{}?{}", tls_ ? "https" : "http", host_, sr.raw_path, query);
}

}  // namespace berth::s3
