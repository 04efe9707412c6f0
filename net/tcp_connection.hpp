#pragma once

#include <memory>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "net/connection_base.hpp"

namespace mqhub::net {

/// MQTT over plain TCP.
class tcp_connection final : public connection_base {
 public:
  tcp_connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<node_services> services,
                 peer_identity peer);

 private:
  void transport_read(boost::asio::mutable_buffer into, read_handler done) override;
  void transport_write(const std::vector<boost::asio::const_buffer>& buffers, write_handler done) override;
  void transport_close() override;

  boost::asio::ip::tcp::socket socket_;
};

}  // namespace mqhub::net
