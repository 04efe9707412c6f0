#pragma once

#include <cstdint>
#include <string>

#include "net/mqtt/packet.hpp"

namespace mqhub::net::mqtt {

/// Appends the wire form of `p` for the given protocol version to `out`. Fields a version does not have
/// (properties and reason codes in 3.1.1) are left out; a CONNACK reason code becomes the 3.1.1 return code
/// and a SUBACK error code becomes 0x80. v5 acks and DISCONNECT use their short forms when they can.
/// The packet must be valid (strings up to 65535 bytes); AUTH in 3.1.1 throws std::logic_error.
void encode(const packet& p, protocol_version version, std::string& out);

/// Appends everything of a PUBLISH up to its payload (fixed header with the length of the whole packet,
/// topic, packet id, properties), so that the payload can follow from a shared buffer without a copy.
void encode_publish_head(const publish_packet& p, size_t payload_size, protocol_version version,
                         std::string& out);

/// Appends a PUBACK, PUBREC, PUBREL or PUBCOMP without properties (the short form when the code is success):
/// the acknowledgements of the QoS 1/2 hot path, without building a packet with a properties block.
void encode_ack(packet_type type, uint16_t packet_id, reason_code code, protocol_version version,
                std::string& out);

/// The size of the encoded packet, so callers can check a client's maximum packet size before sending.
size_t encoded_size(const packet& p, protocol_version version);

}  // namespace mqhub::net::mqtt
