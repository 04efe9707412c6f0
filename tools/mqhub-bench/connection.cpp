#include "tools/mqhub-bench/connection.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstring>
#include <span>
#include <utility>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::bench {

namespace asio = boost::asio;
namespace mqtt = net::mqtt;
namespace ssl = asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using open_handler = connection::transport::open_handler;

namespace {

// The handshakes above TCP, innermost first; each layer's handshake runs once the one below it is done.
void handshake(tcp::socket& /*connected*/, const broker_address& /*broker*/, const open_handler& done) {
  done({}, "connect");
}

template <class Next>
void handshake(ssl::stream<Next>& tls, const broker_address& broker, open_handler done) {
  handshake(tls.next_layer(), broker,
            [&tls, &broker, done = std::move(done)](const error_code& ec, const char* step) {
              if (ec) {
                done(ec, step);
                return;
              }
              error_code not_an_address;
              asio::ip::make_address(broker.host, not_an_address);
              if (not_an_address)  // SNI carries host names only
                SSL_set_tlsext_host_name(tls.native_handle(), broker.host.c_str());
              tls.async_handshake(ssl::stream_base::client,
                                  [done](const error_code& ec) { done(ec, "TLS handshake"); });
            });
}

template <class Next>
void handshake(websocket::stream<Next>& ws, const broker_address& broker, open_handler done) {
  handshake(ws.next_layer(), broker,
            [&ws, &broker, done = std::move(done)](const error_code& ec, const char* step) {
              if (ec) {
                done(ec, step);
                return;
              }
              ws.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
                request.set(boost::beast::http::field::sec_websocket_protocol, "mqtt");
              }));
              ws.binary(true);
              ws.auto_fragment(false);  // a batch of packets goes out as one frame
              ws.async_handshake(broker.authority, "/mqtt",
                                 [done](const error_code& ec) { done(ec, "WebSocket handshake"); });
            });
}

template <class Stream>
constexpr bool is_websocket = false;
template <class Next>
constexpr bool is_websocket<websocket::stream<Next>> = true;

/// The transport over one stream type: tcp::socket, ssl::stream<tcp::socket>, websocket::stream<...> of
/// either.
template <class Stream>
class stream_transport final : public connection::transport {
 public:
  template <class... Args>
  explicit stream_transport(const broker_address& broker, Args&&... stream_args)
      : broker_(broker), stream_(std::forward<Args>(stream_args)...) {}

  void open(open_handler done) override {
    socket().async_connect(broker_.endpoint, [this, done = std::move(done)](const error_code& ec) {
      if (ec) {
        done(ec, "connect");
        return;
      }
      error_code ignored;
      socket().set_option(tcp::no_delay(true), ignored);
      handshake(stream_, broker_, done);
    });
  }

  void read_some(asio::mutable_buffer into, io_handler done) override {
    stream_.async_read_some(into, [done = std::move(done)](error_code ec, size_t n) {
      if (ec == ssl::error::stream_truncated || ec == websocket::error::closed)
        ec = asio::error::eof;  // the broker closed the connection, whichever way the layer says it
      done(ec, n);
    });
  }

  void write(asio::const_buffer data, io_handler done) override {
    if constexpr (is_websocket<Stream>)
      stream_.async_write(data, std::move(done));
    else
      asio::async_write(stream_, data, std::move(done));
  }

  void close() override {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

 private:
  tcp::socket& socket() { return boost::beast::get_lowest_layer(stream_); }

  const broker_address& broker_;
  Stream stream_;
};

std::unique_ptr<connection::transport> make_transport(asio::io_context& io, const broker_address& broker) {
  using tls_stream = ssl::stream<tcp::socket>;
  switch (broker.transport) {
    case transport_kind::tcp:
      return std::make_unique<stream_transport<tcp::socket>>(broker, io);
    case transport_kind::tls:
      return std::make_unique<stream_transport<tls_stream>>(broker, io, *broker.tls);
    case transport_kind::ws:
      return std::make_unique<stream_transport<websocket::stream<tcp::socket>>>(broker, io);
    case transport_kind::wss:
      return std::make_unique<stream_transport<websocket::stream<tls_stream>>>(broker, io, *broker.tls);
  }
  return nullptr;
}

}  // namespace

connection::connection(asio::io_context& io, mqtt::protocol_version version, connection_handler& handler)
    : io_(io), version_(version), handler_(handler) {}

connection::~connection() = default;

void connection::start(const broker_address& broker, const mqtt::connect_packet& connect,
                       size_t read_buffer) {
  in_.resize(read_buffer);
  mqtt::encode(connect, version_, pending_);
  transport_ = make_transport(io_, broker);
  ++outstanding_;
  transport_->open([this](const error_code& ec, const char* step) {
    if (!completed_while_open())
      return;
    if (ec) {
      fail(std::string(step) + ": " + ec.message());
      return;
    }
    open_ = true;
    flush();
    read();
  });
}

void connection::queue(const mqtt::packet& p) {
  mqtt::encode(p, version_, pending_);
}

void connection::queue_ack(mqtt::packet_type type, uint16_t packet_id) {
  mqtt::encode_ack(type, packet_id, mqtt::reason_code::success, version_, pending_);
}

void connection::flush() {
  if (writing_ || pending_.empty() || closed_ || !open_)
    return;
  writing_ = true;
  std::swap(pending_, outgoing_);
  ++outstanding_;
  transport_->write(asio::buffer(outgoing_), [this](const error_code& ec, size_t) {
    writing_ = false;
    outgoing_.clear();
    if (!completed_while_open())
      return;
    if (ec) {
      fail("write: " + ec.message());
      return;
    }
    // Let the producer queue more first, so that the next write carries as much as possible.
    handler_.on_write_done();
    flush();
  });
}

void connection::close() {
  if (closed_)
    return;
  closed_ = true;
  if (transport_)
    transport_->close();
  release();
}

bool connection::completed_while_open() {
  --outstanding_;
  if (!closed_)
    return true;
  release();
  return false;
}

void connection::release() {
  // Posted: the transport may be the one calling us right now.
  if (transport_ && outstanding_ == 0)
    asio::post(io_, [done = std::move(transport_)] {});
}

void connection::read() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (in_.size() - end_ < in_.size() / 4) {
    std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (in_.size() - end_ < in_.size() / 4)  // a packet larger than the buffer
      in_.resize(in_.size() * 2);
  }
  ++outstanding_;
  transport_->read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                        [this](const error_code& ec, size_t n) {
                          if (!completed_while_open())
                            return;
                          if (ec) {
                            fail(ec == asio::error::eof ? "closed by the broker" : "read: " + ec.message());
                            return;
                          }
                          end_ += n;
                          parse();
                          if (!closed_)
                            read();
                        });
}

void connection::parse() {
  while (!closed_) {
    const std::span<const uint8_t> rest(in_.data() + begin_, end_ - begin_);
    const mqtt::frame f = mqtt::peek_frame(rest, 0);
    if (f.state == mqtt::frame::status::incomplete)
      break;
    if (f.state != mqtt::frame::status::complete) {
      fail("malformed packet from the broker");
      return;
    }
    const auto body = rest.subspan(f.header_size, f.remaining_length);
    begin_ += f.total_size();
    if (connected_) {
      if (!dispatch(f.first_byte, body))
        return;
      continue;
    }
    auto decoded = mqtt::decode_packet(f.first_byte, body, version_);
    if (!decoded) {
      fail("undecodable packet from the broker: " + decoded.error().reason);
      return;
    }
    const auto* connack = std::get_if<mqtt::connack_packet>(&*decoded);
    if (connack == nullptr || connack->code != mqtt::reason_code::success) {
      fail(connack == nullptr ? "first packet is not CONNACK" : "CONNACK refused");
      return;
    }
    connected_ = true;
    handler_.on_connected(*connack);
  }
  if (!closed_)
    handler_.on_read_batch();
  flush();
}

bool connection::dispatch(uint8_t first_byte, std::span<const uint8_t> body) {
  std::optional<mqtt::protocol_error> refused;
  switch (static_cast<mqtt::packet_type>(first_byte >> 4)) {
    case mqtt::packet_type::publish:
      if (auto view = view_publish(first_byte, body, version_)) {
        handler_.on_publish(*view);
        break;
      }
      fail("malformed PUBLISH from the broker");
      return false;
    case mqtt::packet_type::puback:
    case mqtt::packet_type::pubrec:
    case mqtt::packet_type::pubrel:
    case mqtt::packet_type::pubcomp:
      refused = mqtt::decode_ack(first_byte, body, version_, ack_);
      if (!refused)
        handler_.on_ack(ack_);
      break;
    default: {
      auto decoded = mqtt::decode_packet(first_byte, body, version_);
      if (!decoded)
        refused = decoded.error();
      else
        handler_.on_packet(*decoded);
    }
  }
  if (refused)
    fail("undecodable packet from the broker: " + refused->reason);
  return !refused;
}

void connection::fail(std::string_view why) {
  if (closed_)
    return;
  close();
  handler_.on_failed(why);
}

}  // namespace mqhub::bench
