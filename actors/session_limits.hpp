#pragma once

#include <cstddef>
#include <cstdint>

namespace mqhub::actors {

/// Bounds that keep one client's memory finite, from the node's configuration.
struct session_limits {
  /// QoS 1/2 PUBLISHes sent and not yet acknowledged; a client's smaller Receive Maximum wins.
  uint16_t max_inflight = 1024;
  /// Our Receive Maximum: the client's QoS 2 PUBLISHes not yet released (from --receive-maximum).
  uint16_t receive_maximum = 1024;
  /// Messages queued while offline or beyond the inflight window.
  size_t queue_limit = 1000;
  /// Bytes waiting in a connection's write queue beyond which QoS 0 deliveries are dropped.
  size_t write_buffer_limit = size_t{4} * 1024 * 1024;
};

}  // namespace mqhub::actors
