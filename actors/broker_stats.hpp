#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace mqhub::actors {

/// Node-wide counters for `$SYS` and metrics. Writers add per batch, never per message, to keep the
/// shared cache lines cold on the hot path.
struct broker_stats {
  std::atomic<int64_t> clients_connected{0};
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> messages_dropped{0};
  std::atomic<int64_t> subscriptions{0};
  std::atomic<int64_t> retained_messages{0};
  // The cluster (0 on a single node): members, global shards this node owns, and messages it forwarded to
  // other nodes (publishes to their owners and deliveries for their subscribers).
  std::atomic<int64_t> cluster_nodes{0};
  std::atomic<int64_t> cluster_shards_owned{0};
  std::atomic<uint64_t> messages_forwarded{0};
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
};

}  // namespace mqhub::actors
