#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tools/mqhub-bench/options.hpp"

namespace mqhub::bench {

/// Where the broker is and how to reach it. Made once, before any load starts, and read (never changed) by
/// every connection of the run, from any thread.
struct broker_address {
  boost::asio::ip::tcp::endpoint endpoint;
  transport_kind transport = transport_kind::tcp;
  std::string host;       // --host as given: the name (or address) the server certificate must carry
  std::string authority;  // HOST:PORT, the Host header of the WebSocket upgrade
  /// tls and wss: TLS 1.2 or later, the server verified against --cafile for `host`, no session resumption.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// Resolves --host and, for tls/wss, builds the client TLS context; throws when either fails.
broker_address resolve_broker(const options& o);

/// The nodes of --hosts, resolved alike; --host alone when it is not given.
std::vector<broker_address> resolve_brokers(const options& o);

}  // namespace mqhub::bench
