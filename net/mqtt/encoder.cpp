#include "net/mqtt/encoder.hpp"

#include <stdexcept>

#include "net/mqtt/property_codec.hpp"
#include "net/mqtt/wire.hpp"

namespace mqhub::net::mqtt {

namespace {

uint8_t byte_of(reason_code code) {
  return static_cast<uint8_t>(code);
}

uint8_t type_nibble(packet_type type) {
  return static_cast<uint8_t>(static_cast<uint8_t>(type) << 4);
}

// Each packet is written twice with the same code: once to count its body, once for real.
struct body_writer {
  protocol_version version;
  wire_writer& w;

  bool v5() const { return version == protocol_version::v5; }

  uint8_t operator()(const connect_packet& p) const {
    w.string("MQTT");
    w.u8(static_cast<uint8_t>(version));
    uint8_t flags = p.clean_start ? 0x02 : 0x00;
    if (p.will) {
      flags |= 0x04 | static_cast<uint8_t>(static_cast<uint8_t>(p.will->qos_level) << 3) |
               (p.will->retain ? 0x20 : 0x00);
    }
    flags |= p.password ? 0x40 : 0x00;
    flags |= p.username ? 0x80 : 0x00;
    w.u8(flags);
    w.u16(p.keep_alive);
    if (v5()) {
      encode_properties(p.props, w);
    }
    w.string(p.client_id);
    if (p.will) {
      if (v5()) {
        encode_properties(p.will->props, w);
      }
      w.string(p.will->topic);
      w.string(p.will->payload);
    }
    if (p.username) {
      w.string(*p.username);
    }
    if (p.password) {
      w.string(*p.password);
    }
    return type_nibble(packet_type::connect);
  }

  uint8_t operator()(const connack_packet& p) const {
    // A refusal never reports a session (MQTT-3.2.2-4 in 3.1.1, MQTT-3.2.2-6 in 5).
    w.u8(p.session_present && !is_error(p.code) ? 0x01 : 0x00);
    if (v5()) {
      w.u8(byte_of(p.code));
      encode_properties(p.props, w);
    } else {
      w.u8(to_v311_connack_code(p.code));
    }
    return type_nibble(packet_type::connack);
  }

  uint8_t operator()(const publish_packet& p) const {
    write_publish_head(p);
    w.raw(p.payload);
    return publish_first_byte(p);
  }

  void write_publish_head(const publish_packet& p) const {
    w.string(p.topic);
    if (p.qos_level != qos::at_most_once) {
      w.u16(p.packet_id);
    }
    if (v5()) {
      encode_properties(p.props, w);
    }
  }

  static uint8_t publish_first_byte(const publish_packet& p) {
    return type_nibble(packet_type::publish) | (p.dup ? 0x08 : 0x00) |
           static_cast<uint8_t>(static_cast<uint8_t>(p.qos_level) << 1) | (p.retain ? 0x01 : 0x00);
  }

  uint8_t operator()(const ack_packet& p) const {
    w.u16(p.packet_id);
    // Short forms (spec 3.4.2.1): the reason code only when it is not success, the properties only if any.
    const bool no_props = has_no_properties(p.props);
    if (v5() && (p.code != reason_code::success || !no_props)) {
      w.u8(byte_of(p.code));
      if (!no_props) {
        encode_properties(p.props, w);
      }
    }
    return type_nibble(p.type) | (p.type == packet_type::pubrel ? 0x02 : 0x00);
  }

  uint8_t operator()(const subscribe_packet& p) const {
    w.u16(p.packet_id);
    if (v5()) {
      encode_properties(p.props, w);
    }
    for (const subscription& s : p.subscriptions) {
      w.string(s.filter);
      auto options = static_cast<uint8_t>(s.max_qos);
      if (v5()) {
        options |= (s.no_local ? 0x04 : 0x00) | (s.retain_as_published ? 0x08 : 0x00) |
                   static_cast<uint8_t>((s.retain_handling & 0x03) << 4);
      }
      w.u8(options);
    }
    return type_nibble(packet_type::subscribe) | 0x02;
  }

  uint8_t operator()(const suback_packet& p) const {
    w.u16(p.packet_id);
    if (v5()) {
      encode_properties(p.props, w);
    }
    for (reason_code code : p.codes) {
      // 3.1.1 knows only the granted QoS and 0x80 Failure (spec 3.9.3).
      w.u8(v5() || !is_error(code) ? byte_of(code) : 0x80);
    }
    return type_nibble(packet_type::suback);
  }

  uint8_t operator()(const unsubscribe_packet& p) const {
    w.u16(p.packet_id);
    if (v5()) {
      encode_properties(p.props, w);
    }
    for (const std::string& filter : p.filters) {
      w.string(filter);
    }
    return type_nibble(packet_type::unsubscribe) | 0x02;
  }

  uint8_t operator()(const unsuback_packet& p) const {
    w.u16(p.packet_id);
    if (v5()) {
      encode_properties(p.props, w);
      for (reason_code code : p.codes) {
        w.u8(byte_of(code));
      }
    }
    return type_nibble(packet_type::unsuback);
  }

  uint8_t operator()(const pingreq_packet&) const { return type_nibble(packet_type::pingreq); }

  uint8_t operator()(const pingresp_packet&) const { return type_nibble(packet_type::pingresp); }

  uint8_t operator()(const disconnect_packet& p) const {
    const bool no_props = has_no_properties(p.props);
    if (v5() && (p.code != reason_code::normal_disconnection || !no_props)) {
      w.u8(byte_of(p.code));
      if (!no_props) {
        encode_properties(p.props, w);
      }
    }
    return type_nibble(packet_type::disconnect);
  }

  uint8_t operator()(const auth_packet& p) const {
    if (!v5()) {
      throw std::logic_error("AUTH does not exist in MQTT 3.1.1");
    }
    // Only the fully short form is defined for AUTH (spec 3.15.2.1): otherwise code and property length.
    if (p.code != reason_code::success || !has_no_properties(p.props)) {
      w.u8(byte_of(p.code));
      encode_properties(p.props, w);
    }
    return type_nibble(packet_type::auth);
  }
};

size_t body_size(const packet& p, protocol_version version) {
  wire_writer counter(nullptr);
  std::visit(body_writer{version, counter}, p);
  return counter.size();
}

}  // namespace

void encode(const packet& p, protocol_version version, std::string& out) {
  const size_t size = body_size(p, version);
  wire_writer w(&out);
  // The first byte is known only after a visit; write a placeholder and patch it in.
  const size_t first = out.size();
  w.u8(0);
  w.variable_byte_integer(static_cast<uint32_t>(size));
  out.reserve(out.size() + size);
  out[first] = static_cast<char>(std::visit(body_writer{version, w}, p));
}

void encode_publish_head(const publish_packet& p, size_t payload_size, protocol_version version,
                         std::string& out) {
  wire_writer counter(nullptr);
  body_writer{version, counter}.write_publish_head(p);
  wire_writer w(&out);
  w.u8(body_writer::publish_first_byte(p));
  w.variable_byte_integer(static_cast<uint32_t>(counter.size() + payload_size));
  body_writer{version, w}.write_publish_head(p);
}

void encode_ack(packet_type type, uint16_t packet_id, reason_code code, protocol_version version,
                std::string& out) {
  const bool with_code = version == protocol_version::v5 && code != reason_code::success;
  wire_writer w(&out);
  w.u8(static_cast<uint8_t>(type_nibble(type) | (type == packet_type::pubrel ? 0x02 : 0x00)));
  w.u8(with_code ? 3 : 2);
  w.u16(packet_id);
  if (with_code) {
    w.u8(byte_of(code));
  }
}

size_t encoded_size(const packet& p, protocol_version version) {
  const size_t size = body_size(p, version);
  return 1 + variable_byte_integer_size(static_cast<uint32_t>(size)) + size;
}

}  // namespace mqhub::net::mqtt
