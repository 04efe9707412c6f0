#include "tools/mqhub-bench/connection.hpp"

#include <boost/asio/write.hpp>
#include <cstring>
#include <span>
#include <utility>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::bench {

namespace asio = boost::asio;
namespace mqtt = net::mqtt;

connection::connection(asio::io_context& io, mqtt::protocol_version version, connection_handler& handler)
    : io_(io), socket_(io), version_(version), handler_(handler) {}

void connection::start(const asio::ip::tcp::endpoint& broker, const mqtt::connect_packet& connect,
                       size_t read_buffer) {
  in_.resize(read_buffer);
  mqtt::encode(connect, version_, pending_);
  socket_.async_connect(broker, [this](const boost::system::error_code& ec) {
    if (ec) {
      fail("connect: " + ec.message());
      return;
    }
    boost::system::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    flush();
    read();
  });
}

void connection::queue(const mqtt::packet& p) {
  mqtt::encode(p, version_, pending_);
}

void connection::flush() {
  if (writing_ || pending_.empty() || closed_ || !socket_.is_open())
    return;
  writing_ = true;
  std::swap(pending_, outgoing_);
  asio::async_write(socket_, asio::buffer(outgoing_), [this](const boost::system::error_code& ec, size_t) {
    writing_ = false;
    outgoing_.clear();
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
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
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
  socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                          [this](const boost::system::error_code& ec, size_t n) {
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
    auto decoded =
        mqtt::decode_packet(f.first_byte, rest.subspan(f.header_size, f.remaining_length), version_);
    begin_ += f.total_size();
    if (!decoded) {
      fail("undecodable packet from the broker: " + decoded.error().reason);
      return;
    }
    if (!connected_) {
      const auto* connack = std::get_if<mqtt::connack_packet>(&*decoded);
      if (connack == nullptr || connack->code != mqtt::reason_code::success) {
        fail(connack == nullptr ? "first packet is not CONNACK" : "CONNACK refused");
        return;
      }
      connected_ = true;
      handler_.on_connected(*connack);
      continue;
    }
    handler_.on_packet(*decoded);
  }
  if (!closed_)
    handler_.on_read_batch();
  flush();
}

void connection::fail(std::string_view why) {
  if (closed_)
    return;
  close();
  handler_.on_failed(why);
}

}  // namespace mqhub::bench
