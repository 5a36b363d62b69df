// The inventory of an image, read from its layers as they are stored:
// each layer a tar archive (plain, gzip or zstd), streamed through libarchive
// without unpacking to disk, in order from the base layer up, honouring
// whiteouts (".wh.<name>") and opaque directories (".wh..wh..opq") so that a
// file deleted by an upper layer is gone. Only the files a scan needs are
// kept in memory (dpkg status and status.d/, apk installed, os-release).
#pragma once

#include "core/blob_reader.h"
#include "core/status.h"
#include "scan/package.h"

namespace berth::scan {

// Not thread-safe: one reader per scan, used by one thread at a time.
class InventoryReader {
 public:
  InventoryReader();
  ~InventoryReader();
  InventoryReader(const InventoryReader&) = delete;
  InventoryReader& operator=(const InventoryReader&) = delete;

  // Reads the next layer (base first). kUnsupported when the blob is not a
  // tar archive (the scan then ends UNSUPPORTED_IMAGE with that reason);
  // kInternal when the store fails to read it; kUnsupported too when a kept
  // file is over 64 MiB. A layer that fails leaves the reader as it was.
  Status add_layer(BlobReader& layer);

  // The packages and OS the layers add up to. An image without a package
  // database has no packages; without os-release, no os. kUnsupported when a
  // package database is not one (the reason names its path).
  Result<Inventory> finish();

 private:
  struct State;
  State* state_;
};

}  // namespace berth::scan
