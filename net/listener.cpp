#include "net/listener.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

namespace mqhub::net {

namespace asio = boost::asio;

namespace {

// Sockets taken from the backlog per wake-up at most, so that a flood of connections does not keep the
// accepting thread from its own clients.
constexpr size_t max_accepts_per_wake = 64;

// accept(2): the connection's own error, or one of the network's that Linux passes on; the next may be fine.
bool gone_before_taken(int error) {
  switch (error) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace

listener::accepted_batch::~accepted_batch() {
  for (auto& [fd, peer] : sockets)
    if (fd >= 0)
      ::close(fd);
}

listener::listener(io_pool& pool, const asio::ip::tcp::endpoint& at, std::string network,
                   connection_factory make_connection)
    : pool_(pool),
      starter_(std::make_shared<connection_starter>()),
      acceptor_(pool.at(0)),
      retry_timer_(pool.at(0)) {
  starter_->network = std::move(network);
  starter_->make_connection = std::move(make_connection);
  acceptor_.open(at.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  // Linux hands TCP_NODELAY on to every accepted socket: no setsockopt per connection.
  acceptor_.set_option(asio::ip::tcp::no_delay(true));
  acceptor_.non_blocking(true);  // accept4 returns EAGAIN once the backlog is empty
  acceptor_.bind(at);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void listener::start() {
  accept_next();
}

void listener::stop() {
  starter_->stopped = true;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void listener::accept_next() {
  acceptor_.async_wait(asio::ip::tcp::acceptor::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (ec == asio::error::operation_aborted || !self->acceptor_.is_open())
                           return;
                         self->accept_ready();
                       });
}

// accept4 itself rather than Asio's accept: the socket comes non-blocking with its peer's address, and is
// registered with its own thread's reactor by that thread, so a connection costs the accepting thread three
// system calls fewer, and its thread one wake-up per batch instead of two per connection.
void listener::accept_ready() {
  std::vector<accepted_batch> batches;
  try {
    // Room first: nothing may throw between accept4 and the batch that owns its descriptor.
    batches.resize(pool_.size());
    for (auto& batch : batches)
      batch.sockets.reserve(max_accepts_per_wake);
  } catch (const std::bad_alloc&) {
    retry_shortly("out of memory");
    return;
  }
  for (size_t taken = 0; taken < max_accepts_per_wake; ++taken) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&address), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;  // before hand_over, whose allocations may set it
      if (error == EAGAIN || error == EWOULDBLOCK)
        break;
      if (gone_before_taken(error))
        continue;
      hand_over(batches);
      retry_shortly(std::strerror(error));  // e.g. out of file descriptors
      return;
    }
    asio::ip::tcp::endpoint peer;
    std::memcpy(peer.data(), &address, std::min<size_t>(length, peer.capacity()));
    batches[pool_.next_index()].sockets.emplace_back(fd, peer);
  }
  hand_over(batches);
  accept_next();
}

void listener::retry_shortly(std::string_view why) {
  // Waiting instead of spinning on the error: the backlog keeps the clients until there is room.
  spdlog::warn("accept failed: {}", why);
  retry_timer_.expires_after(std::chrono::milliseconds(100));
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    if (self->acceptor_.is_open())
      self->accept_next();
  });
}

void listener::hand_over(std::vector<accepted_batch>& batches) {
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i].sockets.empty())
      continue;
    auto& io = pool_.at(i);
    asio::post(io, [starter = starter_, &io, batch = std::move(batches[i])]() mutable {
      starter->start(io, batch);
    });
  }
}

void listener::connection_starter::start(asio::io_context& io, accepted_batch& batch) const {
  if (stopped)
    return;  // the node is shutting down: the batch closes the sockets
  for (auto& [fd, remote] : batch.sockets) {
    try {
      tcp_socket socket(io);
      socket.assign(remote.protocol(), fd);
      fd = -1;  // the socket closes it from here on
      peer_identity peer;
      peer.address = remote.address().to_string() + ":" + std::to_string(remote.port());
      peer.network = network;
      if (auto connection = make_connection(std::move(socket), std::move(peer)))
        connection->start();
    } catch (const std::exception& e) {
      // E.g. out of file descriptors or memory for this one client: the others and the node carry on.
      spdlog::warn("could not start a connection from {}: {}", remote.address().to_string(), e.what());
    }
  }
}

}  // namespace mqhub::net
