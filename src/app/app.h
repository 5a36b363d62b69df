// Assembles berth from a Config: stores, the registry, both APIs, background
// jobs and the HTTP server.
#pragma once

#include <functional>
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
  // The --metrics-listen port once started, or 0 without one.
  uint16_t metrics_port() const;
  // Serves until stop(), or until a drain ends: SIGTERM or SIGINT drains
  // (no new connections, /readyz 503, requests in progress finish within
  // drain-timeout), a second one stops at once. SIGHUP reloads (README,
  // "Monitoring": the TLS certificate and key, the log level and the
  // connection limits).
  void run();
  void stop();
  // How SIGHUP reads the configuration again (the file and the flags over
  // it); without one, SIGHUP reloads only the TLS files. Call before start().
  void set_config_reloader(std::function<Result<Config>()> reload);

 private:
  App();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::app
