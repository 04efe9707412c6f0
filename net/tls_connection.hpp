#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "net/stream_connection.hpp"
#include "net/tls_handshake.hpp"

namespace mqhub::net {

/// MQTT over plain TCP.
using tcp_connection = stream_connection<boost::asio::ip::tcp::socket>;

/// MQTT over TLS (and mutual TLS): the handshake, then MQTT as over TCP.
class tls_connection final : public stream_connection<tls_stream> {
 public:
  tls_connection(const std::shared_ptr<boost::asio::ssl::context>& context,
                 boost::asio::ip::tcp::socket socket, std::shared_ptr<node_services> services,
                 peer_identity peer)
      : stream_connection(context, tls_stream(std::move(socket), *context), std::move(services),
                          std::move(peer)) {}

 private:
  void transport_open(open_handler done) override {
    tls_handshake(stream(), services().limits.handshake_timeout, peer(), shared_from_this(), std::move(done));
  }
};

}  // namespace mqhub::net
