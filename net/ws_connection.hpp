#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/connection_base.hpp"

namespace mqhub::net {

/// MQTT over WebSocket: the HTTP upgrade on `/mqtt` with subprotocol `mqtt` (or `mqttv3.1`),
/// then MQTT in binary messages, a packet split across frames or several in one alike. `Next` is the TCP
/// socket (ws) or a TLS stream over it (wss, whose handshake comes first).
template <class Next>
class ws_connection final : public connection_base {
 public:
  /// `resources` outlive the stream (the TLS context of wss).
  ws_connection(std::shared_ptr<const void> resources, Next next, std::shared_ptr<node_services> services,
                peer_identity peer);

 private:
  void transport_open(open_handler done) override;
  void transport_read(boost::asio::mutable_buffer into, read_handler done) override;
  void transport_write(const std::vector<boost::asio::const_buffer>& buffers, write_handler done) override;
  void transport_close() override;

  void read_upgrade(open_handler done);
  void on_upgrade_request(open_handler done);
  /// Answers the upgrade request with an error status and a JSON body, then fails the open.
  void refuse(boost::beast::http::status status, const std::string& why, open_handler done);
  void close_socket();

  std::shared_ptr<const void> resources_;
  boost::beast::websocket::stream<Next> ws_;
  boost::asio::steady_timer timer_;  // bounds the upgrade, then the close handshake
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  boost::beast::websocket::close_code close_code_ = boost::beast::websocket::close_code::normal;
  std::string scratch_;  // the packets of one write, contiguous (one frame, one TLS record run)
};

}  // namespace mqhub::net
