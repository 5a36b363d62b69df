// berth's version, as `berth --version` and berth_build_info show it.
#pragma once

namespace berth::app {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace berth::app
