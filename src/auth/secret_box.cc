#include "auth/secret_box.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "core/base64.h"

namespace berth::auth {
namespace {

constexpr uint8_t kVersion = 0x01;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kHeaderSize = 1 + kNonceSize;

Status random_bytes(unsigned char* out, size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    return error(Code::kInternal, "RAND_bytes failed: no secure randomness available");
  }
  return Status::ok();
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// The version byte, then the caller's associated data, as GCM AAD.
bool add_associated_data(EVP_CIPHER_CTX* ctx, std::string_view associated_data, bool encrypt) {
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  int len = 0;
  if (update(ctx, nullptr, &len, &kVersion, 1) != 1) return false;
  return associated_data.empty() ||
         update(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(associated_data.data()),
                static_cast<int>(associated_data.size())) == 1;
}

// --- Key file --------------------------------------------------------------------------------

Status errno_status(std::string_view what, const std::filesystem::path& path, int err) {
  return error(Code::kInternal, fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error close(2) may return.
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Result<SecretBoxKey> read_key_file(const Fd& fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status("cannot stat key file", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return error(Code::kFailedPrecondition,
                 fmt::format("key file {} is not a regular file", path.string()));
  }
  if ((st.st_mode & 077) != 0) {
    return error(Code::kFailedPrecondition,
                 fmt::format("key file {} is accessible by group or others (mode {:04o}); "
                             "it must be mode 0600",
                             path.string(), st.st_mode & 07777));
  }
  SecretBoxKey key{};
  if (st.st_size != static_cast<off_t>(key.size())) {
    return error(Code::kFailedPrecondition,
                 fmt::format("key file {} must hold exactly {} bytes, not {}", path.string(),
                             key.size(), st.st_size));
  }
  size_t done = 0;
  while (done < key.size()) {
    ssize_t n = ::read(fd.get(), key.data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("cannot read key file", path, errno);
    if (n == 0) {
      return error(Code::kFailedPrecondition,
                   fmt::format("key file {} is shorter than {} bytes", path.string(), key.size()));
    }
    done += static_cast<size_t>(n);
  }
  return key;
}

Status write_all(int fd, const unsigned char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error(Code::kInternal, std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Status fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return errno_status("cannot fsync directory", dir, errno);
  }
  return Status::ok();
}

// Creates `path` holding a fresh key. nullopt (and no error) when another
// process created `path` first.
Result<std::optional<SecretBoxKey>> create_key_file(const std::filesystem::path& path) {
  SecretBoxKey key{};
  BERTH_RETURN_IF_ERROR(random_bytes(key.data(), key.size()));

  std::string temp = path.string() + ".tmp.XXXXXX";
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return errno_status("cannot create key file next to", path, errno);
  Status written = ::fchmod(fd.get(), 0600) == 0 ? write_all(fd.get(), key.data(), key.size())
                                                 : errno_status("cannot chmod", temp, errno);
  if (written.is_ok() && ::fsync(fd.get()) != 0)
    written = errno_status("cannot fsync", temp, errno);
  if (written.is_ok() && fd.close() != 0) written = errno_status("cannot close", temp, errno);
  if (!written.is_ok()) {
    ::unlink(temp.c_str());
    OPENSSL_cleanse(key.data(), key.size());
    return written;
  }
  int link_errno = ::link(temp.c_str(), path.c_str()) == 0 ? 0 : errno;
  ::unlink(temp.c_str());
  if (link_errno == EEXIST) {
    OPENSSL_cleanse(key.data(), key.size());
    return std::optional<SecretBoxKey>();
  }
  if (link_errno != 0) return errno_status("cannot create key file", path, link_errno);
  BERTH_RETURN_IF_ERROR(fsync_directory(path.parent_path()));
  return std::optional<SecretBoxKey>(key);
}

}  // namespace

Result<std::string> seal_secret(std::string_view plaintext, const SecretBoxKey& key,
                                std::string_view associated_data) {
  std::array<uint8_t, kNonceSize> nonce{};
  BERTH_RETURN_IF_ERROR(random_bytes(nonce.data(), nonce.size()));
  return detail::seal_secret_with_nonce(plaintext, key, nonce, associated_data);
}

Result<std::string> detail::seal_secret_with_nonce(std::string_view plaintext,
                                                   const SecretBoxKey& key,
                                                   const std::array<uint8_t, 12>& nonce_bytes,
                                                   std::string_view associated_data) {
  static_assert(kNonceSize == 12);
  if (plaintext.size() > kMaxSecretBoxPlaintext) {
    return error(Code::kInvalidArgument, "secret too large to seal");
  }
  std::string box(kHeaderSize + plaintext.size() + kTagSize, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(box.data());
  bytes[0] = kVersion;
  unsigned char* nonce = bytes + 1;
  unsigned char* ciphertext = bytes + kHeaderSize;
  std::copy(nonce_bytes.begin(), nonce_bytes.end(), nonce);

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce, nullptr) == 1 &&
            add_associated_data(ctx.get(), associated_data, /*encrypt=*/true) &&
            EVP_EncryptUpdate(ctx.get(), ciphertext, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            static_cast<size_t>(len) == plaintext.size() &&
            EVP_EncryptFinal_ex(ctx.get(), ciphertext + len, &len) == 1 && len == 0 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                                ciphertext + plaintext.size()) == 1;
  if (!ok) {
    OPENSSL_cleanse(box.data(), box.size());
    return error(Code::kInternal, "AES-256-GCM encryption failed");
  }
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes), box.size()));
}

Result<std::string> open_secret(std::string_view sealed, const SecretBoxKey& key,
                                std::string_view associated_data) {
  auto box = base64_decode(sealed);
  if (!box.is_ok()) return error(Code::kInvalidArgument, "sealed secret is not valid base64");
  if (box->size() < kHeaderSize + kTagSize) {
    return error(Code::kInvalidArgument, "sealed secret is too short");
  }
  auto* bytes = reinterpret_cast<unsigned char*>(box->data());
  if (bytes[0] != kVersion) {
    return error(Code::kInvalidArgument,
                 fmt::format("sealed secret has unknown version {}", bytes[0]));
  }
  const unsigned char* nonce = bytes + 1;
  const unsigned char* ciphertext = bytes + kHeaderSize;
  const size_t ciphertext_size = box->size() - kHeaderSize - kTagSize;
  unsigned char* tag = bytes + kHeaderSize + ciphertext_size;

  std::string plaintext(ciphertext_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce, nullptr) == 1 &&
      add_associated_data(ctx.get(), associated_data, /*encrypt=*/false) &&
      EVP_DecryptUpdate(ctx.get(), out, &len, ciphertext, static_cast<int>(ciphertext_size)) == 1 &&
      static_cast<size_t>(len) == ciphertext_size &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return error(Code::kInternal,
                 "sealed secret does not authenticate (wrong key or associated data, or "
                 "corrupted)");
  }
  return plaintext;
}

Result<SecretBoxKey> load_or_create_key_file(const std::filesystem::path& path) {
  // Two rounds: if another process wins the creation race, read its key.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // O_NONBLOCK: a FIFO planted at `path` must be refused, not block us.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() >= 0) return read_key_file(fd, path);
    if (errno != ENOENT) return errno_status("cannot open key file", path, errno);
    BERTH_ASSIGN_OR_RETURN(std::optional<SecretBoxKey> created, create_key_file(path));
    if (created) return *created;
  }
  return error(Code::kInternal,
               fmt::format("key file {} neither opens nor can be created (a dangling symlink?)",
                           path.string()));
}

Result<std::string> generate_access_key_id() {
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned char random[10];  // 80 bits = 16 base32 characters
  BERTH_RETURN_IF_ERROR(random_bytes(random, sizeof(random)));
  std::string id = "BKIA";
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : random) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += kBase32[(buffer >> bits) & 0x1f];
    }
  }
  return id;
}

Result<std::string> generate_secret_access_key() {
  unsigned char random[30];  // 240 bits = 40 base64 characters, no padding
  BERTH_RETURN_IF_ERROR(random_bytes(random, sizeof(random)));
  std::string secret =
      base64_encode(std::string_view(reinterpret_cast<const char*>(random), sizeof(random)));
  OPENSSL_cleanse(random, sizeof(random));
  return secret;
}

}  // namespace berth::auth
