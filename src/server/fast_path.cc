#include "server/fast_path.h"

#include <sys/sendfile.h>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>

#include <algorithm>
#include <cerrno>

namespace berth::server {
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

template <class Body>
FastPath::awaitable<std::pair<FastPath::error_code, size_t>> FastPath::write_flat(
    http::response_serializer<Body>& sr, bool header_only) {
  error_code ec;
  out_.clear();
  if (header_only) sr.split(true);
  while (!ec && !(header_only ? sr.is_header_done() : sr.is_done())) {
    sr.next(ec, [&](error_code&, const auto& buffers) {
      size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        out_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
  }
  if (ec) co_return std::pair{ec, size_t{0}};
  if (!socket_.non_blocking()) socket_.non_blocking(true, ec);  // asio asks the kernel every time
  size_t sent = 0;
  while (!ec && sent < out_.size()) {
    sent += socket_.write_some(net::buffer(out_.data() + sent, out_.size() - sent), ec);
    if (ec == net::error::would_block || ec == net::error::try_again)
      ec = co_await wait_ready(tcp::socket::wait_write);
  }
  // An idle keep-alive connection keeps at most a small buffer.
  if (out_.capacity() > 16 * 1024) std::string().swap(out_);
  co_return std::pair{ec, sent};
}

template FastPath::awaitable<std::pair<FastPath::error_code, size_t>>
FastPath::write_flat<http::empty_body>(http::response_serializer<http::empty_body>&, bool);
template FastPath::awaitable<std::pair<FastPath::error_code, size_t>>
FastPath::write_flat<http::string_body>(http::response_serializer<http::string_body>&, bool);

FastPath::awaitable<std::pair<FastPath::error_code, size_t>> FastPath::read_some(char* dst,
                                                                                 size_t want) {
  // While the client keeps the socket full, plain reads fill the buffer
  // without a trip through the event loop or a timer per read; only an
  // empty socket waits, under the I/O timeout.
  size_t n = 0;
  error_code ec;
  if (!socket_.non_blocking()) socket_.non_blocking(true, ec);  // asio asks the kernel every time
  while (!ec && n < want) {
    size_t got = socket_.read_some(net::buffer(dst + n, want - n), ec);
    n += got;
    if (ec == net::error::would_block || ec == net::error::try_again) {
      ec = {};
      if (n > 0) break;
      ec = co_await wait_ready(tcp::socket::wait_read);
    }
  }
  co_return std::pair{ec, n};
}

FastPath::awaitable<std::pair<FastPath::error_code, uint64_t>> FastPath::send_file(
    int fd, uint64_t offset, uint64_t length) {
  socket_.native_non_blocking(true);
  off_t off = static_cast<off_t>(offset);
  uint64_t remaining = length;
  uint64_t sent = 0;
  while (remaining > 0) {
    ssize_t n = ::sendfile(socket_.native_handle(), fd, &off,
                           static_cast<size_t>(std::min<uint64_t>(remaining, 1 << 30)));
    if (n > 0) {
      remaining -= static_cast<uint64_t>(n);
      sent += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto ec = co_await wait_ready(tcp::socket::wait_write)) co_return std::pair{ec, sent};
      continue;
    }
    // n == 0: the file is shorter than promised; or a socket error.
    error_code ec =
        n == 0 ? error_code(net::error::eof) : error_code(errno, boost::system::system_category());
    co_return std::pair{ec, sent};
  }
  co_return std::pair{error_code{}, sent};
}

FastPath::awaitable<FastPath::error_code> FastPath::wait_ready(tcp::socket::wait_type what) {
  net::steady_timer timer(socket_.get_executor());
  timer.expires_after(io_timeout_);
  tcp::socket& sock = socket_;
  timer.async_wait([&sock](error_code ec) {
    if (!ec) sock.cancel();
  });
  auto [ec] = co_await sock.async_wait(what, net::as_tuple(net::use_awaitable));
  timer.cancel();
  co_return ec;
}

}  // namespace berth::server
