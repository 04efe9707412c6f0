#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/queue_limits.hpp"
#include "actors/session_actor.hpp"
#include "actors/session_table.hpp"
#include "actors/shard_map.hpp"
#include "net/access_policy.hpp"

namespace mqhub::net {

class connection_base;

/// Protocol limits a connection enforces on its client and announces in CONNACK.
struct connection_limits {
  uint32_t max_packet_size = 268435455;
  uint16_t receive_maximum = 1024;
  uint16_t topic_alias_maximum = 64;
  uint16_t max_keepalive = 65535;
  /// Bytes queued for a client beyond which the connection stops reading from it until they drain: a
  /// client that publishes but does not read cannot grow the broker's memory.
  size_t write_buffer_limit = size_t{4} * 1024 * 1024;
  /// Bytes of a client's PUBLISHes waiting in shard mailboxes beyond which the connection stops reading from
  /// it until the shards catch up: a client that publishes faster than its shards route cannot grow the
  /// broker's memory either.
  size_t shard_backlog_limit = size_t{1024} * 1024;
  /// What a client's queue beyond its inflight window holds (as a session queues them, see
  /// actors::session_limits::queue) before the newest are dropped.
  actors::queue_limits queue;
  /// A TLS handshake or WebSocket upgrade that takes longer is dropped.
  std::chrono::seconds handshake_timeout{10};
};

/// What every connection of a node shares: the actors it talks to, the policy, the limits.
struct node_services {
  caf::actor_system* system = nullptr;
  std::shared_ptr<const actors::shard_map> shards;
  /// What the sessions a connection starts itself share (see actors::wake_dormant_session).
  std::shared_ptr<const actors::session_context> sessions;
  std::vector<caf::actor> directories;
  /// In a cluster: told of every CONNECT, so that a client has one session cluster-wide (null otherwise).
  caf::actor locator;
  std::vector<std::shared_ptr<actors::session_table>> session_tables;  // one per directory, by the same index
  std::shared_ptr<actors::broker_stats> stats;
  std::shared_ptr<access_policy> access;
  connection_limits limits;
  /// Durable modes: PUBACKs come from the shards once the messages are stored.
  bool durable = false;
  /// WebSocket upgrades are accepted from these Origin values only; empty: from any.
  std::vector<std::string> ws_origins;

  /// Live connections, for a graceful shutdown.
  std::mutex connections_mutex;
  std::unordered_set<connection_base*> connections;
  /// Set under connections_mutex by the shutdown sweep: a connection started after the sweep (its socket was
  /// accepted just before the listeners stopped) closes at once instead of living on unnoticed.
  bool closing_connections = false;

  const caf::actor& directory_of(std::string_view client_id) const {
    return directories[directory_index(client_id)];
  }
  actors::session_table& session_table_of(std::string_view client_id) const {
    return *session_tables[directory_index(client_id)];
  }
  size_t directory_index(std::string_view client_id) const;
};

}  // namespace mqhub::net
