// Precompiled header for the HTTP layers: Asio, Beast and OpenSSL's Asio glue
// are expensive to parse, and every server/oci/ecr file needs them.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
