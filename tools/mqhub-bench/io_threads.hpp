#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mqhub::bench {

/// One io_context per thread, each with a concurrency hint of 1: clients never share a context across
/// threads.
class io_threads {
 public:
  explicit io_threads(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
      guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
    }
    for (auto& context : contexts_)
      threads_.emplace_back([&context] { context->run(); });
  }
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;
  ~io_threads() { stop(); }

  boost::asio::io_context& at(size_t i) { return *contexts_[i % contexts_.size()]; }

  void stop() {
    guards_.clear();
    for (auto& context : contexts_)
      context->stop();
    for (auto& thread : threads_)
      if (thread.joinable())
        thread.join();
    threads_.clear();
  }

 private:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<work_guard> guards_;
  std::vector<std::thread> threads_;
};

/// The broker's address; a host name is resolved once, before any load starts.
inline boost::asio::ip::tcp::endpoint resolve_broker(const std::string& host, uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  return *resolver.resolve(host, std::to_string(port)).begin();
}

}  // namespace mqhub::bench
