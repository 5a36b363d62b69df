#include "server/session.h"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <fmt/format.h>
#include <openssl/rand.h>

#include <array>
#include <memory>
#include <tuple>
#include <type_traits>

#include "core/digest.h"
#include "log/log.h"
#include "server/fast_path.h"

namespace berth::server {

namespace {

// Request ids only tell log lines apart; they guard nothing, so a per-thread
// splitmix64 sequence seeded once from the CSPRNG is enough and keeps
// RAND_bytes (and its fork check) off the per-request path.
std::string make_request_id() {
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed);
    return seed;
  }();
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(z >> (8 * i));
  return to_hex(b, sizeof b);
}

// Responses with bodies up to this size go out through FastPath::write_flat.
constexpr size_t kFlatWriteMax = 64 * 1024;

// Streamed request bodies go to the sink in chunks of up to this size.
constexpr size_t kStreamChunk = 1024 * 1024;

// Lingering close: how long, and how many unread body bytes, a connection
// closed after a refusal keeps reading so that its answer is not lost.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 8 * 1024 * 1024;

// The first read of a kept-alive connection's next request.
constexpr size_t kFirstReadSize = 8 * 1024;

// A floor under the rate at which a streamed body arrives: every `window`
// must bring at least rate * window bytes, as nginx's and Envoy's body
// timeouts stop a client that trickles a byte at a time. Not thread-safe;
// one per body.
class RateFloor {
 public:
  RateFloor(uint64_t bytes_per_second, std::chrono::seconds window)
      : need_(bytes_per_second * static_cast<uint64_t>(window.count())),
        window_(window),
        start_(std::chrono::steady_clock::now()) {}
  // Counts `n` more bytes; false once a whole window has passed with fewer
  // than the rate asks for.
  bool add(uint64_t n) {
    bytes_ += n;
    if (need_ == 0) return true;
    auto now = std::chrono::steady_clock::now();
    if (now - start_ < window_) return true;
    if (bytes_ < need_) return false;
    start_ = now;
    bytes_ = 0;
    return true;
  }

 private:
  uint64_t need_;
  std::chrono::seconds window_;
  std::chrono::steady_clock::time_point start_;
  uint64_t bytes_ = 0;
};

Status too_slow() {
  return error(Code::kUnavailable, "the request body arrives slower than the minimum rate");
}

// True when the parser refused the bytes themselves (bad framing, a bad chunk,
// a bad Content-Length), as opposed to the peer going away or a limit: the
// client sent a malformed message and gets 400, never a retryable 5xx.
bool is_malformed_message(const beast::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) return false;
  switch (static_cast<http::error>(ec.value())) {
    case http::error::bad_line_ending:
    case http::error::bad_method:
    case http::error::bad_target:
    case http::error::bad_version:
    case http::error::bad_status:
    case http::error::bad_reason:
    case http::error::bad_field:
    case http::error::bad_value:
    case http::error::bad_content_length:
    case http::error::bad_transfer_encoding:
    case http::error::bad_chunk:
    case http::error::bad_chunk_extension:
    case http::error::bad_obs_fold:
    case http::error::multiple_content_length:
    case http::error::unexpected_body:
      return true;
    default:
      return false;
  }
}

// Why a parsed request header must be refused before any handler sees it
// (RFC 9112 §3.2, §6.1, §6.3), or nullptr. Beast already refuses negative,
// non-numeric and differing Content-Length values and Content-Length after
// chunked; these are the ambiguities it lets through, each of which would let
// a proxy and berth disagree about where the request ends.
const char* framing_error(const http::request_parser<http::empty_body>& parser) {
  const auto& req = parser.get();
  const size_t hosts = req.count(http::field::host);
  if (hosts > 1) return "more than one Host header\n";
  if (hosts == 0 && req.version() >= 11) return "HTTP/1.1 request without a Host header\n";
  if (req.count(http::field::transfer_encoding) > 0) {
    if (req.count(http::field::content_length) > 0) {
      return "Transfer-Encoding together with Content-Length\n";
    }
    if (!parser.chunked()) return "Transfer-Encoding must end in chunked\n";
  }
  return nullptr;
}

}  // namespace

bool HttpServer::Impl::reserve_body_bytes(size_t n) {
  size_t held = body_bytes.load();
  do {
    if (held > options.max_body_memory || n > options.max_body_memory - held) return false;
  } while (!body_bytes.compare_exchange_weak(held, held + n));
  return true;
}

// A session owns one connection. Stream is beast::tcp_stream or
// beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Session : public Exchange, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl& server, Stream stream, std::string remote)
      : server_(server),
        id_(server.next_session_id.fetch_add(1)),
        stream_(std::move(stream)),
        fast_(beast::get_lowest_layer(stream_).socket(), server_.options.io_timeout) {
    remote_ = std::move(remote);
  }
  ~Session() override { release_body_budget(); }

  awaitable<void> run();
  // On the session's strand: ends a wait for the next request (drain()).
  void interrupt_idle() {
    if (idle_) tcp().cancel();
  }

  bool has_body() const override { return has_body_; }
  awaitable<Result<std::string>> read_body(size_t limit) override;
  awaitable<Result<uint64_t>> stream_body(const BodySink& sink) override;
  awaitable<void> send(Response res) override;
  awaitable<void> send_blob(ResponseHeader head, BlobReader& reader, uint64_t offset,
                            uint64_t length) override;

 private:
  static constexpr bool kPlain = std::is_same_v<Stream, beast::tcp_stream>;

  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  void arm_timer(std::chrono::steady_clock::duration t) { tcp().expires_after(t); }
  // Before closing a connection whose request body was refused unread.
  awaitable<void> drain_unread_body();
  // Reads the next request head into header_parser_ under the head deadline.
  awaitable<boost::system::error_code> read_head(bool first);
  void release_body_budget() {
    if (body_reserved_ == 0) return;
    server_.body_bytes -= body_reserved_;
    body_reserved_ = 0;
  }
  awaitable<bool> continue_if_expected();
  awaitable<void> write_blob_body(BlobReader& reader, uint64_t offset, uint64_t length);
  void reset_for_request();

  HttpServer::Impl& server_;
  const uint64_t id_;
  bool idle_ = false;  // waiting for the next request on a kept-alive connection
  Stream stream_;
  FastPath fast_;  // plain TCP only (kPlain)
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::string target_storage_;
  // The request header survives the parser being converted to a body parser.
  RequestHeader header_copy_;
  void detach_header() {
    if (request_ != &header_copy_) {
      header_copy_ = header_parser_->get().base();
      request_ = &header_copy_;
    }
  }
  size_t body_reserved_ = 0;  // taken from the server's body budget by this request
  bool request_keep_alive_ = true;
  bool has_body_ = false;
  bool body_consumed_ = true;
  bool broken_ = false;
  bool keep_alive_ = true;
};

template <class Stream>
void Session<Stream>::reset_for_request() {
  sent_ = false;
  status_ = 0;
  bytes_sent_ = 0;
  body_bytes_sent_ = 0;
  bytes_received_ = 0;
  principal_ = auth::Principal{};
  auth_failure_ = Status::ok();
  log_fields_.clear();
  request_id_ = make_request_id();
}

template <class Stream>
awaitable<bool> Session<Stream>::continue_if_expected() {
  if (!beast::iequals(request_->operator[](http::field::expect), "100-continue")) co_return true;
  http::response<http::empty_body> cont{http::status::continue_, request_->version()};
  arm_timer(server_.options.io_timeout);
  auto [ec, n] = co_await http::async_write(stream_, cont, as_tuple_awaitable);
  if (ec) {
    broken_ = true;
    co_return false;
  }
  co_return true;
}

template <class Stream>
awaitable<Result<std::string>> Session<Stream>::read_body(size_t limit) {
  if (!has_body_ || body_consumed_) co_return std::string();
  if (auto len = header_parser_->content_length(); len && *len > limit) {
    keep_alive_ = false;  // the unread body makes the connection unusable
    co_return error(Code::kTooLarge, fmt::format("request body is larger than {} bytes", limit));
  }
  // The most this body may hold in memory: its announced length, or the limit.
  const auto announced = header_parser_->content_length();
  const size_t budget = announced ? static_cast<size_t>(*announced) : limit;
  if (budget > kUnbudgetedBody) {
    if (!server_.reserve_body_bytes(budget)) {
      keep_alive_ = false;  // the unread body makes the connection unusable
      co_return error(Code::kResourceExhausted,
                      "the server is busy reading other request bodies; retry later");
    }
    body_reserved_ += budget;
  }
  if (!co_await continue_if_expected()) co_return error(Code::kUnavailable, "client went away");
  detach_header();
  http::request_parser<http::string_body> parser(std::move(*header_parser_));
  parser.body_limit(limit);
  arm_timer(server_.options.io_timeout);
  auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, as_tuple_awaitable);
  body_consumed_ = true;
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    co_return error(Code::kTooLarge, fmt::format("request body is larger than {} bytes", limit));
  }
  if (is_malformed_message(ec)) {
    keep_alive_ = false;  // the framing is lost: answer, then close
    co_return error(Code::kInvalidArgument,
                    fmt::format("malformed request body: {}", ec.message()));
  }
  if (ec) {
    broken_ = true;
    co_return error(Code::kUnavailable, fmt::format("reading request body: {}", ec.message()));
  }
  std::string body = std::move(parser.get().body());
  bytes_received_ += body.size();
  co_return body;
}

template <class Stream>
awaitable<Result<uint64_t>> Session<Stream>::stream_body(const BodySink& sink) {
  if (!has_body_ || body_consumed_) co_return uint64_t{0};
  if (!co_await continue_if_expected()) co_return error(Code::kUnavailable, "client went away");
  RateFloor floor(server_.options.body_min_rate, server_.options.body_rate_window);
  std::unique_ptr<char[]> chunk(new char[kStreamChunk]);
  if (auto length = header_parser_->content_length(); length) {
    // A sized body bypasses the parser: what the header read already
    // buffered first, then large reads straight from the socket.
    body_consumed_ = true;
    uint64_t remaining = *length;
    uint64_t total = 0;
    while (remaining > 0 && buffer_.size() > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), remaining));
      Status st = sink(static_cast<const char*>(buffer_.data().data()), n);
      buffer_.consume(n);
      remaining -= n;
      total += n;
      bytes_received_ += n;
      if (!st.is_ok()) {
        keep_alive_ = false;
        co_return st;
      }
    }
    while (remaining > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, kStreamChunk));
      size_t n = 0;
      if constexpr (kPlain) {
        auto [ec, got] = co_await fast_.read_some(chunk.get(), want);
        n = got;
        if (ec) {
          broken_ = true;
          co_return error(Code::kUnavailable,
                          fmt::format("reading request body: {}", ec.message()));
        }
      } else {
        arm_timer(server_.options.io_timeout);
        auto [ec, got] =
            co_await stream_.async_read_some(net::buffer(chunk.get(), want), as_tuple_awaitable);
        if (ec) {
          broken_ = true;
          co_return error(Code::kUnavailable,
                          fmt::format("reading request body: {}", ec.message()));
        }
        n = got;
      }
      remaining -= n;
      total += n;
      bytes_received_ += n;
      Status st = sink(chunk.get(), n);
      if (!st.is_ok()) {
        keep_alive_ = false;
        co_return st;
      }
      if (!floor.add(n)) {
        broken_ = true;
        co_return too_slow();
      }
    }
    co_return total;
  }
  // Chunked transfer coding: the parser removes the framing.
  detach_header();
  http::request_parser<http::buffer_body> parser(std::move(*header_parser_));
  parser.body_limit(boost::none);
  body_consumed_ = true;
  buffer_.reserve(kStreamChunk);
  uint64_t total = 0;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.get();
    parser.get().body().size = kStreamChunk;
    arm_timer(server_.options.io_timeout);
    auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser, as_tuple_awaitable);
    if (ec == http::error::need_buffer) ec = {};
    if (is_malformed_message(ec)) {
      keep_alive_ = false;  // the framing is lost: answer, then close
      co_return error(Code::kInvalidArgument,
                      fmt::format("malformed request body: {}", ec.message()));
    }
    if (ec) {
      broken_ = true;
      co_return error(Code::kUnavailable, fmt::format("reading request body: {}", ec.message()));
    }
    size_t got = kStreamChunk - parser.get().body().size;
    if (!floor.add(got)) {
      broken_ = true;
      co_return too_slow();
    }
    if (got == 0) continue;
    total += got;
    bytes_received_ += got;
    Status st = sink(chunk.get(), got);
    if (!st.is_ok()) {
      keep_alive_ = false;  // the rest of the body stays unread
      co_return st;
    }
  }
  co_return total;
}

template <class Stream>
awaitable<void> Session<Stream>::send(Response res) {
  if (sent_) co_return;
  sent_ = true;
  status_ = res.result_int();
  res.version(request_->version());
  if (!body_consumed_ || server_.draining) keep_alive_ = false;
  res.keep_alive(keep_alive_ && request_keep_alive_);
  const bool header_only = request_->method() == http::verb::head;
  if (header_only) {
    // HEAD answers carry the GET Content-Length (or the one the handler set)
    // but no body: only the header is serialized.
    if (res[http::field::content_length].empty()) res.content_length(res.body().size());
  } else {
    res.prepare_payload();
  }
  http::response_serializer<http::string_body> sr(res);
  if constexpr (kPlain) {
    if (header_only || res.body().size() <= kFlatWriteMax) {
      auto [ec, n] = co_await fast_.write_flat(sr, header_only);
      if (ec) broken_ = true;
      bytes_sent_ += n;
      if (!ec && !header_only) body_bytes_sent_ += res.body().size();
      co_return;
    }
  }
  arm_timer(server_.options.io_timeout);
  std::tuple<beast::error_code, size_t> written;
  if (header_only) {
    written = co_await http::async_write_header(stream_, sr, as_tuple_awaitable);
  } else {
    written = co_await http::async_write(stream_, sr, as_tuple_awaitable);
  }
  if (std::get<0>(written)) broken_ = true;
  bytes_sent_ += std::get<1>(written);
  if (!std::get<0>(written) && !header_only) body_bytes_sent_ += res.body().size();
}

template <class Stream>
awaitable<void> Session<Stream>::write_blob_body(BlobReader& reader, uint64_t offset,
                                                 uint64_t length) {
  if constexpr (kPlain) {
    if (const std::optional<int> native = reader.native_fd()) {
      auto [ec, n] = co_await fast_.send_file(*native, offset, length);
      bytes_sent_ += n;
      body_bytes_sent_ += n;
      if (ec) broken_ = true;
      co_return;
    }
  }
  std::unique_ptr<char[]> chunk(new char[kStreamChunk]);
  uint64_t remaining = length;
  uint64_t off = offset;
  while (remaining > 0) {
    auto n = reader.read_at(off, chunk.get(),
                            static_cast<size_t>(std::min<uint64_t>(remaining, kStreamChunk)));
    if (!n || *n == 0) {
      broken_ = true;
      co_return;
    }
    arm_timer(server_.options.io_timeout);
    auto [ec, w] =
        co_await net::async_write(stream_, net::buffer(chunk.get(), *n), as_tuple_awaitable);
    if (ec) {
      broken_ = true;
      co_return;
    }
    bytes_sent_ += w;
    body_bytes_sent_ += w;
    remaining -= *n;
    off += *n;
  }
}

template <class Stream>
awaitable<void> Session<Stream>::send_blob(ResponseHeader head, BlobReader& reader, uint64_t offset,
                                           uint64_t length) {
  if (sent_) co_return;
  sent_ = true;
  status_ = head.result_int();
  if (!body_consumed_ || server_.draining) keep_alive_ = false;
  http::response<http::empty_body> res{head.result(), request_->version()};
  res.base() = std::move(head);
  res.version(request_->version());
  res.keep_alive(keep_alive_ && request_keep_alive_);
  res.content_length(length);
  http::response_serializer<http::empty_body> sr(res);
  arm_timer(server_.options.io_timeout);
  auto [ec, n] = co_await http::async_write_header(stream_, sr, as_tuple_awaitable);
  bytes_sent_ += n;
  if (ec) {
    broken_ = true;
    co_return;
  }
  if (request_->method() == http::verb::head || length == 0) co_return;
  co_await write_blob_body(reader, offset, length);
}

template <class Stream>
awaitable<void> Session<Stream>::drain_unread_body() {
  // Closing with unread bytes makes the kernel reset the connection, and a
  // reset may destroy the answer before the client reads it. So, as nginx's
  // lingering close does, read and drop what the client still sends, briefly.
  arm_timer(kLingerTime);
  std::array<char, 16 * 1024> scratch;
  size_t drained = 0;
  while (drained < kLingerBytes) {
    auto [ec, n] = co_await stream_.async_read_some(net::buffer(scratch), as_tuple_awaitable);
    if (ec) break;
    drained += n;
  }
}

template <class Stream>
awaitable<boost::system::error_code> Session<Stream>::read_head(bool first) {
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
  header_parser_->body_limit(boost::none);
  if (!first && buffer_.size() == 0) {
    // A kept-alive connection may wait idle for its next request; once that
    // request's first bytes are in, its head has the head deadline to arrive.
    // drain() may end the wait (registered first, then checked, so that a
    // drain starting in between cannot miss this session).
    auto weak = this->weak_from_this();
    auto executor = stream_.get_executor();
    if (!server_.idle_begin(id_, [weak, executor] {
          net::post(executor, [weak] {
            if (auto self = weak.lock()) self->interrupt_idle();
          });
        })) {
      co_return net::error::operation_aborted;
    }
    idle_ = true;
    arm_timer(server_.options.idle_timeout);
    auto [ec, n] =
        co_await stream_.async_read_some(buffer_.prepare(kFirstReadSize), as_tuple_awaitable);
    idle_ = false;
    server_.idle_end(id_);
    if (ec) co_return ec;
    buffer_.commit(n);
  }
  // A first request's deadline runs from the accept: the TLS handshake and
  // the head together get header_timeout, so a connection that never sends
  // a whole head holds its slot for no longer than that.
  if (!first || kPlain) arm_timer(server_.options.header_timeout);
  auto [ec, n] =
      co_await http::async_read_header(stream_, buffer_, *header_parser_, as_tuple_awaitable);
  co_return ec;
}

template <class Stream>
awaitable<void> Session<Stream>::run() {
  arm_timer(server_.options.header_timeout);
  if constexpr (!kPlain) {
    auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, as_tuple_awaitable);
    if (ec) co_return;
  }
  bool first = true;
  while (!server_.stopping) {
    auto ec = co_await read_head(first);
    first = false;
    if (ec) {
      const bool too_large = ec == http::error::header_limit;
      if (too_large || is_malformed_message(ec)) {
        Response res{
            too_large ? http::status::request_header_fields_too_large : http::status::bad_request,
            11};
        res.set(http::field::connection, "close");
        res.set(http::field::content_type, "text/plain");
        res.body() = too_large ? "request header too large\n" : "malformed request\n";
        res.prepare_payload();
        arm_timer(server_.options.io_timeout);
        co_await http::async_write(stream_, res, as_tuple_awaitable);
      }
      break;
    }
    auto start = std::chrono::steady_clock::now();
    reset_for_request();
    const auto& req = header_parser_->get();
    request_ = &req.base();
    has_body_ = !header_parser_->is_done();
    body_consumed_ = !has_body_;
    keep_alive_ = req.keep_alive();
    request_keep_alive_ = keep_alive_;
    target_storage_ = std::string(req.target());
    auto parsed = boost::urls::parse_origin_form(target_storage_);
    const char* refused = parsed ? framing_error(*header_parser_) : "malformed request target\n";
    if (refused != nullptr) {
      url_ = parsed ? *parsed : boost::urls::url_view();
      Response res{http::status::bad_request, req.version()};
      res.set(http::field::content_type, "text/plain");
      res.body() = refused;
      keep_alive_ = false;
      co_await send(std::move(res));
    } else {
      url_ = *parsed;
      path_ = std::string(url_.path());
      co_await server_.handler(*this);
      // A handler that did not answer: nobody to answer when the connection
      // broke (the client went away), otherwise a bug.
      if (!sent_ && !broken_) {
        log::error("request failed", {{"request_id", request_id_},
                                      {"path", path_},
                                      {"cause", "the handler sent no response"}});
        Response res{http::status::internal_server_error, request_->version()};
        co_await send(std::move(res));
      }
    }
    release_body_budget();
    if (server_.logger) {
      RequestLogEntry e;
      e.request_id = request_id_;
      e.remote = remote_;
      e.method = std::string(request_->method_string());
      e.path = std::string(url_.path());
      e.status = status_;
      e.bytes_in = bytes_received_;
      e.bytes_out = bytes_sent_;
      e.body_bytes_out = body_bytes_sent_;
      e.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      e.principal = principal_.access_key_id;
      // Only the bytes GETs send are attributed by host (the usage report).
      if (request_->method() == http::verb::get)
        e.host = std::string((*request_)[http::field::host]);
      if (principal_.authenticated) {
        e.account = principal_.account_id;
        e.user = principal_.user_name;
      }
      e.fields = std::move(log_fields_);
      server_.logger(e);
    }
    if (broken_ || !keep_alive_ || !request_keep_alive_ || server_.draining) break;
  }
  if constexpr (kPlain) {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!ec && !broken_ && !body_consumed_) co_await drain_unread_body();
  } else {
    arm_timer(std::chrono::seconds(5));
    co_await stream_.async_shutdown(as_tuple_awaitable);
  }
}

namespace {

// `keep` (the TLS context, or null) lives as long as the session.
template <class Stream>
void spawn(HttpServer::Impl& server, Stream stream, std::string address, std::string remote,
           std::shared_ptr<void> keep = nullptr) {
  auto executor = stream.get_executor();
  auto session = std::make_shared<Session<Stream>>(server, std::move(stream), std::move(remote));
  net::co_spawn(
      executor, [session]() { return session->run(); },
      [session, keep = std::move(keep), &server, address = std::move(address)](std::exception_ptr) {
        server.release_connection(address);
      });
}

}  // namespace

void start_plain_session(HttpServer::Impl& server, tcp::socket socket, std::string address,
                         std::string remote) {
  spawn(server, beast::tcp_stream(std::move(socket)), std::move(address), std::move(remote));
}

void start_tls_session(HttpServer::Impl& server, std::shared_ptr<ssl::context> tls,
                       tcp::socket socket, std::string address, std::string remote) {
  auto stream = beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls);
  spawn(server, std::move(stream), std::move(address), std::move(remote), std::move(tls));
}

}  // namespace berth::server
