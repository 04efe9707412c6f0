#pragma once

#include <cstdint>

#include "net/mqtt/packet.hpp"
#include "net/mqtt/wire.hpp"

namespace mqhub::net::mqtt {

/// Where a property block sits: decides which identifiers may appear (spec 2.2.2.2, table of properties).
enum class property_context : uint8_t {
  connect,
  will,
  connack,
  publish,
  ack,  // PUBACK, PUBREC, PUBREL, PUBCOMP
  subscribe,
  suback,
  unsubscribe,
  unsuback,
  disconnect,
  auth,
};

/// Reads a property length and the properties after it. Unknown identifiers are malformed_packet; an
/// identifier the context does not allow, a repeated single-valued property, or a value the spec forbids
/// (receive maximum 0, a flag byte other than 0/1, ...) is protocol_error.
bool decode_properties(wire_reader& reader, property_context context, properties& props);

/// Writes the property length and every property that is set, in identifier order.
void encode_properties(const properties& props, wire_writer& writer);

/// Whether no property is set, so that acks and DISCONNECT may use their short forms.
bool has_no_properties(const properties& props);

}  // namespace mqhub::net::mqtt
