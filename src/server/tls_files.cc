#include "server/tls_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace berth::server {
namespace {

Status file_error(std::string_view what, const std::string& path, std::string_view problem) {
  return error(Code::kInvalidArgument, fmt::format("{} file {}: {}", what, path, problem));
}

// OpenSSL reports a missing or unusable file as "system lib" or "no start
// line"; say what is wrong in words before it tries.
Status check_regular_readable(std::string_view what, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return file_error(what, path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return file_error(what, path, "is a directory, not a PEM file");
  if (!S_ISREG(st.st_mode)) return file_error(what, path, "is not a regular file");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return file_error(what, path, fmt::format("cannot be read: {}", std::strerror(errno)));
  ::close(fd);
  return Status::ok();
}

std::string openssl_reason(const boost::system::error_code& ec) {
  std::string reason = ec.message();
  ERR_clear_error();
  return reason;
}

}  // namespace

Status load_tls_files(boost::asio::ssl::context& ctx, const std::string& cert_file,
                      const std::string& key_file) {
  BERTH_RETURN_IF_ERROR(check_regular_readable("TLS certificate", cert_file));
  BERTH_RETURN_IF_ERROR(check_regular_readable("TLS key", key_file));
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return file_error(
        "TLS certificate", cert_file,
        fmt::format("no usable PEM certificate chain in it ({})", openssl_reason(ec)));
  }
  ctx.use_private_key_file(key_file, boost::asio::ssl::context::pem, ec);
  if (ec) {
    // OpenSSL refuses a key of the certificate's type that is not its key here.
    const auto code = static_cast<unsigned long>(ec.value());
    const bool mismatch =
        ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
    return file_error(
        "TLS key", key_file,
        mismatch ? fmt::format("does not match the certificate in {}", cert_file)
                 : fmt::format("no usable PEM private key in it ({})", openssl_reason(ec)));
  }
  // A key of another type (say EC for an RSA certificate) loads without
  // complaint into a slot of its own; only this check notices.
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return file_error("TLS key", key_file,
                      fmt::format("does not match the certificate in {}", cert_file));
  }
  return Status::ok();
}

}  // namespace berth::server
