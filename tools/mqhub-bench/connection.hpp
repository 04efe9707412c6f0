#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/mqtt/packet.hpp"

namespace mqhub::bench {

/// What a client role (publisher, subscriber, storm client) does with its connection's events. All calls
/// come from the connection's own io_context thread.
class connection_handler {
 public:
  virtual ~connection_handler() = default;
  virtual void on_connected(const net::mqtt::connack_packet& connack) = 0;
  virtual void on_packet(net::mqtt::packet& p) = 0;
  /// After every complete packet of one read was handled: the place to flush acks and report progress once.
  virtual void on_read_batch() {}
  /// A write finished; a producer refills the queue here, so there is always one write in flight.
  virtual void on_write_done() {}
  virtual void on_failed(std::string_view why) = 0;
};

/// One MQTT client connection over TCP: connects, sends CONNECT, reads and decodes every complete packet
/// per read, and keeps exactly one async_write outstanding that drains everything queued meanwhile.
class connection {
 public:
  connection(boost::asio::io_context& io, net::mqtt::protocol_version version, connection_handler& handler);

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void start(const boost::asio::ip::tcp::endpoint& broker, const net::mqtt::connect_packet& connect,
             size_t read_buffer = size_t{64} * 1024);

  /// Encodes a packet into the write queue; call flush() when done queueing.
  void queue(const net::mqtt::packet& p);
  /// The write queue itself, for callers that append pre-encoded bytes.
  std::string& queued() { return pending_; }
  void flush();
  void close();

  bool writing() const { return writing_; }
  boost::asio::io_context& context() { return io_; }
  net::mqtt::protocol_version version() const { return version_; }

 private:
  void read();
  void parse();
  void fail(std::string_view why);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  net::mqtt::protocol_version version_;
  connection_handler& handler_;
  std::vector<uint8_t> in_;
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string pending_;
  std::string outgoing_;
  bool writing_ = false;
  bool connected_ = false;
  bool closed_ = false;
};

}  // namespace mqhub::bench
