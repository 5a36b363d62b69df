// An in-memory server::Exchange for fuzz targets: the request header and body
// come from the input, the response is kept for inspection. Runs a handler
// coroutine to completion on a private io_context. Not thread-safe; one per
// input.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "server/exchange.h"

namespace berth::fuzz {

class FuzzExchange final : public server::Exchange {
 public:
  // `header` must outlive the exchange; its target must be origin-form.
  FuzzExchange(const server::RequestHeader& header, std::string body) : body_(std::move(body)) {
    request_ = &header;
    target_ = std::string(header.target());
    auto parsed = boost::urls::parse_origin_form(target_);
    if (parsed) url_ = *parsed;
    path_ = std::string(url_.path());
    request_id_ = "fuzz";
    remote_ = "127.0.0.1:1";
  }

  bool has_body() const override { return !body_.empty(); }

  server::net::awaitable<Result<std::string>> read_body(size_t limit) override {
    if (body_read_) co_return std::string();
    body_read_ = true;
    if (body_.size() > limit) co_return error(Code::kTooLarge, "request body too large");
    bytes_received_ += body_.size();
    co_return body_;
  }

  server::net::awaitable<Result<uint64_t>> stream_body(const server::BodySink& sink) override {
    if (body_read_) co_return uint64_t{0};
    body_read_ = true;
    // Two pieces, so sinks see a body split at an arbitrary point.
    const size_t half = body_.size() / 2;
    for (auto [at, n] : {std::pair<size_t, size_t>{0, half}, {half, body_.size() - half}}) {
      if (n == 0) continue;
      Status s = sink(body_.data() + at, n);
      if (!s.is_ok()) co_return s;
      bytes_received_ += n;
    }
    co_return uint64_t{body_.size()};
  }

  server::net::awaitable<void> send(server::Response res) override {
    if (sent_) co_return;
    sent_ = true;
    status_ = res.result_int();
    response_ = std::move(res);
    co_return;
  }

  server::net::awaitable<void> send_blob(server::ResponseHeader head, BlobReader& reader,
                                         uint64_t offset, uint64_t length) override {
    if (sent_) co_return;
    sent_ = true;
    status_ = head.result_int();
    std::string data(static_cast<size_t>(std::min<uint64_t>(length, 1 << 20)), '\0');
    if (auto n = reader.read_at(offset, data.data(), data.size())) bytes_sent_ = *n;
    co_return;
  }

  const server::Response& response() const { return response_; }

  // Runs `handler(*this)` until it completes.
  template <class Handler>
  void run(Handler&& handler) {
    server::net::io_context ioc;
    // Handlers promise never to throw: an exception is a finding.
    server::net::co_spawn(ioc, handler(*this), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    ioc.run();
  }

 private:
  std::string target_;
  std::string body_;
  bool body_read_ = false;
  server::Response response_;
};

}  // namespace berth::fuzz
