#include "net/ws_connection.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "net/coalesce.hpp"
#include "net/tls_handshake.hpp"

namespace mqhub::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

constexpr size_t max_request_header = size_t{8} * 1024;
constexpr auto close_handshake_limit = std::chrono::seconds(2);

template <class Next>
asio::io_context& context_of(Next& next) {
  return static_cast<asio::io_context&>(beast::get_lowest_layer(next).get_executor().context());
}

/// The subprotocol to answer with: `mqtt`, else the 3.1 name old clients ask for; empty when neither.
std::string choose_subprotocol(std::string_view offered) {
  bool old_name = false;
  while (!offered.empty()) {
    auto comma = offered.find(',');
    auto item = offered.substr(0, comma);
    offered = comma == std::string_view::npos ? std::string_view{} : offered.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (item == "mqtt")
      return "mqtt";
    old_name = old_name || item == "mqttv3.1";
  }
  return old_name ? "mqttv3.1" : "";
}

std::string json_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

template <class Next>
ws_connection<Next>::ws_connection(std::shared_ptr<const void> resources, Next next,
                                   std::shared_ptr<node_services> services, peer_identity peer)
    : connection_base(context_of(next), std::move(services), std::move(peer)),
      resources_(std::move(resources)),
      ws_(std::move(next)),
      timer_(ws_.get_executor()) {}

template <class Next>
void ws_connection<Next>::transport_open(open_handler done) {
  auto self = std::static_pointer_cast<ws_connection>(shared_from_this());
  timer_.expires_after(services().limits.handshake_timeout);
  timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec)
      self->close_socket();  // a client that stalls the handshake or the upgrade is dropped
  });
  if constexpr (std::is_same_v<Next, tls_stream>) {
    tls_handshake(ws_.next_layer(), services().limits.handshake_timeout, peer(), self,
                  [self, done = std::move(done)](bool ok) mutable {
                    if (ok) {
                      self->read_upgrade(std::move(done));
                      return;
                    }
                    self->timer_.cancel();  // or it holds the failed connection until it fires
                    done(false);
                  });
  } else {
    read_upgrade(std::move(done));
  }
}

template <class Next>
void ws_connection<Next>::read_upgrade(open_handler done) {
  parser_.emplace();
  parser_->header_limit(max_request_header);
  parser_->body_limit(0);
  auto self = std::static_pointer_cast<ws_connection>(shared_from_this());
  http::async_read(ws_.next_layer(), buffer_, *parser_,
                   [self, done = std::move(done)](const boost::system::error_code& ec, size_t) mutable {
                     if (ec) {
                       self->timer_.cancel();
                       done(false);
                       return;
                     }
                     self->on_upgrade_request(std::move(done));
                   });
}

template <class Next>
void ws_connection<Next>::on_upgrade_request(open_handler done) {
  const auto& request = parser_->get();
  auto target = std::string_view(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));
  if (target != "/mqtt") {
    refuse(http::status::not_found, "MQTT over WebSocket is served on /mqtt", std::move(done));
    return;
  }
  if (!websocket::is_upgrade(request)) {
    refuse(http::status::bad_request, "expected a WebSocket upgrade", std::move(done));
    return;
  }
  const auto& origins = services().ws_origins;
  auto origin = request[http::field::origin];
  if (!origins.empty() && !origin.empty() &&
      std::find(origins.begin(), origins.end(), std::string_view(origin.data(), origin.size())) ==
          origins.end()) {
    refuse(http::status::forbidden, "origin not allowed", std::move(done));
    return;
  }
  auto offered = request[http::field::sec_websocket_protocol];
  auto subprotocol = choose_subprotocol(std::string_view(offered.data(), offered.size()));
  if (subprotocol.empty()) {
    refuse(http::status::bad_request, "the WebSocket subprotocol must be mqtt", std::move(done));
    return;
  }
  ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& response) {
    response.set(http::field::sec_websocket_protocol, subprotocol);
    response.set(http::field::server, "mqhub");
  }));
  ws_.binary(true);
  ws_.auto_fragment(false);  // one frame per write: the batch is already as large as it should be
  // An MQTT packet at the size limit, plus the frame header: larger messages fail with close code 1009.
  ws_.read_message_max(size_t{services().limits.max_packet_size} + 16);
  auto self = std::static_pointer_cast<ws_connection>(shared_from_this());
  ws_.async_accept(request, [self, done = std::move(done)](const boost::system::error_code& ec) mutable {
    self->timer_.cancel();
    self->parser_.reset();
    done(!ec);
  });
}

template <class Next>
void ws_connection<Next>::refuse(http::status status, const std::string& why, open_handler done) {
  auto response = std::make_shared<http::response<http::string_body>>(status, parser_->get().version());
  response->set(http::field::server, "mqhub");
  response->set(http::field::content_type, "application/json");
  response->body() = R"({"error":{"code":)" + std::to_string(static_cast<unsigned>(status)) +
                     R"(,"message":")" + json_escape(why) + R"("}})";
  response->keep_alive(false);
  response->prepare_payload();
  auto self = std::static_pointer_cast<ws_connection>(shared_from_this());
  http::async_write(
      ws_.next_layer(), *response,
      [self, response, done = std::move(done)](const boost::system::error_code&, size_t) mutable {
        self->timer_.cancel();
        done(false);
      });
}

template <class Next>
void ws_connection<Next>::transport_read(asio::mutable_buffer into, read_handler done) {
  auto self = std::static_pointer_cast<ws_connection>(shared_from_this());
  ws_.async_read_some(into,
                      [self, done = std::move(done)](const boost::system::error_code& ec, size_t bytes) {
                        if (!ec && self->ws_.got_text()) {
                          // MQTT travels in binary messages only (MQTT-6.0.0-1).
                          self->close_code_ = websocket::close_code::unknown_data;
                          done(asio::error::make_error_code(asio::error::invalid_argument), 0);
                          return;
                        }
                        done(ec, bytes);
                      });
}

template <class Next>
void ws_connection<Next>::transport_write(const std::vector<asio::const_buffer>& buffers,
                                          write_handler done) {
  ws_.async_write(coalesce(buffers, scratch_), std::move(done));
}

template <class Next>
void ws_connection<Next>::transport_close() {
  if (!ws_.is_open()) {
    close_socket();
    return;
  }
  // The close handshake, bounded: a peer that does not answer is cut off.
  auto self = std::static_pointer_cast<ws_connection>(shared_from_this());
  timer_.expires_after(close_handshake_limit);
  timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec)
      self->close_socket();
  });
  ws_.async_close(close_code_, [self](const boost::system::error_code&) {
    self->timer_.cancel();
    self->close_socket();
  });
}

template <class Next>
void ws_connection<Next>::close_socket() {
  auto& socket = beast::get_lowest_layer(ws_);
  boost::system::error_code ignored;
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

template class ws_connection<asio::ip::tcp::socket>;
template class ws_connection<tls_stream>;

}  // namespace mqhub::net
