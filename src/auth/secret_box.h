// Encryption at rest for access-key secrets, the key file that protects them,
// and generation of new access keys.
//
// A sealed box is base64 (standard, padded) of
//   version (1 byte, 0x01) || nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes)
// The version byte and the caller's associated data are authenticated but not
// stored: pass the row's identity (e.g. the access key id) as associated data
// so a sealed secret copied onto another row does not open there.
//
// All functions are thread-safe. Only load_or_create_key_file does I/O.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth::auth {

using SecretBoxKey = std::array<uint8_t, 32>;

// Largest plaintext seal_secret accepts; the box is meant for small secrets.
inline constexpr size_t kMaxSecretBoxPlaintext = 1 << 20;

// Encrypts `plaintext` under `key` with a fresh random nonce, so sealing the
// same secret twice gives different boxes. kInvalidArgument when the plaintext
// exceeds kMaxSecretBoxPlaintext; kInternal when OpenSSL fails (no randomness).
Result<std::string> seal_secret(std::string_view plaintext, const SecretBoxKey& key,
                                std::string_view associated_data = {});

// Decrypts a box made by seal_secret with the same key and associated data.
// kInvalidArgument when `sealed` is not a well-formed box (bad base64, too
// short, unknown version); kInternal when it does not authenticate (wrong
// key, wrong associated data, or the box was altered) — either way nothing of
// the plaintext is returned.
Result<std::string> open_secret(std::string_view sealed, const SecretBoxKey& key,
                                std::string_view associated_data = {});

namespace detail {
// seal_secret with a caller-chosen nonce, so that known-answer tests can pin
// the exact box. Never use it to seal real secrets: GCM's secrecy and
// integrity fall apart when one key sees the same nonce twice, which only
// seal_secret's fresh random nonces rule out. Same failures as seal_secret.
Result<std::string> seal_secret_with_nonce(std::string_view plaintext, const SecretBoxKey& key,
                                           const std::array<uint8_t, 12>& nonce,
                                           std::string_view associated_data);
}  // namespace detail

// Returns the 32-byte key stored raw in `path`, creating it first if the file
// does not exist: random bytes written to a mode-0600 temporary file in the
// same directory, fsynced, then linked into place (link, unlike rename, never
// replaces a key another process created meanwhile; the loser of such a race
// reads the winner's key) and the directory fsynced. Symlinks are followed.
// kFailedPrecondition when the existing file is not a regular file, is
// readable or writable by group or others, or is not exactly 32 bytes;
// kInternal for I/O errors (e.g. the directory does not exist).
Result<SecretBoxKey> load_or_create_key_file(const std::filesystem::path& path);

// A new access key id: "BKIA" + 16 characters of RFC 4648 base32
// (A-Z, 2-7) from 80 random bits. kInternal when RAND_bytes fails.
Result<std::string> generate_access_key_id();

// A new secret access key: 40 characters of standard base64 (A-Z a-z 0-9 + /)
// from 240 random bits, like AWS's. kInternal when RAND_bytes fails.
Result<std::string> generate_secret_access_key();

}  // namespace berth::auth
