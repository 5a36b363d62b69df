// The one seam between the event loop and blocking work. Handlers in oci/ and
// ecr/ reach the registry (and through it the stores, the disk and, later, a
// database across the network) only as `co_await offload.run(fn)`: `fn` runs
// on a bounded pool of worker threads while the connection's event-loop
// thread serves other connections, and the coroutine resumes on its own
// executor (its strand) with fn's result.
//
// Saturation: a call that has not *started* within the start deadline
// (every worker busy for that long) is abandoned and never runs; the caller
// gets kUnavailable ("server busy"), which both APIs answer with 503, so a
// client retries instead of queueing behind a stuck store without bound. A
// call that has started is never interrupted (a store call is not
// cancellable halfway); its own duration is bounded by the store's timeouts.
//
// Thread-safe. The pool's threads stop when the Offloader is destroyed, after
// the calls already started have finished; calls still queued then are
// dropped (their coroutines never resume, as at server shutdown).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/status.h"

namespace berth::server {

struct OffloadOptions {
  // Worker threads; 0: max(4, 2 x cores).
  unsigned threads = 0;
  // How long a call may wait for a free worker before it is refused.
  std::chrono::milliseconds start_deadline{10000};
};

// Observers for metrics, both optional and both called on a worker or the
// timer's thread, so they must be thread-safe and cheap.
struct OffloadObservers {
  // A call ran for `ran`; `failed` when it returned kInternal, kStorageFull or
  // kUnavailable (the store's failures, not the caller's "not found").
  std::function<void(std::chrono::steady_clock::duration ran, bool failed)> on_call;
  // A call was refused for want of a free worker.
  std::function<void()> on_rejected;
};

class Offloader {
 public:
  explicit Offloader(OffloadOptions options, OffloadObservers observers = {});
  ~Offloader();
  Offloader(const Offloader&) = delete;
  Offloader& operator=(const Offloader&) = delete;

  unsigned threads() const { return threads_; }

  // Runs `fn` (no arguments, returning a Status or a Result<T>) on a worker and
  // resumes the calling coroutine on its executor with the result; or, when no
  // worker took the call within the start deadline, with kUnavailable and
  // without ever running `fn`. `fn` may capture the caller's locals by
  // reference: it either runs while the caller waits or never runs.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F&>> run(F fn);

 private:
  // A queued call's fate: decided once, by whichever comes first.
  enum State : int { kQueued, kStarted, kAbandoned };

  // A store-side failure, as OffloadObservers::on_call counts it.
  static bool is_store_failure(Code c) {
    return c == Code::kInternal || c == Code::kStorageFull || c == Code::kUnavailable;
  }
  template <typename R>
  static Code code_of(const R& r) {
    if constexpr (std::is_same_v<R, Status>) {
      return r.code();
    } else {
      return r.status().code();
    }
  }

  unsigned threads_;
  std::chrono::milliseconds start_deadline_;
  std::function<void(std::chrono::steady_clock::duration, bool)> on_call_;
  std::function<void()> on_rejected_;
  boost::asio::thread_pool pool_;
};

template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> Offloader::run(F fn) {
  namespace net = boost::asio;
  using R = std::invoke_result_t<F&>;
  net::any_io_executor executor = co_await net::this_coro::executor;
  struct Call {
    std::atomic<int> state{kQueued};
    std::optional<R> result;
    net::steady_timer timer;
    explicit Call(const net::any_io_executor& ex) : timer(ex) {}
  };
  auto call = std::make_shared<Call>(executor);
  call->timer.expires_after(start_deadline_);
  const auto deadline = start_deadline_;
  // A named object, not a temporary of the co_await expression: GCC 12
  // destroys such temporaries twice, which would drop `call` early.
  auto initiation = [this, call, deadline, &fn](auto handler) {
    using Handler = decltype(handler);
    // Both completions hold the handler; the state decides which one uses it.
    auto shared = std::make_shared<std::optional<Handler>>(std::move(handler));
    call->timer.async_wait([this, call, shared, deadline](const boost::system::error_code&) {
      int expected = kQueued;
      if (!call->state.compare_exchange_strong(expected, kAbandoned)) return;
      if (on_rejected_) on_rejected_();
      Handler h = std::move(**shared);
      shared->reset();
      std::move(h)(R(error(Code::kUnavailable,
                           "the server is busy: no worker was free to start the request within " +
                               std::to_string(deadline.count()) + " ms")));
    });
    // The Call owns a timer of the caller's executor, so its last reference is always
    // dropped there, never on a worker: a worker's copy moves back with the result.
    net::post(pool_, [this, call, shared, &fn]() mutable {
      int expected = kQueued;
      if (!call->state.compare_exchange_strong(expected, kStarted)) {  // abandoned: never runs
        auto home = call->timer.get_executor();
        net::post(home, [call = std::move(call)] {});
        return;
      }
      if (on_call_) {
        const auto started = std::chrono::steady_clock::now();
        call->result.emplace(fn());
        on_call_(std::chrono::steady_clock::now() - started,
                 is_store_failure(code_of(*call->result)));
      } else {
        call->result.emplace(fn());
      }
      auto ex = net::get_associated_executor(**shared);
      net::dispatch(ex, [call = std::move(call), shared = std::move(shared)] {
        call->timer.cancel();
        Handler h = std::move(**shared);
        shared->reset();
        std::move(h)(std::move(*call->result));
      });
    });
  };
  call.reset();
  co_return co_await net::async_initiate<const net::use_awaitable_t<>&, void(R)>(
      std::move(initiation), net::use_awaitable);
}

}  // namespace berth::server
