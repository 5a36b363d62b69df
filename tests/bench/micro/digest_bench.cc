// SHA-256 throughput through berth::Hasher, the hasher every blob upload
// streams through. Compare with `openssl speed -evp sha256` (16 KiB column),
// which bench.sh prints as the machine's limit.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "core/digest.h"

namespace {

// Feeds `state.range(0)`-byte chunks into one long-lived hasher, as an upload
// does; peek() is outside the loop because a real upload calls it once.
void BM_HasherSha256Update(benchmark::State& state) {
  const std::string chunk(static_cast<size_t>(state.range(0)), '\x5a');
  berth::Hasher hasher(berth::DigestAlgorithm::kSha256);
  for (auto _ : state) {
    hasher.update(chunk);
  }
  benchmark::DoNotOptimize(hasher.peek());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HasherSha256Update)->Arg(16 << 10)->Arg(1 << 20);

// A whole small object (a manifest-sized document): hasher set-up and
// finalisation included.
void BM_DigestOfManifestSized(benchmark::State& state) {
  const std::string doc(static_cast<size_t>(state.range(0)), '{');
  for (auto _ : state) {
    benchmark::DoNotOptimize(berth::Digest::of(doc));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_DigestOfManifestSized)->Arg(1 << 10);

}  // namespace
