#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "net/mqtt/packet.hpp"

namespace mqhub::bench {

/// What the load generator needs of a delivered PUBLISH: its QoS, packet id and payload, read in place. The
/// broker's decoder copies the topic and payload and validates the topic's UTF-8 and the properties: CPU the
/// load generator would take from the broker it measures when both share a machine.
struct publish_view {
  net::mqtt::qos qos_level = net::mqtt::qos::at_most_once;
  uint16_t packet_id = 0;
  std::string_view payload;  // into the connection's read buffer: valid during the handler's call
};

/// The view of a PUBLISH body (`first_byte` is the fixed header's), or nullopt when its lengths do not add
/// up, its QoS is 3, or a QoS 1/2 packet id is 0.
std::optional<publish_view> view_publish(uint8_t first_byte, std::span<const uint8_t> body,
                                         net::mqtt::protocol_version version);

}  // namespace mqhub::bench
