#include "tools/mqhub-bench/options.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace mqhub::bench {

const char* to_string(scenario s) {
  switch (s) {
    case scenario::pairwise:
      return "pairwise";
    case scenario::fan_in:
      return "fan-in";
    case scenario::fan_out:
      return "fan-out";
    case scenario::shared:
      return "shared";
    case scenario::connect_storm:
      return "connect-storm";
  }
  return "?";
}

const char* to_string(transport_kind t) {
  switch (t) {
    case transport_kind::tcp:
      return "tcp";
    case transport_kind::tls:
      return "tls";
    case transport_kind::ws:
      return "ws";
    case transport_kind::wss:
      return "wss";
  }
  return "?";
}

options parse_options(int argc, char** argv) {
  options o;
  CLI::App app{"mqhub-bench: MQTT load generator (throughput, latency, loss/dup/order, broker CPU and RSS)"};
  const std::map<std::string, scenario> scenarios{{"pairwise", scenario::pairwise},
                                                  {"fan-in", scenario::fan_in},
                                                  {"fan-out", scenario::fan_out},
                                                  {"shared", scenario::shared},
                                                  {"connect-storm", scenario::connect_storm}};
  const std::map<std::string, transport_kind> transports{{"tcp", transport_kind::tcp},
                                                         {"tls", transport_kind::tls},
                                                         {"ws", transport_kind::ws},
                                                         {"wss", transport_kind::wss}};
  int qos = 0;
  std::string version = "3.1.1";
  uint32_t publishers = 0;
  uint32_t subscribers = 0;
  app.add_option("--host", o.host, "broker address")->capture_default_str();
  app.add_option("--port", o.port, "broker MQTT port")->capture_default_str();
  std::vector<std::string> hosts;
  app.add_option("--hosts", hosts,
                 "cluster nodes HOST:PORT,...: publisher i on node i mod N, subscriber j on node j+1 mod N "
                 "(pairwise: every message crosses nodes); replaces --host and --port")
      ->delimiter(',');
  app.add_option("--transport", o.transport,
                 "tcp | tls | ws | wss (WebSocket: path /mqtt, subprotocol mqtt; tls/wss: TLS 1.2+, a full "
                 "handshake per connection)")
      ->transform(CLI::CheckedTransformer(transports, CLI::ignore_case))
      ->default_str("tcp");
  app.add_option("--cafile", o.cafile,
                 "tls/wss: CA (PEM) that the server certificate must chain to, for the name given by --host "
                 "(default: the system's trust store)")
      ->check(CLI::ExistingFile);
  app.add_option("--scenario", o.kind, "pairwise | fan-in | fan-out | shared | connect-storm")
      ->transform(CLI::CheckedTransformer(scenarios, CLI::ignore_case))
      ->required();
  app.add_option("--qos", qos, "0, 1 or 2")->check(CLI::Range(0, 2))->capture_default_str();
  app.add_option("--protocol", version, "3.1.1 or 5")
      ->check(CLI::IsMember({"3.1.1", "5"}))
      ->capture_default_str();
  app.add_option("--publishers", publishers,
                 "publishers (pairwise: pairs; fan-in/shared: default 8; fan-out: always 1)");
  app.add_option("--subscribers", subscribers,
                 "subscribers (fan-out: default 8; shared: group size, default 2; others: derived)");
  app.add_option("--payload", o.payload, "payload bytes (min 20: timestamp, sequence, publisher id)")
      ->check(CLI::Range(20U, 1U << 27))
      ->capture_default_str();
  app.add_option(
         "--window", o.window,
         "QoS 0: messages not yet delivered per publisher (0 = open loop); QoS 1/2: unacked PUBLISHes")
      ->capture_default_str();
  app.add_option("--rate", o.rate, "total messages/s over all publishers, 0 = unbounded")
      ->capture_default_str();
  app.add_option("--duration", o.duration, "measured seconds")->capture_default_str();
  app.add_flag("--persistent", o.persistent,
               "subscribers with persistent sessions (clean session 0 / session expiry 300 s)");
  app.add_option("--warmup", o.warmup, "seconds before measuring")->capture_default_str();
  app.add_option("--drain", o.drain, "seconds to wait for stragglers at the end")->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (one io_context each)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--topic-prefix", o.topic_prefix, "first topic level(s)")->capture_default_str();
  app.add_option("--connections", o.connections, "connect storm: connections to open")->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "connect storm: CONNECTs in flight at once")
      ->check(CLI::Range(1U, 100000U))
      ->capture_default_str();
  app.add_option("--idle", o.idle,
                 "connect storm: seconds to keep all connections open (broker RSS per connection)")
      ->capture_default_str();
  app.add_option("--broker-pid", o.broker_pid, "read the broker's CPU and RSS from /proc/PID");
  app.add_flag("--json", o.json, "print one JSON object instead of the table");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  for (const auto& host : hosts) {
    auto colon = host.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(host.c_str() + colon + 1);
    if (port <= 0 || port > 65535) {
      std::fprintf(stderr, "--hosts: %s is not HOST:PORT\n", host.c_str());
      std::exit(2);
    }
    o.hosts.emplace_back(host.substr(0, colon), static_cast<uint16_t>(port));
  }
  o.qos_level = static_cast<net::mqtt::qos>(qos);
  o.version = version == "5" ? net::mqtt::protocol_version::v5 : net::mqtt::protocol_version::v311;
  switch (o.kind) {
    case scenario::pairwise:
      o.publishers = publishers != 0 ? publishers : 1;
      o.subscribers = o.publishers;
      break;
    case scenario::fan_in:
      o.publishers = publishers != 0 ? publishers : 8;
      o.subscribers = 1;
      break;
    case scenario::fan_out:
      o.publishers = 1;
      o.subscribers = subscribers != 0 ? subscribers : 8;
      break;
    case scenario::shared:
      o.publishers = publishers != 0 ? publishers : 8;
      o.subscribers = subscribers != 0 ? subscribers : 2;
      break;
    case scenario::connect_storm:
      o.publishers = 0;
      o.subscribers = 0;
      break;
  }
  if (o.publishers > 65535) {
    std::fprintf(stderr, "at most 65535 publishers (the payload has 16 bits for the publisher id)\n");
    std::exit(2);
  }
  if (o.qos_level != net::mqtt::qos::at_most_once && (o.window == 0 || o.window > 65535)) {
    std::fprintf(stderr, "--window must be 1..65535 for QoS 1/2 (packet ids)\n");
    std::exit(2);
  }
  return o;
}

}  // namespace mqhub::bench
