// The running hash of an upload, in a form that can be saved with the upload
// and resumed by another process or node (as Distribution's resumable blob
// writer does), so that a chunked upload is hashed once, as it arrives, even
// when its requests land on different nodes.
//
// OpenSSL 3's EVP contexts cannot be serialised; the state here is the
// low-level SHA256_CTX / SHA512_CTX, whose layout is part of OpenSSL's public
// ABI. The hashing itself is still OpenSSL's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/status.h"

namespace berth {

// Not thread-safe; movable and copyable (a copy is an independent hash).
class UploadHasher {
 public:
  explicit UploadHasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  ~UploadHasher();
  UploadHasher(UploadHasher&&) noexcept;
  UploadHasher& operator=(UploadHasher&&) noexcept;
  UploadHasher(const UploadHasher&);
  UploadHasher& operator=(const UploadHasher&);

  void update(const void* data, size_t size);
  // The digest of everything fed so far; the hasher is unchanged.
  Digest peek() const;
  DigestAlgorithm algorithm() const { return algorithm_; }
  uint64_t bytes() const { return bytes_; }

  // The state as opaque bytes, for BlobStore::save_hash_state. Only
  // restore() of the same OpenSSL ABI reads them back.
  std::string serialize() const;
  // The hasher `saved` describes. kInvalidArgument when the bytes are not a
  // state of this format and ABI (truncated, another algorithm's context
  // size, a foreign file): the caller then re-reads the upload instead.
  static Result<UploadHasher> restore(std::string_view saved);

 private:
  struct Ctx;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

}  // namespace berth
