#include "net/listener.hpp"

#include <utility>

#include <spdlog/spdlog.h>

namespace mqhub::net {

namespace asio = boost::asio;

listener::listener(io_pool& pool, const asio::ip::tcp::endpoint& at, std::string network,
                   connection_factory make_connection)
    : pool_(pool),
      network_(std::move(network)),
      make_connection_(std::move(make_connection)),
      acceptor_(pool.at(0)),
      retry_timer_(pool.at(0)) {
  acceptor_.open(at.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(at);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void listener::start() {
  accept_next();
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void listener::accept_next() {
  acceptor_.async_accept(
      pool_.next(), [self = shared_from_this()](const boost::system::error_code& ec, tcp_socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open())
          return;
        if (!ec) {
          boost::system::error_code ignored;
          socket.set_option(asio::ip::tcp::no_delay(true), ignored);
          auto remote = socket.remote_endpoint(ignored);
          peer_identity peer;
          peer.address = remote.address().to_string() + ":" + std::to_string(remote.port());
          peer.network = self->network_;
          // Constructed on the accepting thread, started on its own.
          if (auto connection = self->make_connection_(std::move(socket), std::move(peer)))
            asio::post(connection->executor_context(), [connection] { connection->start(); });
        } else {
          // E.g. out of file descriptors: try again shortly instead of spinning on the error.
          spdlog::warn("accept failed: {}", ec.message());
          self->retry_timer_.expires_after(std::chrono::milliseconds(100));
          self->retry_timer_.async_wait([self](const boost::system::error_code&) { self->accept_next(); });
          return;
        }
        self->accept_next();
      });
}

}  // namespace mqhub::net
