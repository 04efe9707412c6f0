#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/connection_base.hpp"
#include "net/io_pool.hpp"

namespace mqhub::net {

/// Accepts the clients of one network (mqtt, mqtts, ws, wss) and spreads their connections over the io pool;
/// what a connection is depends on the network, through `make_connection`.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Builds the connection of an accepted socket (on the socket's own thread), or null to turn it away.
  using connection_factory =
      std::function<std::shared_ptr<connection_base>(tcp_socket socket, peer_identity peer)>;

  /// Binds and listens; throws boost::system::system_error when the address is taken.
  listener(io_pool& pool, const boost::asio::ip::tcp::endpoint& at, std::string network,
           connection_factory make_connection);

  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  const std::string& network() const { return starter_->network; }

 private:
  /// Sockets accepted in one wake-up for one thread of the pool; closes those it still holds when dropped
  /// (a node that stops before the thread took them).
  struct accepted_batch {
    accepted_batch() = default;
    accepted_batch(accepted_batch&&) = default;
    accepted_batch& operator=(accepted_batch&&) = default;
    ~accepted_batch();
    std::vector<std::pair<int, boost::asio::ip::tcp::endpoint>> sockets;
  };

  /// What starting a batch's connections takes, on their own thread. Shared with the posted batches, which
  /// must not keep the listener (its acceptor is on another thread's context) alive at shutdown.
  struct connection_starter {
    std::string network;
    connection_factory make_connection;
    std::atomic<bool> stopped{false};  // batches that arrive later close their sockets
    void start(boost::asio::io_context& io, accepted_batch& batch) const;
  };

  void accept_next();
  void accept_ready();
  void retry_shortly(std::string_view why);
  void hand_over(std::vector<accepted_batch>& batches);

  io_pool& pool_;
  std::shared_ptr<connection_starter> starter_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
};

}  // namespace mqhub::net
