#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "net/mqtt/reason_code.hpp"

namespace mqhub::net::mqtt {

enum class protocol_version : uint8_t { v311 = 4, v5 = 5 };

enum class packet_type : uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

enum class qos : uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

using user_property = std::pair<std::string, std::string>;

/// MQTT 5 properties (spec 2.2.2). Absent properties are empty optionals; the codec checks which ones a
/// packet type may carry and rejects duplicates.
struct properties {
  std::optional<uint8_t> payload_format_indicator;           // 0x01
  std::optional<uint32_t> message_expiry_interval;           // 0x02
  std::optional<std::string> content_type;                   // 0x03
  std::optional<std::string> response_topic;                 // 0x08
  std::optional<std::string> correlation_data;               // 0x09, binary
  std::vector<uint32_t> subscription_identifiers;            // 0x0B, several in a PUBLISH
  std::optional<uint32_t> session_expiry_interval;           // 0x11
  std::optional<std::string> assigned_client_identifier;     // 0x12
  std::optional<uint16_t> server_keep_alive;                 // 0x13
  std::optional<std::string> authentication_method;          // 0x15
  std::optional<std::string> authentication_data;            // 0x16, binary
  std::optional<uint8_t> request_problem_information;        // 0x17
  std::optional<uint32_t> will_delay_interval;               // 0x18
  std::optional<uint8_t> request_response_information;       // 0x19
  std::optional<std::string> response_information;           // 0x1A
  std::optional<std::string> server_reference;               // 0x1C
  std::optional<std::string> reason_string;                  // 0x1F
  std::optional<uint16_t> receive_maximum;                   // 0x21
  std::optional<uint16_t> topic_alias_maximum;               // 0x22
  std::optional<uint16_t> topic_alias;                       // 0x23
  std::optional<uint8_t> maximum_qos;                        // 0x24
  std::optional<uint8_t> retain_available;                   // 0x25
  std::vector<user_property> user_properties;                // 0x26
  std::optional<uint32_t> maximum_packet_size;               // 0x27
  std::optional<uint8_t> wildcard_subscription_available;    // 0x28
  std::optional<uint8_t> subscription_identifier_available;  // 0x29
  std::optional<uint8_t> shared_subscription_available;      // 0x2A

  bool operator==(const properties&) const = default;
};

struct will_message {
  std::string topic;
  std::string payload;
  qos qos_level = qos::at_most_once;
  bool retain = false;
  properties props;  // will properties (v5): delay, expiry, content type, ...

  bool operator==(const will_message&) const = default;
};

struct connect_packet {
  protocol_version version = protocol_version::v311;
  bool clean_start = true;
  uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<will_message> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data
  properties props;

  bool operator==(const connect_packet&) const = default;
};

struct connack_packet {
  bool session_present = false;
  reason_code code = reason_code::success;
  properties props;

  bool operator==(const connack_packet&) const = default;
};

struct publish_packet {
  std::string topic;
  std::string payload;
  qos qos_level = qos::at_most_once;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;  // only for QoS 1 and 2
  properties props;

  bool operator==(const publish_packet&) const = default;
};

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout.
struct ack_packet {
  packet_type type = packet_type::puback;
  uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;

  bool operator==(const ack_packet&) const = default;
};

struct subscription {
  std::string filter;
  qos max_qos = qos::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;  // 0: send retained, 1: only if new subscription, 2: never

  bool operator==(const subscription&) const = default;
};

struct subscribe_packet {
  uint16_t packet_id = 0;
  std::vector<subscription> subscriptions;
  properties props;

  bool operator==(const subscribe_packet&) const = default;
};

struct suback_packet {
  uint16_t packet_id = 0;
  std::vector<reason_code> codes;  // v311: 0x00-0x02 or 0x80
  properties props;

  bool operator==(const suback_packet&) const = default;
};

struct unsubscribe_packet {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;
  properties props;

  bool operator==(const unsubscribe_packet&) const = default;
};

struct unsuback_packet {
  uint16_t packet_id = 0;
  std::vector<reason_code> codes;  // v5 only; v311 UNSUBACK has no payload
  properties props;

  bool operator==(const unsuback_packet&) const = default;
};

struct pingreq_packet {
  bool operator==(const pingreq_packet&) const = default;
};

struct pingresp_packet {
  bool operator==(const pingresp_packet&) const = default;
};

struct disconnect_packet {
  reason_code code = reason_code::normal_disconnection;
  properties props;

  bool operator==(const disconnect_packet&) const = default;
};

struct auth_packet {
  reason_code code = reason_code::success;
  properties props;

  bool operator==(const auth_packet&) const = default;
};

using packet = std::variant<connect_packet, connack_packet, publish_packet, ack_packet, subscribe_packet,
                            suback_packet, unsubscribe_packet, unsuback_packet, pingreq_packet,
                            pingresp_packet, disconnect_packet, auth_packet>;

}  // namespace mqhub::net::mqtt
