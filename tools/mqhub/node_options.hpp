#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/session_limits.hpp"
#include "net/node_services.hpp"

namespace mqhub::node {

/// Everything a node is configured with (README, "Configuration reference").
struct node_options {
  std::string data_dir = "./mqhub-data";
  std::string bind = "127.0.0.1";
  uint16_t mqtt_port = 1883;
  uint16_t mqtts_port = 8883;
  uint16_t ws_port = 8083;
  uint16_t wss_port = 8084;
  uint16_t http_port = 18083;
  uint16_t cluster_port = 4370;
  std::vector<std::string> join;
  std::string node_name;
  // Cluster links use mutual TLS with certificates the cluster CA signed (docs/architecture.md, "Cluster").
  std::string cluster_advertise;
  std::string cluster_ca;
  std::string cluster_cert;
  std::string cluster_key;
  std::string durability = "sync";
  uint64_t max_store_bytes = 0;  // 0: no limit
  bool allow_anonymous = true;
  std::string log_level = "info";
  // TLS (mqtts, wss): without a certificate the node makes and uses the hub CA's in DATA_DIR/tls.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::vector<std::string> tls_hosts;  // extra names of the server certificate the node makes
  uint32_t tls_handshake_timeout = 10;
  std::vector<std::string> ws_origins;
  size_t io_threads = 0;     // 0: one per core
  size_t actor_threads = 0;  // 0: CAF's default, the number of cores but at least 4
  size_t shards = 0;         // 0: two per core
  size_t shard_levels = 2;
  uint32_t sys_interval = 10;
  net::connection_limits limits;
  actors::session_limits session;
};

/// Parses the command line (and the TOML file named by --config). Returns the exit code to stop with when
/// the options say so (--help, or an error already printed), or -1 to go on.
int parse_options(int argc, char** argv, node_options& options);

}  // namespace mqhub::node
