#include "tools/mqhub/node_options.hpp"

#include <thread>

#include <CLI/CLI.hpp>

namespace mqhub::node {

int parse_options(int argc, char** argv, node_options& o) {
  CLI::App app{"mqhub: an MQTT 3.1.1 and 5.0 broker node"};
  app.set_config("--config", "", "TOML file with any of the options below (flags override it)");
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key must not be ignored silently
  app.add_option("--data-dir", o.data_dir, "where the node keeps its data")->capture_default_str();
  app.add_option("--bind", o.bind, "address every listener binds to")->capture_default_str();
  app.add_option("--mqtt-port", o.mqtt_port, "MQTT over TCP; 0 turns it off")->capture_default_str();
  app.add_option("--mqtts-port", o.mqtts_port, "MQTT over TLS; 0 turns it off")->capture_default_str();
  app.add_option("--ws-port", o.ws_port, "MQTT over WebSocket; 0 turns it off")->capture_default_str();
  app.add_option("--wss-port", o.wss_port, "MQTT over secure WebSocket; 0 turns it off")
      ->capture_default_str();
  app.add_option("--http-port", o.http_port, "management API; 0 turns it off")->capture_default_str();
  app.add_option("--cluster-port", o.cluster_port, "cluster port; 0 turns it off")->capture_default_str();
  app.add_option("--join", o.join, "HOST:PORT of a cluster node to join (repeatable)");
  app.add_option(
      "--node-name", o.node_name,
      "name of this node in a cluster (default: the one its data dir records, else the host name)");
  app.add_option("--cluster-advertise", o.cluster_advertise,
                 "HOST the other nodes reach this one at (default: the --bind address)");
  app.add_option("--cluster-ca", o.cluster_ca,
                 "CA that signs every node's certificate (default: the hub CA)");
  app.add_option(
      "--cluster-cert", o.cluster_cert,
      "this node's certificate for cluster links (default: DATA_DIR/tls/node.pem, made by the hub CA)");
  app.add_option("--cluster-key", o.cluster_key, "private key of --cluster-cert");
  app.add_option("--durability", o.durability, "sync, wal or memory")
      ->check(CLI::IsMember({"sync", "wal", "memory"}))
      ->capture_default_str();
  app.add_option("--max-store-bytes", o.max_store_bytes,
                 "size of the database beyond which new messages are refused (0: no limit)")
      ->capture_default_str();
  app.add_option("--tls-cert", o.tls_cert, "server certificate chain, PEM (default: made by the hub CA)");
  app.add_option("--tls-key", o.tls_key, "server private key, PEM (with --tls-cert)");
  app.add_option("--tls-ca", o.tls_ca,
                 "CA that client certificates are verified against (default: the hub CA)");
  app.add_option("--tls-host", o.tls_hosts,
                 "extra name of the server certificate the node makes (repeatable)");
  app.add_option("--tls-handshake-timeout", o.tls_handshake_timeout,
                 "seconds a TLS handshake or WebSocket upgrade may take")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--ws-origins", o.ws_origins,
                 "allowed Origin of WebSocket upgrades (repeatable; default: any)");
  app.add_flag("--allow-anonymous,!--deny-anonymous", o.allow_anonymous,
               "accept clients without credentials (until the device registry exists)")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--io-threads", o.io_threads, "network I/O threads (default: one per core)");
  app.add_option("--actor-threads", o.actor_threads,
                 "threads running shards and sessions (default: one per core, at least 4)");
  app.add_option("--shards", o.shards, "topic shards of this node (default: two per core)");
  app.add_option("--shard-levels", o.shard_levels, "topic levels hashed to choose a shard")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  app.add_option("--max-packet-size", o.limits.max_packet_size, "largest packet accepted from a client")
      ->check(CLI::Range(16u, 268435455u))
      ->capture_default_str();
  app.add_option("--receive-maximum", o.limits.receive_maximum,
                 "QoS 1/2 PUBLISHes a client may have unacknowledged towards the broker")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--topic-alias-maximum", o.limits.topic_alias_maximum, "topic aliases a client may use")
      ->capture_default_str();
  app.add_option("--max-keepalive", o.limits.max_keepalive, "keep alive a client gets at most, in seconds")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--max-inflight", o.session.max_inflight, "QoS 1/2 PUBLISHes sent before waiting for acks")
      ->check(CLI::Range(1, 65534))
      ->capture_default_str();
  app.add_option("--session-queue-bytes", o.session.queue.max_bytes,
                 "bytes of messages queued per session (a persistent session's on disk); 0: no limit")
      ->capture_default_str();
  app.add_option("--session-queue-limit", o.session.queue.max_messages,
                 "messages queued per session; 0: no limit but the bytes")
      ->check(CLI::Range(0, 100000000))
      ->capture_default_str();
  app.add_option("--write-buffer-limit", o.session.write_buffer_limit,
                 "bytes waiting for one client beyond which QoS 0 is dropped")
      ->capture_default_str();
  app.add_option("--sys-interval", o.sys_interval, "seconds between $SYS updates; 0 turns them off")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto cores = std::max<size_t>(1, std::thread::hardware_concurrency());
  if (o.io_threads == 0)
    o.io_threads = cores;
  if (o.shards == 0)
    o.shards = 2 * cores;
  return -1;
}

}  // namespace mqhub::node
