#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "actors/messages.hpp"
#include "actors/packet_writer.hpp"
#include "actors/queue_drop_report.hpp"
#include "actors/queue_limits.hpp"
#include "actors/shared_client_id.hpp"
#include "net/mqtt/packet.hpp"

namespace mqhub::net {

/// The QoS 1 deliveries a connection sends and completes itself (see actors::subscriber_link::direct_qos1):
/// packet ids from first_packet_id on, its share of the client's Receive Maximum, and the queue behind it.
/// Nothing here outlives the connection: it serves sessions that end with it. Not thread-safe: the
/// connection holds its write lock.
class direct_qos1_flow {
 public:
  /// Ids below this are the session's (QoS 2, retained messages on subscribe).
  static constexpr uint16_t first_packet_id = 32768;
  static constexpr uint16_t max_window = 65535 - first_packet_id + 1;

  struct counts {
    uint64_t sent = 0;
    uint64_t dropped = 0;  // too large for the client (MQTT-3.1.2-25) or beyond the queue limit
  };

  /// `limits` must outlive the flow.
  direct_qos1_flow(actors::shared_client_id client_id, uint16_t window, const actors::queue_limits& limits,
                   mqtt::protocol_version version, uint32_t maximum_packet_size);

  /// Encodes into `out` what the window takes, in order, and queues the rest; an expired message is
  /// dropped unsent (MQTT-3.3.2-5), and so is one the full queue has no room for (logged, as a session's).
  counts offer(std::vector<actors::delivery>& deliveries, actors::clock::time_point now,
               actors::packet_writer& out);

  /// A PUBACK: frees its packet id, then sends from the queue into `out` what the window takes. False for
  /// an id this flow did not send.
  bool complete(uint16_t packet_id, actors::clock::time_point now, actors::packet_writer& out, counts& done);

  size_t inflight() const { return inflight_.size(); }
  /// Packet ids in flight, in send order (for tests).
  std::vector<uint16_t> inflight_ids() const;
  size_t queued() const { return queue_.size(); }

 private:
  void send(const actors::delivery& item, actors::clock::time_point now, actors::packet_writer& out,
            counts& done);
  /// The next id after the last one sent that is not in flight; advances ids_taken_ past it.
  uint16_t take_packet_id();

  struct sent {
    uint16_t packet_id;
    uint64_t taken_at;  // ids_taken_ when its id was taken: after max_window more, the id comes round again
  };
  std::deque<sent> inflight_;  // in send order: PUBACKs mostly come in it
  uint64_t ids_taken_ = 0;
  std::deque<actors::delivery> queue_;
  uint64_t queued_bytes_ = 0;
  const actors::queue_limits* limits_;
  actors::shared_client_id client_id_;  // for the log
  actors::queue_drop_report queue_drops_;
  uint32_t maximum_packet_size_;
  uint16_t window_;
  uint16_t last_packet_id_ = 65535;  // the first one taken is first_packet_id
  mqtt::protocol_version version_;
};

}  // namespace mqhub::net
