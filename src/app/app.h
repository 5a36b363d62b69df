// Assembles berth from a Config: stores, the registry, both APIs, background
// jobs and the HTTP server.
#pragma once

#include <memory>

#include "app/config.h"
#include "core/status.h"

namespace berth::app {

class App {
 public:
  // Opens (creating if needed) the data directory and every component.
  static Result<std::unique_ptr<App>> create(const Config& config);
  ~App();

  // Binds the listener; fails with the reason (port busy, bad certificate).
  Status start();
  uint16_t port() const;
  // Serves until SIGINT/SIGTERM or stop().
  void run();
  void stop();

 private:
  App();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::app
