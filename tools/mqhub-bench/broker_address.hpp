#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace mqhub::bench {

/// The broker's address; a host name is resolved once, before any load starts.
inline boost::asio::ip::tcp::endpoint resolve_broker(const std::string& host, uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  return *resolver.resolve(host, std::to_string(port)).begin();
}

}  // namespace mqhub::bench
