#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/mqtt/packet.hpp"
#include "tools/mqhub-bench/broker_address.hpp"
#include "tools/mqhub-bench/publish_view.hpp"

namespace mqhub::bench {

/// What a client role (publisher, subscriber, storm client) does with its connection's events. All calls
/// come from the connection's own io_context thread.
class connection_handler {
 public:
  virtual ~connection_handler() = default;
  virtual void on_connected(const net::mqtt::connack_packet& connack) = 0;
  /// PUBLISH (as a view, see publish_view) and the four acks come decoded in place, without a packet
  /// variant: a bench connection gets hundreds of thousands per second, and the variant with its properties
  /// was a fifth of the load generator's CPU, taken from the broker it measures on a 2-core machine. `p` is
  /// valid during the call.
  virtual void on_publish(const publish_view& /*p*/) {}
  virtual void on_ack(const net::mqtt::ack_packet& /*p*/) {}
  /// Every other packet.
  virtual void on_packet(net::mqtt::packet& p) = 0;
  /// After every complete packet of one read was handled: the place to flush acks and report progress once.
  virtual void on_read_batch() {}
  /// A write finished; a producer refills the queue here, so there is always one write in flight.
  virtual void on_write_done() {}
  virtual void on_failed(std::string_view why) = 0;
};

/// One MQTT client connection over the run's transport (TCP, TLS, WebSocket or WebSocket over TLS):
/// connects, sends CONNECT, reads and decodes every complete packet per read, and keeps exactly one write
/// outstanding that drains everything queued meanwhile.
class connection {
 public:
  /// The byte stream under MQTT; one implementation per stream type (connection.cpp). At most one read and
  /// one write are outstanding; every call and handler runs on the connection's io_context thread.
  class transport {
   public:
    using io_handler = std::function<void(const boost::system::error_code&, size_t)>;
    /// `step` names what failed: "connect", "TLS handshake" or "WebSocket handshake".
    using open_handler = std::function<void(const boost::system::error_code&, const char* step)>;

    virtual ~transport() = default;
    /// TCP connect, then the TLS and WebSocket handshakes of the transport, in that order.
    virtual void open(open_handler done) = 0;
    /// Some bytes of the MQTT stream (payload of WebSocket messages); the broker closing it is eof.
    virtual void read_some(boost::asio::mutable_buffer into, io_handler done) = 0;
    /// All of `data`; over WebSocket, as one binary message.
    virtual void write(boost::asio::const_buffer data, io_handler done) = 0;
    /// Closes the TCP socket at once (no TLS close_notify, no WebSocket close frame).
    virtual void close() = 0;
  };

  connection(boost::asio::io_context& io, net::mqtt::protocol_version version, connection_handler& handler);
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// `broker` must outlive the connection.
  void start(const broker_address& broker, const net::mqtt::connect_packet& connect,
             size_t read_buffer = size_t{64} * 1024);

  /// Encodes a packet into the write queue; call flush() when done queueing.
  void queue(const net::mqtt::packet& p);
  void queue_ack(net::mqtt::packet_type type, uint16_t packet_id);
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
  /// Decodes one complete packet after CONNACK and hands it to the handler; false if it was malformed.
  bool dispatch(uint8_t first_byte, std::span<const uint8_t> body);
  void fail(std::string_view why);
  /// Every transport handler starts here; false when the connection was closed meanwhile.
  bool completed_while_open();
  /// Once closed with no operation outstanding, frees the transport (tens of KiB under TLS: a connect storm
  /// keeps its finished connections to the end).
  void release();

  boost::asio::io_context& io_;
  std::unique_ptr<transport> transport_;  // made by start()
  net::mqtt::protocol_version version_;
  connection_handler& handler_;
  std::vector<uint8_t> in_;
  size_t begin_ = 0;
  size_t end_ = 0;
  net::mqtt::ack_packet ack_;
  std::string pending_;
  std::string outgoing_;
  unsigned outstanding_ = 0;  // transport operations whose handler has not run yet
  bool writing_ = false;
  bool open_ = false;       // connected and through the transport's handshakes
  bool connected_ = false;  // CONNACK received
  bool closed_ = false;
};

}  // namespace mqhub::bench
