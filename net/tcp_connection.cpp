#include "net/tcp_connection.hpp"

#include <utility>

#include <boost/asio/write.hpp>

namespace mqhub::net {

namespace asio = boost::asio;

namespace {

asio::io_context& context_of(asio::ip::tcp::socket& socket) {
  return static_cast<asio::io_context&>(socket.get_executor().context());
}

}  // namespace

tcp_connection::tcp_connection(asio::ip::tcp::socket socket, std::shared_ptr<node_services> services,
                               peer_identity peer)
    : connection_base(context_of(socket), std::move(services), std::move(peer)), socket_(std::move(socket)) {}

void tcp_connection::transport_read(asio::mutable_buffer into, read_handler done) {
  socket_.async_read_some(into, std::move(done));
}

void tcp_connection::transport_write(const std::vector<asio::const_buffer>& buffers, write_handler done) {
  asio::async_write(socket_, buffers, std::move(done));
}

void tcp_connection::transport_close() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace mqhub::net
