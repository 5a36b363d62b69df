#include "server/offload.h"

#include <algorithm>
#include <thread>

namespace berth::server {

namespace {

unsigned pool_size(unsigned requested) {
  if (requested != 0) return requested;
  return std::max(4u, 2 * std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

Offloader::Offloader(OffloadOptions options, OffloadObservers observers)
    : threads_(pool_size(options.threads)),
      start_deadline_(options.start_deadline),
      on_call_(std::move(observers.on_call)),
      on_rejected_(std::move(observers.on_rejected)),
      pool_(threads_) {}

Offloader::~Offloader() {
  pool_.stop();
  pool_.join();
}

}  // namespace berth::server
