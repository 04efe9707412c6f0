#pragma once

#include <cstddef>
#include <cstdint>

#include "actors/queue_limits.hpp"

namespace mqhub::actors {

/// Bounds that keep one client's memory finite, from the node's configuration.
struct session_limits {
  /// QoS 1/2 PUBLISHes sent and not yet acknowledged; a client's smaller Receive Maximum wins.
  uint16_t max_inflight = 1024;
  /// What a client's queue holds while it is offline or beyond the inflight window (a persistent session's
  /// on disk, past a window in memory).
  queue_limits queue;
  /// Bytes waiting in a connection's write queue beyond which QoS 0 deliveries are dropped.
  size_t write_buffer_limit = size_t{4} * 1024 * 1024;
};

}  // namespace mqhub::actors
