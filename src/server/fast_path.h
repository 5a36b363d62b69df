// The plain-TCP fast paths of a session, in one place: on a connection
// without TLS, small responses are gathered into one buffer and written with
// non-blocking sends, request bodies are read with non-blocking reads, and
// blob bodies go out with sendfile(2), so that a message which fits the
// socket buffer costs no trip through the event loop and no timer. Only an
// empty (or full) socket waits, for at most the I/O timeout.
//
// Not thread-safe: one per connection, used by its session only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace berth::server {

class FastPath {
 public:
  using error_code = boost::system::error_code;
  using tcp = boost::asio::ip::tcp;
  template <class T>
  using awaitable = boost::asio::awaitable<T>;

  // `socket` must outlive this object.
  FastPath(tcp::socket& socket, std::chrono::seconds io_timeout)
      : socket_(socket), io_timeout_(io_timeout) {}

  // Serializes `sr`'s message (only its header with `header_only`, for HEAD)
  // into one buffer and sends it whole. Returns the error, if any, and the
  // bytes sent. Defined for empty_body and string_body.
  template <class Body>
  awaitable<std::pair<error_code, size_t>> write_flat(
      boost::beast::http::response_serializer<Body>& sr, bool header_only);

  // Reads up to `want` bytes into `dst`: what the socket holds now, or, when
  // it holds nothing, what arrives first within the I/O timeout. Returns the
  // error (the peer went away, the timeout) or the bytes read (at least one).
  awaitable<std::pair<error_code, size_t>> read_some(char* dst, size_t want);

  // Sends `length` bytes of the file `fd` from `offset` with sendfile(2).
  // Returns the error (a socket error, the timeout, or eof when the file is
  // shorter than promised) and the bytes sent.
  awaitable<std::pair<error_code, uint64_t>> send_file(int fd, uint64_t offset, uint64_t length);

  // Waits until the socket is readable or writable, for at most the I/O
  // timeout (the stream's own timer covers only its own operations).
  awaitable<error_code> wait_ready(tcp::socket::wait_type what);

 private:
  tcp::socket& socket_;
  std::chrono::seconds io_timeout_;
  std::string out_;  // write_flat's buffer, reused between responses
};

}  // namespace berth::server
