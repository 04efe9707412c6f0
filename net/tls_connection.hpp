#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "net/stream_connection.hpp"
#include "net/tls_handshake.hpp"

namespace mqhub::net {

/// MQTT over plain TCP.
using tcp_connection = stream_connection<tcp_socket>;

// With make_shared's 16-byte control block this is jemalloc's 512-byte class; 8 bytes more would make it 640,
// for every client.
static_assert(sizeof(void*) != 8 || sizeof(tcp_connection) <= 496, "tcp_connection outgrew its size class");

/// MQTT over TLS (and mutual TLS): the handshake, then MQTT as over TCP.
class tls_connection final : public stream_connection<tls_stream> {
 public:
  tls_connection(const std::shared_ptr<boost::asio::ssl::context>& context, tcp_socket socket,
                 std::shared_ptr<node_services> services, peer_identity peer)
      : stream_connection(tls_stream(boost::asio::ip::tcp::socket(std::move(socket)), *context),
                          std::move(services), std::move(peer), context) {}

 private:
  void transport_open(open_handler done) override {
    tls_handshake(stream(), services().limits.handshake_timeout, peer(), shared_from_this(), std::move(done));
  }
};

}  // namespace mqhub::net
