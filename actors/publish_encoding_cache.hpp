#pragma once

#include <array>
#include <cstdint>

#include "actors/connection_sink.hpp"
#include "actors/message.hpp"
#include "net/mqtt/packet.hpp"

namespace mqhub::actors {

/// The encodings of one message, one per layout (protocol version, QoS, RETAIN), made on first use: a
/// message going to many subscribers is encoded once per layout, not once per subscriber. QoS 1/2 layouts
/// carry packet id 0 and DUP 0, which the session patches into its copy (see `patch_publish`).
class publish_encoding_cache {
 public:
  /// Starts over for `msg`.
  void reset(const message_ptr& msg);

  const out_buffer& get(net::mqtt::protocol_version version, uint8_t qos, bool retain);

 private:
  message_ptr msg_;
  std::array<out_buffer, size_t{2} * 3 * 2> encodings_;  // version × QoS × retain
};

/// Sets packet id and DUP in a copy of an encoded PUBLISH (QoS 1/2) appended at `out[start]`.
void patch_publish(std::string& out, size_t start, uint16_t packet_id, bool dup);

}  // namespace mqhub::actors
