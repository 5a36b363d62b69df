// The YAML configuration file (src/app/config.*): read once at start-up, but
// written by people and templating tools, so a malformed file must be an
// error, never a crash, a hang or an exception escaping load_config_file.
//
// load_config_file takes a path, so each input is written to one scratch file
// first, in /dev/shm where there is one (memory: no disk I/O per input), else
// in TMPDIR. Properties: load_config_file returns (no exception escapes); values it
// accepts as durations are non-negative; parse_duration and parse_listen agree
// with themselves on the text they were given.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/config.h"
#include "fuzz_check.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string base = dir != nullptr && *dir != '\0' ? dir : "/tmp";
    if (::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    std::string p = base + "/berth-config-fuzz-XXXXXX";
    int fd = ::mkstemp(p.data());
    FUZZ_CHECK(fd >= 0);
    ::close(fd);
    std::atexit([] { ::unlink(scratch_path().c_str()); });
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string& path = scratch_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(input.data(), 1, input.size(), f) == input.size());
  std::fclose(f);

  berth::app::Config config;
  if (berth::app::load_config_file(path, config).is_ok()) {
    for (int64_t d :
         {config.token_ttl_seconds, config.upload_ttl_seconds, config.lifecycle_interval_seconds,
          config.gc_interval_seconds, config.gc_grace_seconds, config.idle_timeout_seconds,
          config.io_timeout_seconds}) {
      FUZZ_CHECK(d >= 0);
    }
    (void)berth::app::validate_config(config);
  }

  // The scalar parsers on the raw text as well.
  const std::string text(input);
  if (auto d = berth::app::parse_duration(text)) FUZZ_CHECK(*d >= 0);
  std::string host;
  uint16_t port = 0;
  (void)berth::app::parse_listen(text, host, port);
  return 0;
}
