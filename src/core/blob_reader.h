// The reading side of a stored blob, as the HTTP edge sees it when it sends
// bytes: blob/ implements it, server/ consumes it, neither includes the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/status.h"

namespace berth {

// An open, immutable blob (or a snapshot of an upload's bytes).
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // An optional capability: a file descriptor for sendfile(2)/pread, owned by
  // the reader and valid while it lives, or nullopt when the store has no
  // local file (callers then use read_at).
  virtual std::optional<int> native_fd() const = 0;
  // Reads up to `len` bytes at `offset`; returns the count (0 at end).
  virtual Result<size_t> read_at(uint64_t offset, void* buf, size_t len) = 0;
};

}  // namespace berth
