#pragma once

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace mqhub::net {

/// A TCP socket that lives on one io_context of the pool, as its acceptor makes it. Its executor is a
/// pointer: the default any_io_executor costs every socket 48 bytes more, and every pending operation as
/// much again.
using tcp_socket =
    boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;

/// One io_context per thread: a connection lives on one thread for its whole life, so its handlers never
/// race and need no strand.
class io_pool {
 public:
  explicit io_pool(size_t threads);
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  /// The index of the context for the next connection, round-robin.
  size_t next_index();
  /// Context `index` modulo the pool size, for spreading things over the threads by number.
  boost::asio::io_context& at(size_t index) { return *contexts_[index % contexts_.size()]; }
  size_t size() const { return contexts_.size(); }

  void run();
  void stop();

 private:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<work_guard> guards_;
  std::vector<std::thread> threads_;
  size_t next_ = 0;
};

}  // namespace mqhub::net
