#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/io_pool.hpp"
#include "net/node_services.hpp"

namespace mqhub::net {

/// Accepts MQTT-over-TCP clients and spreads their connections over the io pool.
class mqtt_listener : public std::enable_shared_from_this<mqtt_listener> {
 public:
  /// Binds and listens; throws boost::system::system_error when the address is taken.
  mqtt_listener(io_pool& pool, std::shared_ptr<node_services> services,
                const boost::asio::ip::tcp::endpoint& at);

  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void accept_next();

  io_pool& pool_;
  std::shared_ptr<node_services> services_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
};

}  // namespace mqhub::net
