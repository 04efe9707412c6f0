#include "net/tls_handshake.hpp"

#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "net/tls/peer_certificate.hpp"

namespace mqhub::net {

namespace asio = boost::asio;

void tls_handshake(tls_stream& stream, std::chrono::seconds timeout, peer_identity& peer,
                   std::shared_ptr<void> owner, std::function<void(bool ok)> done) {
  auto timer = std::make_shared<asio::steady_timer>(stream.get_executor());
  timer->expires_after(timeout);
  timer->async_wait([&stream, keep = owner](const boost::system::error_code& ec) {
    if (ec)
      return;  // cancelled: the handshake ended first
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);  // the pending handshake fails
  });
  stream.async_handshake(asio::ssl::stream_base::server,
                         [&stream, &peer, owner = std::move(owner), timer,
                          done = std::move(done)](const boost::system::error_code& ec) {
                           timer->cancel();
                           if (ec) {
                             done(false);
                             return;
                           }
                           peer.tls = true;
                           tls::read_peer_certificate(stream.native_handle(), peer);
                           done(true);
                         });
}

}  // namespace mqhub::net
