#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "net/access_policy.hpp"

namespace mqhub::net {

using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

/// The server side of a TLS handshake, bounded by `timeout` (a client that stalls is closed); then the
/// client's certificate, if any, is recorded in `peer`. `done(ok)` runs on the stream's thread; `owner`
/// keeps the stream alive meanwhile.
void tls_handshake(tls_stream& stream, std::chrono::seconds timeout, peer_identity& peer,
                   std::shared_ptr<void> owner, std::function<void(bool ok)> done);

}  // namespace mqhub::net
