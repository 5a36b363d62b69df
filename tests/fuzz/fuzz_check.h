// What the fuzz targets share: a check that aborts (so libFuzzer keeps the
// input as a crash) with the property that broke.
#pragma once

#include <cstdio>
#include <cstdlib>

// Aborts when `cond` does not hold: the target found an input that breaks a
// property the parser promises. Use for properties, not for parse errors.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
