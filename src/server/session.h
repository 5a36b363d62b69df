// One connection's session: its request loop (keep-alive, head deadline,
// framing checks), body reading (sized, chunked, into memory or streamed)
// and sending, behind the Exchange interface handlers see. Internal to
// src/server; the listener starts one per accepted connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

#include "server/server_impl.h"

namespace berth::server {

// Run a session on `socket` (already counted by server.connections and
// admitted for `address`) on the socket's executor, and call
// server.release_connection(address) when it ends. `remote` is
// "address:port", for logs. Thread-safe (each session runs on its own strand).
void start_plain_session(HttpServer::Impl& server, net::ip::tcp::socket socket, std::string address,
                         std::string remote);
// The same over TLS with `tls`: the handshake and the first request head
// share the head deadline, counted from the accept.
// `tls` stays alive until the session ends (a reload may replace the server's).
void start_tls_session(HttpServer::Impl& server, std::shared_ptr<net::ssl::context> tls,
                       net::ip::tcp::socket socket, std::string address, std::string remote);

}  // namespace berth::server
