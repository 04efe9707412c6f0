#include "net/io_pool.hpp"

#include <boost/asio/ip/tcp.hpp>

namespace mqhub::net {

io_pool::io_pool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    // Creates the context's reactor (an epoll, an eventfd and a timerfd) now: created by the first socket
    // instead, it could fail for want of descriptors in the middle of accepting.
    boost::asio::ip::tcp::socket reactor_probe(*contexts_.back());
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

io_pool::~io_pool() {
  stop();
}

size_t io_pool::next_index() {
  size_t index = next_;
  next_ = (next_ + 1) % contexts_.size();
  return index;
}

void io_pool::run() {
  for (auto& context : contexts_)
    threads_.emplace_back([&context] { context->run(); });
}

void io_pool::stop() {
  guards_.clear();
  for (auto& context : contexts_)
    context->stop();
  for (auto& thread : threads_)
    if (thread.joinable())
      thread.join();
  threads_.clear();
}

}  // namespace mqhub::net
