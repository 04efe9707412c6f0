#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "net/coalesce.hpp"
#include "net/connection_base.hpp"
#include "net/io_pool.hpp"
#include "net/tls_handshake.hpp"

namespace mqhub::net {

/// MQTT straight over a byte stream: a TCP socket, or a TLS stream over one. `Stream` is an Asio
/// AsyncStream whose lowest layer is the TCP socket.
template <class Stream>
class stream_connection : public connection_base {
 public:
  /// `resources` outlive the stream (a TLS context that the stream refers to).
  stream_connection(Stream stream, std::shared_ptr<node_services> services, peer_identity peer,
                    const std::shared_ptr<const void>& resources = nullptr)
      : connection_base(context_of(stream), std::move(services), std::move(peer)),
        stream_(std::move(stream)) {
    if constexpr (plain_tcp) {
      boost::system::error_code ignored;  // without it, transport_read_now would wait for bytes
      stream_.non_blocking(true, ignored);
    } else {
      extras_.resources = resources;
    }
  }

 protected:
  Stream& stream() { return stream_; }

 private:
  static boost::asio::io_context& context_of(Stream& stream) {
    return static_cast<boost::asio::io_context&>(
        boost::beast::get_lowest_layer(stream).get_executor().context());
  }

  static constexpr bool plain_tcp = std::is_same_v<Stream, tcp_socket>;

  void transport_read(boost::asio::mutable_buffer into, read_handler done) override {
    stream_.async_read_some(into, std::move(done));
  }

  bool transport_waits() const override { return plain_tcp; }

  void transport_wait() override {
    if constexpr (plain_tcp) {
      auto self = std::static_pointer_cast<stream_connection>(shared_from_this());
      stream_.async_wait(
          tcp_socket::wait_read,
          [self = std::move(self)](const boost::system::error_code& ec) { self->on_readable(ec); });
    }
  }

  int transport_socket() const override {
    if constexpr (plain_tcp)
      return const_cast<Stream&>(stream_).native_handle();  // asio's accessor is not const; it reads a field
    return -1;
  }

  size_t transport_read_now(boost::asio::mutable_buffer into, boost::system::error_code& ec) override {
    if constexpr (plain_tcp)
      return stream_.read_some(into, ec);
    ec = boost::asio::error::operation_not_supported;
    return 0;
  }

  void transport_write(const std::vector<boost::asio::const_buffer>& buffers, write_handler done) override {
    if constexpr (std::is_same_v<Stream, tls_stream>)
      boost::asio::async_write(stream_, coalesce(buffers, extras_.scratch), std::move(done));
    else
      boost::asio::async_write(stream_, buffers, std::move(done));
  }

  void transport_close() override {
    // No TLS close_notify: the client learns the end from the TCP close, and a peer that stopped reading
    // cannot hold the connection open.
    auto& socket = boost::beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  /// What only TLS needs: plain TCP, which is most clients, does without these 48 bytes. Declared before the
  /// stream, which must not outlive the context it refers to.
  struct tls_extras {
    std::shared_ptr<const void> resources;
    std::string scratch;  // the packets of one write, contiguous
  };
  struct no_extras {};
  [[no_unique_address]] std::conditional_t<plain_tcp, no_extras, tls_extras> extras_;
  Stream stream_;
};

}  // namespace mqhub::net
