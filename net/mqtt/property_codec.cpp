#include "net/mqtt/property_codec.hpp"

#include "net/mqtt/topic.hpp"

namespace mqhub::net::mqtt {

namespace {

// Property identifiers (spec 2.2.2.2).
enum : uint8_t {
  id_payload_format_indicator = 0x01,
  id_message_expiry_interval = 0x02,
  id_content_type = 0x03,
  id_response_topic = 0x08,
  id_correlation_data = 0x09,
  id_subscription_identifier = 0x0B,
  id_session_expiry_interval = 0x11,
  id_assigned_client_identifier = 0x12,
  id_server_keep_alive = 0x13,
  id_authentication_method = 0x15,
  id_authentication_data = 0x16,
  id_request_problem_information = 0x17,
  id_will_delay_interval = 0x18,
  id_request_response_information = 0x19,
  id_response_information = 0x1A,
  id_server_reference = 0x1C,
  id_reason_string = 0x1F,
  id_receive_maximum = 0x21,
  id_topic_alias_maximum = 0x22,
  id_topic_alias = 0x23,
  id_maximum_qos = 0x24,
  id_retain_available = 0x25,
  id_user_property = 0x26,
  id_maximum_packet_size = 0x27,
  id_wildcard_subscription_available = 0x28,
  id_subscription_identifier_available = 0x29,
  id_shared_subscription_available = 0x2A,
};

constexpr uint64_t bit(uint8_t id) {
  return uint64_t{1} << id;
}

// The identifiers each packet may carry; everything also allows user properties.
constexpr uint64_t allowed_in(property_context context) {
  constexpr uint64_t message = bit(id_payload_format_indicator) | bit(id_message_expiry_interval) |
                               bit(id_content_type) | bit(id_response_topic) | bit(id_correlation_data);
  constexpr uint64_t common = bit(id_user_property);
  constexpr uint64_t reason = common | bit(id_reason_string);
  constexpr uint64_t auth = bit(id_authentication_method) | bit(id_authentication_data);
  switch (context) {
    case property_context::connect:
      return common | auth | bit(id_session_expiry_interval) | bit(id_request_problem_information) |
             bit(id_request_response_information) | bit(id_receive_maximum) | bit(id_topic_alias_maximum) |
             bit(id_maximum_packet_size);
    case property_context::will:
      return common | message | bit(id_will_delay_interval);
    case property_context::connack:
      return reason | auth | bit(id_session_expiry_interval) | bit(id_assigned_client_identifier) |
             bit(id_server_keep_alive) | bit(id_response_information) | bit(id_server_reference) |
             bit(id_receive_maximum) | bit(id_topic_alias_maximum) | bit(id_maximum_qos) |
             bit(id_retain_available) | bit(id_maximum_packet_size) |
             bit(id_wildcard_subscription_available) | bit(id_subscription_identifier_available) |
             bit(id_shared_subscription_available);
    case property_context::publish:
      return common | message | bit(id_subscription_identifier) | bit(id_topic_alias);
    case property_context::subscribe:
      return common | bit(id_subscription_identifier);
    case property_context::unsubscribe:
      return common;
    case property_context::ack:
    case property_context::suback:
    case property_context::unsuback:
      return reason;
    case property_context::disconnect:
      return reason | bit(id_session_expiry_interval) | bit(id_server_reference);
    case property_context::auth:
      return reason | auth;
  }
  return common;
}

constexpr uint64_t known_ids = allowed_in(property_context::connect) | allowed_in(property_context::will) |
                               allowed_in(property_context::connack) | allowed_in(property_context::publish) |
                               allowed_in(property_context::disconnect) | allowed_in(property_context::auth);

// Properties that may repeat: user properties anywhere, subscription identifiers in a PUBLISH only
// (one per matching subscription; twice in a SUBSCRIBE is a protocol error, spec 3.8.2.1.2).
bool may_repeat(uint8_t id, property_context context) {
  return id == id_user_property || (id == id_subscription_identifier && context == property_context::publish);
}

bool read_flag(wire_reader& r, std::optional<uint8_t>& field) {
  uint8_t value = 0;
  if (!r.u8(value)) {
    return false;
  }
  if (value > 1) {
    return r.fail(reason_code::protocol_error, "property value must be 0 or 1");
  }
  field = value;
  return true;
}

template <class T, class Read>
bool read_into(std::optional<T>& field, Read read) {
  T value{};
  if (!read(value)) {
    return false;
  }
  field = std::move(value);
  return true;
}

bool read_property(wire_reader& r, uint8_t id, properties& p) {
  auto u16 = [&r](uint16_t& v) { return r.u16(v); };
  auto u32 = [&r](uint32_t& v) { return r.u32(v); };
  auto utf8 = [&r](std::string& v) { return r.utf8(v); };
  auto binary = [&r](std::string& v) { return r.binary(v); };
  switch (id) {
    case id_payload_format_indicator:
      return read_flag(r, p.payload_format_indicator);
    case id_message_expiry_interval:
      return read_into(p.message_expiry_interval, u32);
    case id_content_type:
      return read_into(p.content_type, utf8);
    case id_response_topic:
      if (!read_into(p.response_topic, utf8)) {
        return false;
      }
      if (!is_valid_topic_name(*p.response_topic)) {
        return r.fail(reason_code::protocol_error,
                      "response topic is not a valid topic name");  // MQTT-3.3.2-14
      }
      return true;
    case id_correlation_data:
      return read_into(p.correlation_data, binary);
    case id_subscription_identifier: {
      uint32_t value = 0;
      if (!r.variable_byte_integer(value)) {
        return false;
      }
      if (value == 0) {
        return r.fail(reason_code::protocol_error, "subscription identifier 0");
      }
      p.subscription_identifiers.push_back(value);
      return true;
    }
    case id_session_expiry_interval:
      return read_into(p.session_expiry_interval, u32);
    case id_assigned_client_identifier:
      return read_into(p.assigned_client_identifier, utf8);
    case id_server_keep_alive:
      return read_into(p.server_keep_alive, u16);
    case id_authentication_method:
      return read_into(p.authentication_method, utf8);
    case id_authentication_data:
      return read_into(p.authentication_data, binary);
    case id_request_problem_information:
      return read_flag(r, p.request_problem_information);
    case id_will_delay_interval:
      return read_into(p.will_delay_interval, u32);
    case id_request_response_information:
      return read_flag(r, p.request_response_information);
    case id_response_information:
      return read_into(p.response_information, utf8);
    case id_server_reference:
      return read_into(p.server_reference, utf8);
    case id_reason_string:
      return read_into(p.reason_string, utf8);
    case id_receive_maximum:
      if (!read_into(p.receive_maximum, u16)) {
        return false;
      }
      if (*p.receive_maximum == 0) {
        return r.fail(reason_code::protocol_error, "receive maximum 0");  // spec 3.1.2.11.3
      }
      return true;
    case id_topic_alias_maximum:
      return read_into(p.topic_alias_maximum, u16);
    case id_topic_alias:
      return read_into(p.topic_alias, u16);
    case id_maximum_qos:
      return read_flag(r, p.maximum_qos);
    case id_retain_available:
      return read_flag(r, p.retain_available);
    case id_user_property: {
      user_property pair;
      if (!r.utf8(pair.first) || !r.utf8(pair.second)) {
        return false;
      }
      p.user_properties.push_back(std::move(pair));
      return true;
    }
    case id_maximum_packet_size:
      if (!read_into(p.maximum_packet_size, u32)) {
        return false;
      }
      if (*p.maximum_packet_size == 0) {
        return r.fail(reason_code::protocol_error, "maximum packet size 0");  // spec 3.1.2.11.4
      }
      return true;
    case id_wildcard_subscription_available:
      return read_flag(r, p.wildcard_subscription_available);
    case id_subscription_identifier_available:
      return read_flag(r, p.subscription_identifier_available);
    case id_shared_subscription_available:
      return read_flag(r, p.shared_subscription_available);
    default:
      return r.fail(reason_code::malformed_packet, "unknown property identifier");
  }
}

}  // namespace

bool decode_properties(wire_reader& reader, property_context context, properties& props) {
  uint32_t length = 0;
  if (!reader.variable_byte_integer(length)) {
    return false;
  }
  if (length > reader.remaining()) {
    return reader.fail(reason_code::malformed_packet, "property length overruns the packet");
  }
  const size_t end = reader.position() + length;
  const uint64_t allowed = allowed_in(context);
  uint64_t seen = 0;
  while (reader.position() < end) {
    // Identifiers are variable byte integers, but every defined one fits in a single byte.
    uint32_t id = 0;
    if (!reader.variable_byte_integer(id)) {
      return false;
    }
    if (id >= 64 || (known_ids & bit(static_cast<uint8_t>(id))) == 0) {
      return reader.fail(reason_code::malformed_packet, "unknown property identifier");
    }
    const auto small_id = static_cast<uint8_t>(id);
    if ((allowed & bit(small_id)) == 0) {
      return reader.fail(reason_code::protocol_error, "property not allowed in this packet");
    }
    if ((seen & bit(small_id)) != 0 && !may_repeat(small_id, context)) {
      return reader.fail(reason_code::protocol_error, "property included more than once");
    }
    seen |= bit(small_id);
    if (!read_property(reader, small_id, props)) {
      return false;
    }
  }
  if (reader.position() != end) {
    return reader.fail(reason_code::malformed_packet, "property overruns the property length");
  }
  return true;
}

namespace {

void write_properties(const properties& p, wire_writer& w) {
  auto byte = [&w](uint8_t id, const std::optional<uint8_t>& v) {
    if (v) {
      w.u8(id);
      w.u8(*v);
    }
  };
  auto two = [&w](uint8_t id, const std::optional<uint16_t>& v) {
    if (v) {
      w.u8(id);
      w.u16(*v);
    }
  };
  auto four = [&w](uint8_t id, const std::optional<uint32_t>& v) {
    if (v) {
      w.u8(id);
      w.u32(*v);
    }
  };
  auto str = [&w](uint8_t id, const std::optional<std::string>& v) {
    if (v) {
      w.u8(id);
      w.string(*v);
    }
  };
  byte(id_payload_format_indicator, p.payload_format_indicator);
  four(id_message_expiry_interval, p.message_expiry_interval);
  str(id_content_type, p.content_type);
  str(id_response_topic, p.response_topic);
  str(id_correlation_data, p.correlation_data);
  for (uint32_t id : p.subscription_identifiers) {
    w.u8(id_subscription_identifier);
    w.variable_byte_integer(id);
  }
  four(id_session_expiry_interval, p.session_expiry_interval);
  str(id_assigned_client_identifier, p.assigned_client_identifier);
  two(id_server_keep_alive, p.server_keep_alive);
  str(id_authentication_method, p.authentication_method);
  str(id_authentication_data, p.authentication_data);
  byte(id_request_problem_information, p.request_problem_information);
  four(id_will_delay_interval, p.will_delay_interval);
  byte(id_request_response_information, p.request_response_information);
  str(id_response_information, p.response_information);
  str(id_server_reference, p.server_reference);
  str(id_reason_string, p.reason_string);
  two(id_receive_maximum, p.receive_maximum);
  two(id_topic_alias_maximum, p.topic_alias_maximum);
  two(id_topic_alias, p.topic_alias);
  byte(id_maximum_qos, p.maximum_qos);
  byte(id_retain_available, p.retain_available);
  for (const auto& [key, value] : p.user_properties) {
    w.u8(id_user_property);
    w.string(key);
    w.string(value);
  }
  four(id_maximum_packet_size, p.maximum_packet_size);
  byte(id_wildcard_subscription_available, p.wildcard_subscription_available);
  byte(id_subscription_identifier_available, p.subscription_identifier_available);
  byte(id_shared_subscription_available, p.shared_subscription_available);
}

}  // namespace

void encode_properties(const properties& props, wire_writer& writer) {
  wire_writer counter(nullptr);
  write_properties(props, counter);
  writer.variable_byte_integer(static_cast<uint32_t>(counter.size()));
  write_properties(props, writer);
}

bool has_no_properties(const properties& p) {
  // Called several times per PUBLISH: the defaulted comparison with an empty block, field by field through
  // std::optional's operator==, is too slow for the hot path.
  static_assert(sizeof(void*) != 8 || sizeof(properties) == 488,
                "a property was added or removed: list it here");
  return !p.payload_format_indicator && !p.message_expiry_interval && !p.content_type && !p.response_topic &&
         !p.correlation_data && p.subscription_identifiers.empty() && !p.session_expiry_interval &&
         !p.assigned_client_identifier && !p.server_keep_alive && !p.authentication_method &&
         !p.authentication_data && !p.request_problem_information && !p.will_delay_interval &&
         !p.request_response_information && !p.response_information && !p.server_reference &&
         !p.reason_string && !p.receive_maximum && !p.topic_alias_maximum && !p.topic_alias &&
         !p.maximum_qos && !p.retain_available && p.user_properties.empty() && !p.maximum_packet_size &&
         !p.wildcard_subscription_available && !p.subscription_identifier_available &&
         !p.shared_subscription_available;
}

}  // namespace mqhub::net::mqtt
