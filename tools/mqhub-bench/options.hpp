#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "net/mqtt/packet.hpp"

namespace mqhub::bench {

enum class scenario { pairwise, fan_in, fan_out, shared, connect_storm };

const char* to_string(scenario s);

/// How every connection reaches the broker: MQTT over TCP, TLS, WebSocket, or WebSocket over TLS.
enum class transport_kind { tcp, tls, ws, wss };

const char* to_string(transport_kind t);

/// Everything the command line decides. Counts are already resolved per scenario (e.g. fan-in has one
/// subscriber), so the runner never re-derives them.
struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  /// Several nodes of a cluster (--hosts HOST:PORT,...): publisher i connects to node i mod N and subscriber
  /// j to node j+1 mod N, so that in the pairwise scenario every message crosses from one node to another.
  std::vector<std::pair<std::string, uint16_t>> hosts;
  transport_kind transport = transport_kind::tcp;
  std::string cafile;  // tls/wss: the CA the server certificate is verified against (empty: the system's)
  scenario kind = scenario::pairwise;
  net::mqtt::qos qos_level = net::mqtt::qos::at_most_once;
  net::mqtt::protocol_version version = net::mqtt::protocol_version::v311;
  uint32_t publishers = 1;
  uint32_t subscribers = 1;
  uint32_t payload = 64;
  /// QoS 0: messages sent but not yet delivered (0 = open loop, paced only by TCP);
  /// QoS 1/2: unacknowledged PUBLISHes per publisher.
  uint32_t window = 1000;
  double rate = 0;  // total messages/s over all publishers, 0 = unbounded
  double duration = 5;
  double warmup = 1;
  double drain = 2;  // how long to wait for stragglers after the last send
  uint32_t threads = 1;
  std::string topic_prefix = "bench";
  uint32_t connections = 1000;  // connect storm
  uint32_t concurrency = 100;   // connect storm: CONNECTs in flight at once
  double idle = 0;              // connect storm: seconds to hold every connection open (RSS per connection)
  /// Subscribers keep their sessions (3.1.1 clean session 0, MQTT 5 session expiry), so a durable broker
  /// stores what it queues for them.
  bool persistent = false;
  int broker_pid = 0;
  bool json = false;
};

/// Parses argv; prints help or errors and exits on bad input (start-up failure, not a runtime path).
options parse_options(int argc, char** argv);

}  // namespace mqhub::bench
