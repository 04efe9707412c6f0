#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/mqtt/frame.hpp"
#include "net/mqtt/packet.hpp"
#include "net/mqtt/result.hpp"

namespace mqhub::net::mqtt {

/// Decodes a CONNECT: the first packet of a connection, which also decides the protocol version.
/// `body` is the remaining_length bytes after the fixed header. Errors:
/// unsupported_protocol_version (0x84) for a protocol name/level that is not 3.1.1 or 5,
/// client_identifier_not_valid (0x85) is *not* decided here (that is broker policy), malformed_packet (0x81)
/// and protocol_error (0x82) as the spec says.
result<connect_packet> decode_connect(uint8_t first_byte, std::span<const uint8_t> body);

/// The version in which to answer a CONNECT body, also one that decode_connect refused: v5 when the protocol
/// level byte is 5, v311 for any other level (a 3.1.1 CONNACK with return code 1 is what 3.1 and unknown
/// clients can read, spec 3.1.2.2), nullopt when the body ends before the level byte (close without CONNACK).
/// It looks only at the protocol name length and the level, so it works on any body.
std::optional<protocol_version> peek_connect_version(std::span<const uint8_t> body);

/// Decodes any packet that may follow CONNECT, for a connection of the given version. Validates everything
/// the spec lets a receiver check without session state: reserved flag bits, QoS 3, packet id 0, UTF-8
/// (well-formed, no U+0000, no surrogates), wildcards in PUBLISH topics, topic filter syntax, property
/// identifiers allowed per packet type, duplicate properties, lengths that overrun the body.
/// Topic filter *syntax* in SUBSCRIBE/UNSUBSCRIBE is not an error here: the broker answers each bad filter
/// with 0x8F in SUBACK/UNSUBACK, so such packets decode and the caller checks is_valid_topic_filter per
/// filter. In v5 a PUBLISH may have an empty topic only with a topic alias (resolving it is the connection's
/// job). A CONNECT here is a protocol_error (second CONNECT, MQTT-3.1.0-2).
result<packet> decode_packet(uint8_t first_byte, std::span<const uint8_t> body, protocol_version version);

/// Decodes a PUBLISH (as decode_packet would) into `out`, reusing its storage: this is the hot path of a
/// connection, and building a packet variant with its properties block for each one is too slow for it.
/// Returns the error that refused it, or nullopt.
std::optional<protocol_error> decode_publish(uint8_t first_byte, std::span<const uint8_t> body,
                                             protocol_version version, publish_packet& out);

/// The same for PUBACK, PUBREC, PUBREL and PUBCOMP (`first_byte` names one of them): every QoS 1/2 message
/// brings one or two, and none should cost a packet variant.
std::optional<protocol_error> decode_ack(uint8_t first_byte, std::span<const uint8_t> body,
                                         protocol_version version, ack_packet& out);

}  // namespace mqhub::net::mqtt
