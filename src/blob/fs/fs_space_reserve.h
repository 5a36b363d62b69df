// A SpaceReserve as one preallocated file, <dir>/space.reserve, mode 0600.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>

#include "blob/space_reserve.h"

namespace berth {

class FsSpaceReserve final : public SpaceReserve {
 public:
  // `bytes` of 0 disables the reserve (release() and restore() do nothing).
  // Nothing is written until restore().
  FsSpaceReserve(std::filesystem::path dir, uint64_t bytes);

  bool release() override;
  Status restore() override;
  bool held() const override;

  std::filesystem::path path() const { return path_; }

 private:
  bool held_locked() const;

  const std::filesystem::path path_;
  const uint64_t bytes_;
  mutable std::mutex mu_;  // serialises release and restore
};

}  // namespace berth
