// SpaceReserve: a little disk space set aside on the filesystem that holds
// berth's data, so that deletes and garbage collection -- which themselves
// need a few pages of metadata writes -- still work after pushes filled the
// disk. Whoever meets a full disk on the way to freeing space releases the
// reserve and retries; once space is free again the reserve is restored.
//
// Thread-safe.
#pragma once

#include "core/status.h"

namespace berth {

class SpaceReserve {
 public:
  virtual ~SpaceReserve() = default;
  // Frees the reserved space. True when this call freed it; false when it was
  // not held (already released, or never set aside).
  virtual bool release() = 0;
  // Sets the space aside again, unless it is held already. kStorageFull when
  // the filesystem lacks room for twice the reserve (restoring must not be
  // what fills the disk again); kInternal for other I/O failures.
  virtual Status restore() = 0;
  virtual bool held() const = 0;
};

}  // namespace berth
