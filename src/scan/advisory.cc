#include "scan/advisory.h"

namespace berth::scan {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kInformational:
      return "INFORMATIONAL";
    case Severity::kLow:
      return "LOW";
    case Severity::kMedium:
      return "MEDIUM";
    case Severity::kHigh:
      return "HIGH";
    case Severity::kCritical:
      return "CRITICAL";
    case Severity::kUndefined:
      break;
  }
  return "UNDEFINED";
}

}  // namespace berth::scan
