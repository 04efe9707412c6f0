#include "tools/mqhub-bench/broker_address.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace mqhub::bench {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

std::shared_ptr<ssl::context> client_tls(const options& o) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  // A client never resumes unless it is handed a session; no cache makes that explicit: every connection of
  // a connect storm pays a full handshake.
  SSL_CTX_set_session_cache_mode(tls->native_handle(), SSL_SESS_CACHE_OFF);
  if (o.cafile.empty())
    tls->set_default_verify_paths();
  else
    tls->load_verify_file(o.cafile);
  tls->set_verify_mode(ssl::verify_peer);
  // The leaf must name --host: a DNS name (localhost) or an IP address (127.0.0.1) in its subjectAltName.
  tls->set_verify_callback(ssl::host_name_verification(o.host));
  return tls;
}

}  // namespace

broker_address resolve_broker(const options& o) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  broker_address b;
  b.endpoint = *resolver.resolve(o.host, std::to_string(o.port)).begin();
  b.transport = o.transport;
  b.host = o.host;
  const bool ipv6 = o.host.find(':') != std::string::npos;
  b.authority = (ipv6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);
  if (o.transport == transport_kind::tls || o.transport == transport_kind::wss)
    b.tls = client_tls(o);
  return b;
}

std::vector<broker_address> resolve_brokers(const options& o) {
  if (o.hosts.empty())
    return {resolve_broker(o)};
  std::vector<broker_address> brokers;
  for (const auto& [host, port] : o.hosts) {
    auto one = o;
    one.host = host;
    one.port = port;
    brokers.push_back(resolve_broker(one));
  }
  return brokers;
}

}  // namespace mqhub::bench
