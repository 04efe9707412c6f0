#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "net/mqtt/packet.hpp"

namespace mqhub::actors {

struct delivery;

/// Encoded bytes on their way to a socket. Shared, so one buffer (e.g. a large payload) can be queued on many
/// connections without a copy.
using out_buffer = std::shared_ptr<const std::string>;

/// What a session actor may do with its network connection. Implemented in net/ by the connection; every
/// method is thread-safe and never blocks, so actors call it directly from their own threads.
class connection_sink {
 public:
  virtual ~connection_sink() = default;

  /// Queues encoded packets, in order, behind everything queued before.
  virtual void write(std::vector<out_buffer> buffers) = 0;

  /// Queues the PUBACKs and PUBRECs a shard owes the client for its PUBLISHes, once they are stored;
  /// `pubacks` of them end QoS 1 flows, which no longer count against the Receive Maximum (MQTT-3.3.4-9).
  virtual void write_publish_acks(out_buffer acks, uint32_t pubacks) = 0;

  /// Queues QoS 0 PUBLISHes a shard wrote for this subscriber. Before the session has attached they wait and
  /// follow its CONNACK: the shards learn of a resumed session's connection before its CONNACK is queued, so
  /// that no message published after the client heard it misses the connection.
  virtual void write_deliveries(std::vector<out_buffer> buffers) = 0;

  /// The session ends with this connection, so the connection may send and complete its QoS 1 deliveries
  /// itself (see subscriber_link::direct_qos1), with `window` of the client's Receive Maximum. Before any
  /// shard learns of the link; the session keeps the rest of the window and packet ids below 32768.
  virtual void open_direct_qos1(uint16_t window) = 0;

  /// Sends QoS 1 deliveries (from a shard, or from the session for the ones it routed, like retained
  /// messages), or queues them behind the window; they are moved from. Before the session has attached
  /// they follow its CONNACK, as write_deliveries.
  virtual void write_direct_qos1(std::vector<delivery>& deliveries, net::mqtt::protocol_version version,
                                 uint32_t maximum_packet_size) = 0;

  /// The session took the connection over: `first_packets` (its CONNACK, and what follows it) are queued and
  /// the connection starts feeding it packets; one wake-up of the connection's thread for both. A null
  /// `session` is a dormant one (see session_directory).
  virtual void attached(caf::actor session, std::vector<out_buffer> first_packets) = 0;

  /// Queues `last_packets` (a DISCONNECT, or nothing), writes what is queued, then closes; nothing written
  /// after this call goes out. Packets read afterwards are ignored. For the session that owns the
  /// connection: it is not told. `will`, when not null, is published by the connection once what it read
  /// before has gone to the shards: a client's will must not overtake its last messages.
  virtual void close(std::vector<out_buffer> last_packets, std::unique_ptr<net::mqtt::will_message> will) = 0;

  /// Closes as if the network had failed: the session is told and the will goes out. For others than the
  /// session, e.g. a shard that could not store a 3.1.1 client's message and has no reason code to say so.
  virtual void abort() = 0;

  /// Bytes queued and not yet written, for back-pressure on QoS 0.
  virtual size_t pending_bytes() const = 0;

  /// A shard took from its mailbox a batch of this client's PUBLISHes of `inbound_bytes` (see
  /// publish_batch): back-pressure from the shards to the client's reads.
  virtual void routed(size_t inbound_bytes) = 0;
};

using connection_sink_ptr = std::shared_ptr<connection_sink>;

}  // namespace mqhub::actors
