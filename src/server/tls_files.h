// Loading the TLS certificate chain and private key berth serves with.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <string>

#include "core/status.h"

namespace berth::server {

// Loads the PEM certificate chain in `cert_file` (the server's certificate
// first, then the intermediates it is to present) and the PEM private key in
// `key_file` into `ctx`, and checks that the key is the certificate's.
// Fails with kInvalidArgument and a message that names the file and says what
// is wrong with it: missing, not a regular file (a directory), unreadable, no
// PEM certificate or key in it, or a key that belongs to another certificate.
// Never logs key material. Not thread-safe with respect to `ctx`.
Status load_tls_files(boost::asio::ssl::context& ctx, const std::string& cert_file,
                      const std::string& key_file);

}  // namespace berth::server
