// CONNECT is decoded apart from the other packets: it comes before the protocol version is known.
#include <string_view>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/property_codec.hpp"
#include "net/mqtt/topic.hpp"
#include "net/mqtt/wire.hpp"

namespace mqhub::net::mqtt {

namespace {

// Connect flags (spec 3.1.2.3).
constexpr uint8_t flag_reserved = 0x01;
constexpr uint8_t flag_clean_start = 0x02;
constexpr uint8_t flag_will = 0x04;
constexpr uint8_t flag_will_qos = 0x18;
constexpr uint8_t flag_will_retain = 0x20;
constexpr uint8_t flag_password = 0x40;
constexpr uint8_t flag_username = 0x80;

bool read_will(wire_reader& r, protocol_version version, uint8_t flags, will_message& will) {
  will.qos_level = static_cast<qos>((flags & flag_will_qos) >> 3);
  will.retain = (flags & flag_will_retain) != 0;
  if (version == protocol_version::v5 && !decode_properties(r, property_context::will, will.props)) {
    return false;
  }
  if (!r.utf8(will.topic) || !r.binary(will.payload)) {
    return false;
  }
  if (!is_valid_topic_name(will.topic)) {
    return r.fail(reason_code::topic_name_invalid, "will topic is not a valid topic name");
  }
  if (will.props.payload_format_indicator == 1 && !is_well_formed_utf8(will.payload)) {
    return r.fail(reason_code::payload_format_invalid, "will payload is not UTF-8");  // spec 3.1.3.4
  }
  return true;
}

bool read_connect(wire_reader& r, connect_packet& p) {
  std::string name;
  uint8_t level = 0;
  uint8_t flags = 0;
  if (!r.binary(name) || !r.u8(level)) {
    return false;
  }
  if (name != "MQTT" || (level != 4 && level != 5)) {
    return r.fail(reason_code::unsupported_protocol_version, "protocol is neither MQTT 3.1.1 nor MQTT 5");
  }
  p.version = static_cast<protocol_version>(level);
  const bool v5 = p.version == protocol_version::v5;
  if (!r.u8(flags) || !r.u16(p.keep_alive)) {
    return false;
  }
  if ((flags & flag_reserved) != 0) {
    return r.fail(reason_code::malformed_packet, "reserved connect flag is set");  // MQTT-3.1.2-3
  }
  if ((flags & flag_will_qos) == flag_will_qos) {
    return r.fail(reason_code::malformed_packet, "will QoS 3");  // MQTT-3.1.2-14 (v311), -12 (v5)
  }
  if ((flags & flag_will) == 0 && (flags & (flag_will_qos | flag_will_retain)) != 0) {
    return r.fail(reason_code::malformed_packet,
                  "will QoS or retain without will flag");  // MQTT-3.1.2-11, -13
  }
  if (!v5 && (flags & flag_password) != 0 && (flags & flag_username) == 0) {
    return r.fail(reason_code::malformed_packet, "password without user name");  // MQTT-3.1.2-22 (v311)
  }
  p.clean_start = (flags & flag_clean_start) != 0;
  if (v5 && !decode_properties(r, property_context::connect, p.props)) {
    return false;
  }
  if (!r.utf8(p.client_id)) {
    return false;
  }
  if ((flags & flag_will) != 0 && !read_will(r, p.version, flags, p.will.emplace())) {
    return false;
  }
  if ((flags & flag_username) != 0 && !r.utf8(p.username.emplace())) {
    return false;
  }
  if ((flags & flag_password) != 0 && !r.binary(p.password.emplace())) {
    return false;
  }
  if (!r.at_end()) {
    return r.fail(reason_code::malformed_packet, "trailing bytes after CONNECT payload");
  }
  return true;
}

}  // namespace

result<connect_packet> decode_connect(uint8_t first_byte, std::span<const uint8_t> body) {
  wire_reader r(body);
  if (first_byte != 0x10) {
    r.fail(first_byte >> 4 == 1 ? reason_code::malformed_packet : reason_code::protocol_error,
           first_byte >> 4 == 1 ? "reserved CONNECT flags are set" : "first packet is not CONNECT");
    return r.error();
  }
  connect_packet p;
  if (!read_connect(r, p)) {
    return r.error();
  }
  return p;
}

std::optional<protocol_version> peek_connect_version(std::span<const uint8_t> body) {
  if (body.size() < 2) {
    return std::nullopt;
  }
  const size_t name_length = (size_t{body[0]} << 8) | body[1];
  if (body.size() < 2 + name_length + 1) {
    return std::nullopt;
  }
  const uint8_t level = body[2 + name_length];
  return level == 5 ? protocol_version::v5 : protocol_version::v311;
}

}  // namespace mqhub::net::mqtt
