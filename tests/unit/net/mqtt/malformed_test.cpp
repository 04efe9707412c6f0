// Every refusal with the exact reason code the spec gives for it.
#include "codec_test_support.hpp"

namespace mqhub::net::mqtt {
namespace {

using test::bytes;

constexpr auto v311 = protocol_version::v311;
constexpr auto v5 = protocol_version::v5;
constexpr auto malformed = reason_code::malformed_packet;
constexpr auto protocol = reason_code::protocol_error;

struct bad_packet {
  const char* what;  // the spec statement or the rule it breaks
  protocol_version version;
  uint8_t first_byte;
  std::vector<uint8_t> body;
  reason_code expected;
};

const std::vector<bad_packet>& bad_packets() {
  static const std::vector<bad_packet> table = {
      {"MQTT-3.1.0-2 second CONNECT", v5, 0x10, bytes({0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 0, 0, 0, 0}),
       protocol},
      {"reserved packet type 0", v311, 0x00, {}, malformed},
      {"AUTH does not exist in 3.1.1", v311, 0xF0, {}, malformed},
      {"MQTT-3.6.1-1 PUBREL flags", v311, 0x60, bytes({0, 1}), malformed},
      {"MQTT-3.8.1-1 SUBSCRIBE flags", v311, 0x80, bytes({0, 1, 0, 1, 'a', 0}), malformed},
      {"MQTT-3.10.1-1 UNSUBSCRIBE flags", v5, 0xA0, bytes({0, 1, 0, 0, 1, 'a'}), malformed},
      {"MQTT-2.1.3-1 PINGREQ flags", v311, 0xC1, {}, malformed},
      {"MQTT-2.1.3-1 PUBACK flags", v5, 0x42, bytes({0, 1}), malformed},
      {"MQTT-3.3.1-4 QoS 3", v311, 0x36, bytes({0, 1, 't', 0, 1}), malformed},
      {"MQTT-3.3.1-2 DUP on QoS 0", v311, 0x38, bytes({0, 1, 't'}), malformed},
      {"MQTT-2.2.1-3 PUBLISH packet id 0", v311, 0x32, bytes({0, 1, 't', 0, 0}), malformed},
      {"MQTT-2.2.1-3 PUBACK packet id 0", v5, 0x40, bytes({0, 0}), malformed},
      {"MQTT-2.2.1-3 SUBSCRIBE packet id 0", v311, 0x82, bytes({0, 0, 0, 1, 'a', 0}), malformed},
      {"topic length overruns the body", v311, 0x30, bytes({0, 5, 't'}), malformed},
      {"packet id cut off", v311, 0x32, bytes({0, 1, 't', 0}), malformed},
      {"trailing bytes after PUBACK", v311, 0x40, bytes({0, 1, 0}), malformed},
      {"trailing bytes after PINGREQ", v5, 0xC0, bytes({0}), malformed},
      {"3.1.1 DISCONNECT has no body", v311, 0xE0, bytes({0}), malformed},
      {"MQTT-1.5.4-1 ill-formed UTF-8 topic", v311, 0x30, bytes({0, 2, 0xC3, 0x28}), malformed},
      {"MQTT-1.5.4-1 overlong UTF-8 topic", v311, 0x30, bytes({0, 2, 0xC0, 0xAF}), malformed},
      {"MQTT-1.5.4-1 surrogate in topic", v5, 0x30, bytes({0, 3, 0xED, 0xA0, 0x80, 0}), malformed},
      {"MQTT-1.5.4-2 U+0000 in topic", v311, 0x30, bytes({0, 1, 0}), malformed},
      {"MQTT-3.3.2-2 '+' in topic", v5, 0x30, bytes({0, 3, 'a', '/', '+', 0}),
       reason_code::topic_name_invalid},
      {"MQTT-3.3.2-2 '#' in topic", v311, 0x30, bytes({0, 1, '#'}), reason_code::topic_name_invalid},
      {"MQTT-4.7.3-1 empty topic in 3.1.1", v311, 0x30, bytes({0, 0}), reason_code::topic_name_invalid},
      {"empty topic without alias in 5", v5, 0x30, bytes({0, 0, 0}), reason_code::topic_name_invalid},
      {"3.3.2.3.2 payload not UTF-8", v5, 0x30, bytes({0, 1, 't', 2, 0x01, 1, 0xFF}),
       reason_code::payload_format_invalid},
      {"payload format indicator 2", v5, 0x30, bytes({0, 1, 't', 2, 0x01, 2}), protocol},
      {"MQTT-3.8.3-3 empty SUBSCRIBE", v311, 0x82, bytes({0, 1}), protocol},
      {"MQTT-3.8.3-3 empty SUBSCRIBE", v5, 0x82, bytes({0, 1, 0}), protocol},
      {"MQTT-3.10.3-2 empty UNSUBSCRIBE", v311, 0xA2, bytes({0, 1}), protocol},
      {"MQTT-3.8.3-5 reserved option bits", v5, 0x82, bytes({0, 1, 0, 0, 1, 'a', 0x40}), malformed},
      {"3.8.3.1 retain handling 3 is a protocol error", v5, 0x82, bytes({0, 1, 0, 0, 1, 'a', 0x30}),
       protocol},
      {"subscription QoS 3", v5, 0x82, bytes({0, 1, 0, 0, 1, 'a', 0x03}), malformed},
      {"MQTT-3-8.3-4 3.1.1 upper option bits", v311, 0x82, bytes({0, 1, 0, 1, 'a', 0x04}), malformed},
      {"MQTT-1.5.4-1 ill-formed UTF-8 filter", v311, 0x82, bytes({0, 1, 0, 1, 0xFF, 0}), malformed},
      {"MQTT-3.8.3-4 no local on shared", v5, 0x82,
       bytes({0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a', 0x04}), protocol},
      {"unknown property identifier", v5, 0x30, bytes({0, 1, 't', 2, 0x05, 0}), malformed},
      {"property not allowed in PUBLISH", v5, 0x30, bytes({0, 1, 't', 5, 0x11, 0, 0, 0, 0}), protocol},
      {"duplicate message expiry", v5, 0x30, bytes({0, 1, 't', 10, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1}),
       protocol},
      {"3.8.2.1.2 two subscription ids", v5, 0x82, bytes({0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, 'a', 0}),
       protocol},
      {"3.8.2.1.2 subscription id 0", v5, 0x82, bytes({0, 1, 2, 0x0B, 0, 0, 1, 'a', 0}), protocol},
      {"property length overruns the body", v5, 0x30, bytes({0, 1, 't', 9, 0x01}), malformed},
      {"property overruns the property length", v5, 0x30, bytes({0, 1, 't', 1, 0x02, 0, 0, 0, 5}), malformed},
      {"MQTT-1.5.5-1 property length not minimal", v5, 0x30, bytes({0, 1, 't', 0x80, 0x00}), malformed},
      {"3.2.2.3.3 receive maximum 0", v5, 0x20, bytes({0, 0, 3, 0x21, 0, 0}), protocol},
      {"3.2.2.3.6 maximum packet size 0", v5, 0x20, bytes({0, 0, 5, 0x27, 0, 0, 0, 0}), protocol},
      {"3.2.2.3.4 maximum QoS 2", v5, 0x20, bytes({0, 0, 2, 0x24, 2}), protocol},
      {"3.2.2.3.5 retain available 2", v5, 0x20, bytes({0, 0, 2, 0x25, 2}), protocol},
      {"MQTT-3.2.2-1 CONNACK reserved flags", v311, 0x20, bytes({2, 0}), malformed},
      {"3.1.1 CONNACK return code 6", v311, 0x20, bytes({0, 6}), malformed},
      {"MQTT-3.2.2-6 session present on refusal", v5, 0x20, bytes({1, 0x87, 0}), protocol},
      {"CONNACK reason code not in the table", v5, 0x20, bytes({0, 0x10, 0}), malformed},
      {"PUBREL reason code on PUBACK", v5, 0x40, bytes({0, 1, 0x92}), malformed},
      {"DISCONNECT reason code 0x05", v5, 0xE0, bytes({0x05}), malformed},
      {"AUTH reason code 0x80", v5, 0xF0, bytes({0x80, 0}), malformed},
      {"3.9.3 3.1.1 SUBACK code 0x83", v311, 0x90, bytes({0, 1, 0x83}), malformed},
      {"SUBACK without codes", v311, 0x90, bytes({0, 1}), protocol},
      {"UNSUBACK without codes in 5", v5, 0xB0, bytes({0, 1, 0}), protocol},
      {"MQTT-1.5.4-1 user property not UTF-8", v5, 0x30, bytes({0, 1, 't', 7, 0x26, 0, 1, 0xFF, 0, 1, 'v'}),
       malformed},
      {"MQTT-3.3.2-14 wildcard in response topic", v5, 0x30, bytes({0, 1, 't', 4, 0x08, 0, 1, '#'}),
       protocol},
      {"reason string in PUBLISH", v5, 0x30, bytes({0, 1, 't', 4, 0x1F, 0, 1, 'x'}), protocol},
  };
  return table;
}

TEST(malformed, every_bad_packet_is_refused_with_the_spec_reason_code) {
  for (const bad_packet& bad : bad_packets()) {
    auto decoded = decode_packet(bad.first_byte, bad.body, bad.version);
    ASSERT_FALSE(decoded) << bad.what;
    EXPECT_EQ(decoded.error().code, bad.expected) << bad.what << ": " << decoded.error().reason;
    EXPECT_FALSE(decoded.error().reason.empty()) << bad.what;
  }
}

TEST(malformed, every_truncation_of_a_valid_packet_is_refused_without_crashing) {
  publish_packet p{"a/b", "payload", qos::exactly_once, false, false, 3, {}};
  p.props.user_properties = {{"key", "value"}};
  p.props.correlation_data = "cd";
  std::string wire;
  encode(p, v5, wire);
  const auto body = test::as_span(wire).subspan(2);
  // Cuts inside the variable header must fail; cuts in the payload just shorten it.
  const size_t payload_start = body.size() - p.payload.size();
  for (size_t n = 0; n < payload_start; ++n) {
    EXPECT_FALSE(decode_packet(static_cast<uint8_t>(wire[0]), body.first(n), v5)) << n;
  }
}

std::vector<uint8_t> connect_body(int level, int flags, std::initializer_list<int> rest) {
  auto body = bytes({0, 4, 'M', 'Q', 'T', 'T', level, flags, 0, 0});
  for (int v : rest) {
    body.push_back(static_cast<uint8_t>(v));
  }
  return body;
}

struct bad_connect {
  const char* what;
  uint8_t first_byte;
  std::vector<uint8_t> body;
  reason_code expected;
};

TEST(malformed, every_bad_connect_is_refused_with_the_spec_reason_code) {
  const auto unsupported = reason_code::unsupported_protocol_version;
  const bad_connect table[] = {
      {"MQTT-2.1.3-1 CONNECT flags", 0x11, connect_body(4, 2, {0, 0}), malformed},
      {"MQTT-3.1.0-1 first packet not CONNECT", 0x30, connect_body(4, 2, {0, 0}), protocol},
      {"3.1 MQIsdp level 3", 0x10, bytes({0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 2, 0, 0, 0, 0}),
       unsupported},
      {"MQTT-3.1.2-2 level 3", 0x10, connect_body(3, 2, {0, 0}), unsupported},
      {"MQTT-3.1.2-2 level 6", 0x10, connect_body(6, 2, {0, 0}), unsupported},
      {"MQTT-3.1.2-1 protocol name", 0x10, bytes({0, 4, 'M', 'Q', 'T', 'X', 4, 2, 0, 0, 0, 0}), unsupported},
      {"MQTT-3.1.2-3 reserved flag", 0x10, connect_body(4, 3, {0, 0}), malformed},
      {"MQTT-3.1.2-14 will QoS 3", 0x10, connect_body(4, 0x1E, {0, 0, 0, 1, 't', 0, 0}), malformed},
      {"MQTT-3.1.2-15 will retain without will", 0x10, connect_body(4, 0x22, {0, 0}), malformed},
      {"MQTT-3.1.2-13 will QoS without will", 0x10, connect_body(4, 0x0A, {0, 0}), malformed},
      {"MQTT-3.1.2-22 password without user name", 0x10, connect_body(4, 0x42, {0, 0, 0, 1, 'p'}), malformed},
      {"trailing bytes", 0x10, connect_body(4, 2, {0, 0, 9}), malformed},
      {"client id not UTF-8", 0x10, connect_body(4, 2, {0, 1, 0xFE}), malformed},
      {"cut inside keep alive", 0x10, bytes({0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0}), malformed},
      {"user name missing", 0x10, connect_body(4, 0x82, {0, 0}), malformed},
      {"wildcard in will topic", 0x10, connect_body(4, 0x06, {0, 0, 0, 1, '#', 0, 0}),
       reason_code::topic_name_invalid},
      {"3.1.2.11.7 request problem information 2", 0x10, connect_body(5, 2, {2, 0x17, 2, 0, 0}), protocol},
      {"3.1.2.11.6 request response information 2", 0x10, connect_body(5, 2, {2, 0x19, 2, 0, 0}), protocol},
      {"payload format indicator in CONNECT", 0x10, connect_body(5, 2, {2, 0x01, 0, 0, 0}), protocol},
      {"topic alias in will properties", 0x10, connect_body(5, 6, {0, 0, 0, 3, 0x23, 0, 1, 0, 1, 't', 0, 0}),
       protocol},
      {"duplicate session expiry", 0x10, connect_body(5, 2, {10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1, 0, 0}),
       protocol},
      {"3.1.3.2.3 will payload not UTF-8", 0x10,
       connect_body(5, 6, {0, 0, 0, 2, 0x01, 1, 0, 1, 't', 0, 1, 0xFF}), reason_code::payload_format_invalid},
  };
  for (const bad_connect& bad : table) {
    auto decoded = decode_connect(bad.first_byte, bad.body);
    ASSERT_FALSE(decoded) << bad.what;
    EXPECT_EQ(decoded.error().code, bad.expected) << bad.what << ": " << decoded.error().reason;
  }
}

}  // namespace
}  // namespace mqhub::net::mqtt
