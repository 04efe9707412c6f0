#include "net/mqtt/decoder.hpp"

#include <algorithm>
#include <initializer_list>

#include "net/mqtt/property_codec.hpp"
#include "net/mqtt/topic.hpp"
#include "net/mqtt/wire.hpp"

namespace mqhub::net::mqtt {

namespace {

bool one_of(uint8_t code, std::initializer_list<uint8_t> allowed) {
  return std::find(allowed.begin(), allowed.end(), code) != allowed.end();
}

// Reason codes each packet may carry (spec 3.x.2.1 tables); anything else is a malformed packet.
bool valid_reason(packet_type type, uint8_t code) {
  switch (type) {
    case packet_type::connack:
      return code == 0x00 || (code >= 0x80 && code <= 0x8A) ||
             one_of(code, {0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F});
    case packet_type::puback:
    case packet_type::pubrec:
      return one_of(code, {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99});
    case packet_type::pubrel:
    case packet_type::pubcomp:
      return one_of(code, {0x00, 0x92});
    case packet_type::suback:
      return one_of(code, {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2});
    case packet_type::unsuback:
      return one_of(code, {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91});
    case packet_type::disconnect:
      return one_of(code, {0x00, 0x04}) || (code >= 0x80 && code <= 0x83) || code == 0x87 ||
             (code >= 0x89 && code <= 0xA2 && code != 0x8A && code != 0x8C && code != 0x91 && code != 0x92);
    case packet_type::auth:
      return one_of(code, {0x00, 0x18, 0x19});
    default:
      return false;
  }
}

bool read_reason(wire_reader& r, packet_type type, reason_code& code) {
  uint8_t byte = 0;
  if (!r.u8(byte)) {
    return false;
  }
  if (!valid_reason(type, byte)) {
    return r.fail(reason_code::malformed_packet, "reason code not allowed in this packet");
  }
  code = static_cast<reason_code>(byte);
  return true;
}

bool read_packet_id(wire_reader& r, uint16_t& id) {
  if (!r.u16(id)) {
    return false;
  }
  if (id == 0) {
    return r.fail(reason_code::malformed_packet, "packet identifier 0");  // MQTT-2.2.1-3 (v5 2.2.1: non-zero)
  }
  return true;
}

bool finish(wire_reader& r) {
  return r.at_end() || r.fail(reason_code::malformed_packet, "trailing bytes after the packet");
}

bool read_connack(wire_reader& r, protocol_version version, connack_packet& p) {
  uint8_t flags = 0;
  uint8_t code = 0;
  if (!r.u8(flags) || !r.u8(code)) {
    return false;
  }
  if ((flags & 0xFE) != 0) {
    return r.fail(reason_code::malformed_packet, "reserved CONNACK flags are set");  // MQTT-3.2.2-1
  }
  p.session_present = flags != 0;
  if (version == protocol_version::v311) {
    static constexpr reason_code v311_codes[] = {reason_code::success,
                                                 reason_code::unsupported_protocol_version,
                                                 reason_code::client_identifier_not_valid,
                                                 reason_code::server_unavailable,
                                                 reason_code::bad_user_name_or_password,
                                                 reason_code::not_authorized};
    if (code >= std::size(v311_codes)) {
      return r.fail(reason_code::malformed_packet, "reserved CONNACK return code");
    }
    p.code = v311_codes[code];
  } else {
    if (!valid_reason(packet_type::connack, code)) {
      return r.fail(reason_code::malformed_packet, "reason code not allowed in CONNACK");
    }
    p.code = static_cast<reason_code>(code);
    if (!decode_properties(r, property_context::connack, p.props)) {
      return false;
    }
  }
  if (p.session_present && is_error(p.code)) {
    return r.fail(reason_code::protocol_error,
                  "session present in a refusal");  // MQTT-3.2.2-4 (v311), -6 (v5)
  }
  return finish(r);
}

bool read_publish(wire_reader& r, uint8_t flags, protocol_version version, publish_packet& p) {
  p.dup = (flags & 0x08) != 0;
  p.retain = (flags & 0x01) != 0;
  const uint8_t q = (flags >> 1) & 0x03;
  if (q == 3) {
    return r.fail(reason_code::malformed_packet, "PUBLISH with QoS 3");  // MQTT-3.3.1-4
  }
  if (p.dup && q == 0) {
    return r.fail(reason_code::malformed_packet, "DUP set on a QoS 0 PUBLISH");  // MQTT-3.3.1-2
  }
  p.qos_level = static_cast<qos>(q);
  if (!r.utf8(p.topic)) {
    return false;
  }
  if (q > 0 && !read_packet_id(r, p.packet_id)) {
    return false;
  }
  if (version == protocol_version::v5 && !decode_properties(r, property_context::publish, p.props)) {
    return false;
  }
  // An empty topic is only a reference to a topic alias, which the connection resolves (spec 3.3.2.3.4).
  const bool alias_only = p.topic.empty() && p.props.topic_alias.has_value();
  if (!alias_only && !is_valid_topic_name(p.topic)) {
    return r.fail(reason_code::topic_name_invalid,
                  "PUBLISH topic is empty or has wildcards");  // MQTT-3.3.2-2
  }
  r.rest(p.payload);
  if (p.props.payload_format_indicator == 1 && !is_well_formed_utf8(p.payload)) {
    return r.fail(reason_code::payload_format_invalid, "payload is not UTF-8");  // spec 3.3.2.3.2
  }
  return true;
}

bool read_ack(wire_reader& r, packet_type type, protocol_version version, ack_packet& p) {
  p.type = type;
  if (!read_packet_id(r, p.packet_id)) {
    return false;
  }
  // v5 short forms: no reason code means success, no property length means none (spec 3.4.2.1, 3.4.2.2.1).
  if (version == protocol_version::v5 && !r.at_end()) {
    if (!read_reason(r, type, p.code)) {
      return false;
    }
    if (!r.at_end() && !decode_properties(r, property_context::ack, p.props)) {
      return false;
    }
  }
  return finish(r);
}

bool read_subscribe(wire_reader& r, protocol_version version, subscribe_packet& p) {
  const bool v5 = version == protocol_version::v5;
  if (!read_packet_id(r, p.packet_id)) {
    return false;
  }
  if (v5 && !decode_properties(r, property_context::subscribe, p.props)) {
    return false;
  }
  if (r.at_end()) {
    return r.fail(reason_code::protocol_error, "SUBSCRIBE without a topic filter");  // MQTT-3.8.3-3
  }
  while (!r.at_end()) {
    subscription s;
    uint8_t options = 0;
    if (!r.utf8(s.filter) || !r.u8(options)) {
      return false;
    }
    if ((options & (v5 ? 0xC0 : 0xFC)) != 0) {
      return r.fail(reason_code::malformed_packet,
                    "reserved subscription option bits are set");  // MQTT-3.8.3-5
    }
    if ((options & 0x03) == 3) {
      return r.fail(reason_code::malformed_packet, "subscription with QoS 3");  // MQTT-3-8.3-4 (v311)
    }
    s.max_qos = static_cast<qos>(options & 0x03);
    s.no_local = (options & 0x04) != 0;
    s.retain_as_published = (options & 0x08) != 0;
    s.retain_handling = (options >> 4) & 0x03;
    if (s.retain_handling == 3) {
      return r.fail(reason_code::protocol_error, "retain handling 3");  // a Protocol Error (3.8.3.1)
    }
    std::string_view group;
    std::string_view plain;
    if (s.no_local && split_shared_filter(s.filter, group, plain)) {
      return r.fail(reason_code::protocol_error, "no local on a shared subscription");  // MQTT-3.8.3-4 (v5)
    }
    p.subscriptions.push_back(std::move(s));
  }
  return true;
}

bool read_codes(wire_reader& r, packet_type type, std::vector<reason_code>& codes) {
  if (r.at_end()) {
    return r.fail(reason_code::protocol_error, "acknowledgement without reason codes");
  }
  while (!r.at_end()) {
    if (!read_reason(r, type, codes.emplace_back())) {
      return false;
    }
  }
  return true;
}

bool read_suback(wire_reader& r, protocol_version version, suback_packet& p) {
  if (!read_packet_id(r, p.packet_id)) {
    return false;
  }
  if (version == protocol_version::v5 && !decode_properties(r, property_context::suback, p.props)) {
    return false;
  }
  if (!read_codes(r, packet_type::suback, p.codes)) {
    return false;
  }
  if (version == protocol_version::v311) {
    const bool only_v311_codes = std::all_of(p.codes.begin(), p.codes.end(), [](reason_code c) {
      return static_cast<uint8_t>(c) <= 2 || c == reason_code::unspecified_error;
    });
    if (!only_v311_codes) {
      return r.fail(reason_code::malformed_packet, "SUBACK return code not in 3.1.1");  // spec 3.9.3
    }
  }
  return true;
}

bool read_unsubscribe(wire_reader& r, protocol_version version, unsubscribe_packet& p) {
  if (!read_packet_id(r, p.packet_id)) {
    return false;
  }
  if (version == protocol_version::v5 && !decode_properties(r, property_context::unsubscribe, p.props)) {
    return false;
  }
  if (r.at_end()) {
    return r.fail(reason_code::protocol_error, "UNSUBSCRIBE without a topic filter");  // MQTT-3.10.3-2
  }
  while (!r.at_end()) {
    if (!r.utf8(p.filters.emplace_back())) {
      return false;
    }
  }
  return true;
}

bool read_unsuback(wire_reader& r, protocol_version version, unsuback_packet& p) {
  if (!read_packet_id(r, p.packet_id)) {
    return false;
  }
  if (version == protocol_version::v311) {
    return finish(r);  // a 3.1.1 UNSUBACK has no payload
  }
  return decode_properties(r, property_context::unsuback, p.props) &&
         read_codes(r, packet_type::unsuback, p.codes);
}

bool read_disconnect(wire_reader& r, protocol_version version, disconnect_packet& p) {
  if (version == protocol_version::v5 && !r.at_end()) {
    if (!read_reason(r, packet_type::disconnect, p.code)) {
      return false;
    }
    if (!r.at_end() && !decode_properties(r, property_context::disconnect, p.props)) {
      return false;
    }
  }
  return finish(r);
}

bool read_auth(wire_reader& r, auth_packet& p) {
  if (!r.at_end()) {
    if (!read_reason(r, packet_type::auth, p.code)) {
      return false;
    }
    if (!r.at_end() && !decode_properties(r, property_context::auth, p.props)) {
      return false;
    }
  }
  return finish(r);
}

// Fixed header flags are reserved everywhere but PUBLISH (spec 2.1.3, MQTT-2.1.3-1).
uint8_t reserved_flags(packet_type type) {
  return type == packet_type::pubrel || type == packet_type::subscribe || type == packet_type::unsubscribe
             ? 0x02
             : 0x00;
}

// For a packet decoded again into the same storage: moved-from optionals stay engaged, so reset them.
void clear_properties(properties& props) {
  if (!has_no_properties(props)) {
    props = properties{};
  }
}

// Decodes straight into the variant: packets carry a large properties block, so every move counts.
template <class Packet, class Read>
result<packet> run(wire_reader& r, Read read) {
  packet p{std::in_place_type<Packet>};
  if (!read(std::get<Packet>(p))) {
    return r.error();
  }
  return p;
}

}  // namespace

std::optional<protocol_error> decode_publish(uint8_t first_byte, std::span<const uint8_t> body,
                                             protocol_version version, publish_packet& out) {
  out.topic.clear();
  out.payload.clear();
  out.packet_id = 0;
  clear_properties(out.props);
  wire_reader r(body);
  if (!read_publish(r, first_byte & 0x0F, version, out)) {
    return r.error();
  }
  return std::nullopt;
}

std::optional<protocol_error> decode_ack(uint8_t first_byte, std::span<const uint8_t> body,
                                         protocol_version version, ack_packet& out) {
  const auto type = static_cast<packet_type>(first_byte >> 4);
  wire_reader r(body);
  if ((first_byte & 0x0F) != reserved_flags(type)) {
    r.fail(reason_code::malformed_packet, "reserved fixed header flags are wrong");
    return r.error();
  }
  out.code = reason_code::success;
  clear_properties(out.props);
  if (!read_ack(r, type, version, out)) {
    return r.error();
  }
  return std::nullopt;
}

result<packet> decode_packet(uint8_t first_byte, std::span<const uint8_t> body, protocol_version version) {
  wire_reader r(body);
  const auto type = static_cast<packet_type>(first_byte >> 4);
  const uint8_t flags = first_byte & 0x0F;
  const bool v5 = version == protocol_version::v5;
  if (type == packet_type::connect) {
    r.fail(reason_code::protocol_error, "second CONNECT");  // MQTT-3.1.0-2
    return r.error();
  }
  if (type != packet_type::publish && flags != reserved_flags(type)) {
    r.fail(reason_code::malformed_packet, "reserved fixed header flags are wrong");
    return r.error();
  }
  switch (type) {
    case packet_type::connack:
      return run<connack_packet>(r, [&](connack_packet& p) { return read_connack(r, version, p); });
    case packet_type::publish:
      return run<publish_packet>(r, [&](publish_packet& p) { return read_publish(r, flags, version, p); });
    case packet_type::puback:
    case packet_type::pubrec:
    case packet_type::pubrel:
    case packet_type::pubcomp:
      return run<ack_packet>(r, [&](ack_packet& p) { return read_ack(r, type, version, p); });
    case packet_type::subscribe:
      return run<subscribe_packet>(r, [&](subscribe_packet& p) { return read_subscribe(r, version, p); });
    case packet_type::suback:
      return run<suback_packet>(r, [&](suback_packet& p) { return read_suback(r, version, p); });
    case packet_type::unsubscribe:
      return run<unsubscribe_packet>(r,
                                     [&](unsubscribe_packet& p) { return read_unsubscribe(r, version, p); });
    case packet_type::unsuback:
      return run<unsuback_packet>(r, [&](unsuback_packet& p) { return read_unsuback(r, version, p); });
    case packet_type::pingreq:
      return run<pingreq_packet>(r, [&](pingreq_packet&) { return finish(r); });
    case packet_type::pingresp:
      return run<pingresp_packet>(r, [&](pingresp_packet&) { return finish(r); });
    case packet_type::disconnect:
      return run<disconnect_packet>(r, [&](disconnect_packet& p) { return read_disconnect(r, version, p); });
    case packet_type::auth:
      if (v5) {
        return run<auth_packet>(r, [&](auth_packet& p) { return read_auth(r, p); });
      }
      break;
    default:
      break;
  }
  r.fail(reason_code::malformed_packet, "reserved packet type");  // spec 2.1.2: 0, and 15 in 3.1.1
  return r.error();
}

}  // namespace mqhub::net::mqtt
