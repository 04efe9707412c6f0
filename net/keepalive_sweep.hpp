#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mqhub::net {

class connection_base;

/// Enforces keep alives for all connections of one io_context with one timer that looks at each of them
/// every half second, instead of one armed timer per connection: an idle connection no longer carries a
/// timer and a pending wait. A connection is found silent up to half a second after its 1.5 x Keep Alive.
class keepalive_sweep : public boost::asio::execution_context::service {
 public:
  static constexpr auto interval = std::chrono::milliseconds(500);

  // What asio::use_service<keepalive_sweep>(io_context&) needs.
  static boost::asio::execution_context::id id;
  explicit keepalive_sweep(boost::asio::io_context& io);

  /// From the io_context's own thread: checks `connection` from now on, until it closes or is gone.
  void watch(std::weak_ptr<connection_base> connection);

 private:
  void shutdown() override;
  void schedule();
  void sweep();

  boost::asio::steady_timer timer_;
  std::vector<std::weak_ptr<connection_base>> watched_;
  bool scheduled_ = false;
};

}  // namespace mqhub::net
