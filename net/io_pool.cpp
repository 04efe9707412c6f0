#include "net/io_pool.hpp"

namespace mqhub::net {

io_pool::io_pool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

io_pool::~io_pool() {
  stop();
}

boost::asio::io_context& io_pool::next() {
  auto& context = *contexts_[next_];
  next_ = (next_ + 1) % contexts_.size();
  return context;
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
