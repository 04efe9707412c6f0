#include "net/keepalive_sweep.hpp"

#include <utility>

#include "net/connection_base.hpp"

namespace mqhub::net {

boost::asio::execution_context::id keepalive_sweep::id;

keepalive_sweep::keepalive_sweep(boost::asio::io_context& io)
    : boost::asio::execution_context::service(io), timer_(io) {}

void keepalive_sweep::watch(std::weak_ptr<connection_base> connection) {
  watched_.push_back(std::move(connection));
  schedule();
}

void keepalive_sweep::shutdown() {
  watched_.clear();
  boost::system::error_code ignored;
  timer_.cancel(ignored);
}

void keepalive_sweep::schedule() {
  if (scheduled_ || watched_.empty())
    return;
  scheduled_ = true;
  timer_.expires_after(interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    scheduled_ = false;
    if (!ec)
      sweep();
  });
}

void keepalive_sweep::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < watched_.size();) {
    auto connection = watched_[i].lock();
    if (connection && connection->check_keepalive(now)) {
      ++i;
      continue;
    }
    // Closed or gone: swap in the last one, order does not matter.
    watched_[i] = std::move(watched_.back());
    watched_.pop_back();
  }
  schedule();
}

}  // namespace mqhub::net
