#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "actors/connection_sink.hpp"
#include "actors/message.hpp"
#include "actors/messages.hpp"
#include "net/mqtt/packet.hpp"

namespace mqhub::actors {

/// Collects the encoded packets of one batch for one connection: small packets are encoded back to back
/// into one buffer; a large payload is shared from its message instead of copied.
class packet_writer {
 public:
  /// Payloads from this size on are queued as a shared buffer rather than copied.
  static constexpr size_t shared_payload_threshold = 1024;

  void append(const net::mqtt::packet& p, net::mqtt::protocol_version version);
  /// A PUBACK, PUBREC, PUBREL or PUBCOMP without properties.
  void append_ack(net::mqtt::packet_type type, uint16_t packet_id, net::mqtt::reason_code code,
                  net::mqtt::protocol_version version);

  /// `head` is everything of the PUBLISH but the payload, which comes from `msg`.
  void append_publish(const net::mqtt::publish_packet& head, const message_ptr& msg,
                      net::mqtt::protocol_version version);

  /// A PUBLISH the shard encoded once for many subscribers: shared as it is when large and QoS 0, copied
  /// when small (cheaper than sharing across threads), with packet id and DUP patched in for QoS 1/2.
  void append_encoded(const delivery& item, uint16_t packet_id, bool dup);

  /// A PUBLISH of `item` with its subscriber's parts (subscription identifiers, the expiry time left), as
  /// the shard encoded it when it could. False, and nothing appended, when it exceeds the client's Maximum
  /// Packet Size (0: none); the caller discards it as if delivered (MQTT-3.1.2-25).
  bool append_delivery(const delivery& item, net::mqtt::protocol_version version,
                       uint32_t maximum_packet_size, uint16_t packet_id, bool dup, clock::time_point now);

  bool empty() const { return current_.empty() && buffers_.empty(); }

  /// Hands the batch to the sink (if any) and starts a new one.
  void flush_to(connection_sink* sink);
  /// The encoded batch, and a new one started.
  std::vector<out_buffer> take_buffers();

 private:
  void seal_current();

  std::string current_;
  std::vector<out_buffer> buffers_;
};

}  // namespace mqhub::actors
