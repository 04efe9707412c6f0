#include "codec_test_support.hpp"

namespace mqhub::net::mqtt {
namespace {

using test::encoded;

std::string wire(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) {
    out.push_back(static_cast<char>(v));
  }
  return out;
}

TEST(encoder, encode_ack_writes_what_encode_writes_for_an_ack_without_properties) {
  const packet_type types[] = {packet_type::puback, packet_type::pubrec, packet_type::pubrel,
                               packet_type::pubcomp};
  const reason_code codes[] = {reason_code::success, reason_code::packet_identifier_not_found,
                               reason_code::quota_exceeded};
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    for (auto type : types) {
      for (auto code : codes) {
        std::string out;
        encode_ack(type, 0x1234, code, version, out);
        EXPECT_EQ(out, encoded(ack_packet{type, 0x1234, code, {}}, version))
            << static_cast<int>(type) << " " << static_cast<int>(code);
      }
    }
  }
}

TEST(encoder, v311_connect_matches_the_spec_layout) {
  connect_packet p;
  p.keep_alive = 10;
  p.client_id = "c";
  // Spec 3.1.2: name "MQTT", level 4, flags (clean session), keep alive, then the payload.
  EXPECT_EQ(encoded(p, protocol_version::v311),
            wire({0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, 1, 'c'}));
}

TEST(encoder, v5_connect_writes_level_5_and_an_empty_property_length) {
  connect_packet p;
  p.version = protocol_version::v5;
  EXPECT_EQ(encoded(p, protocol_version::v5),
            wire({0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0, 0, 0, 0}));
}

TEST(encoder, v311_connack_return_codes_follow_the_mapping_table) {
  const std::pair<reason_code, int> table[] = {
      {reason_code::success, 0},
      {reason_code::unsupported_protocol_version, 1},
      {reason_code::client_identifier_not_valid, 2},
      {reason_code::server_unavailable, 3},
      {reason_code::server_busy, 3},
      {reason_code::malformed_packet, 3},
      {reason_code::bad_user_name_or_password, 4},
      {reason_code::not_authorized, 5},
      {reason_code::banned, 5},
  };
  for (auto [code, v311] : table) {
    EXPECT_EQ(to_v311_connack_code(code), v311) << static_cast<int>(code);
    EXPECT_EQ(encoded(connack_packet{false, code, {}}, protocol_version::v311), wire({0x20, 2, 0, v311}));
  }
}

TEST(encoder, refusing_connack_never_claims_a_session) {
  // MQTT-3.2.2-4 (3.1.1), MQTT-3.2.2-6 (5)
  EXPECT_EQ(encoded(connack_packet{true, reason_code::not_authorized, {}}, protocol_version::v311),
            wire({0x20, 2, 0, 5}));
  EXPECT_EQ(encoded(connack_packet{true, reason_code::not_authorized, {}}, protocol_version::v5),
            wire({0x20, 3, 0, 0x87, 0}));
}

TEST(encoder, v311_suback_turns_every_error_into_0x80) {
  suback_packet p{
      1, {reason_code::granted_qos_2, reason_code::topic_filter_invalid, reason_code::not_authorized}, {}};
  EXPECT_EQ(encoded(p, protocol_version::v311), wire({0x90, 5, 0, 1, 2, 0x80, 0x80}));
}

TEST(encoder, v311_unsuback_has_no_payload) {
  unsuback_packet p{7, {reason_code::success}, {}};
  EXPECT_EQ(encoded(p, protocol_version::v311), wire({0xB0, 2, 0, 7}));
}

TEST(encoder, v5_ack_with_success_and_no_properties_uses_the_short_form) {
  // Spec 3.4.2.1: the reason code and property length can be omitted.
  EXPECT_EQ(encoded(ack_packet{packet_type::puback, 5, reason_code::success, {}}, protocol_version::v5),
            wire({0x40, 2, 0, 5}));
}

TEST(encoder, v5_ack_with_a_reason_code_and_no_properties_omits_the_property_length) {
  EXPECT_EQ(
      encoded(ack_packet{packet_type::pubrec, 5, reason_code::quota_exceeded, {}}, protocol_version::v5),
      wire({0x50, 3, 0, 5, 0x97}));
}

TEST(encoder, pubrel_subscribe_and_unsubscribe_set_the_reserved_flag_bit) {
  // MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1
  EXPECT_EQ(encoded(ack_packet{packet_type::pubrel, 1, reason_code::success, {}}, protocol_version::v311)[0],
            '\x62');
  EXPECT_EQ(
      encoded(subscribe_packet{1, {{"a", qos::at_most_once, false, false, 0}}, {}}, protocol_version::v5)[0],
      '\x82');
  EXPECT_EQ(encoded(unsubscribe_packet{1, {"a"}, {}}, protocol_version::v5)[0], '\xA2');
}

TEST(encoder, v5_disconnect_with_normal_reason_and_no_properties_is_two_bytes) {
  // Spec 3.14.2.1
  EXPECT_EQ(encoded(disconnect_packet{}, protocol_version::v5), wire({0xE0, 0}));
  EXPECT_EQ(encoded(disconnect_packet{reason_code::server_shutting_down, {}}, protocol_version::v5),
            wire({0xE0, 1, 0x8B}));
}

TEST(encoder, v311_disconnect_ignores_the_reason_code) {
  EXPECT_EQ(encoded(disconnect_packet{reason_code::server_shutting_down, {}}, protocol_version::v311),
            wire({0xE0, 0}));
}

TEST(encoder, ping_packets_are_two_bytes) {
  EXPECT_EQ(encoded(pingreq_packet{}, protocol_version::v311), wire({0xC0, 0}));
  EXPECT_EQ(encoded(pingresp_packet{}, protocol_version::v5), wire({0xD0, 0}));
}

TEST(encoder, publish_head_followed_by_the_payload_equals_the_whole_publish) {
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    for (size_t payload_size : {size_t{0}, size_t{5}, size_t{200}, size_t{20'000}, size_t{3'000'000}}) {
      publish_packet p{"a/b/c", std::string(payload_size, 'p'), qos::at_least_once, true, true, 77, {}};
      if (version == protocol_version::v5) {
        p.props.message_expiry_interval = 9;
        p.props.user_properties = {{"k", "v"}};
      }
      std::string head;
      encode_publish_head(p, p.payload.size(), version, head);
      EXPECT_EQ(head + p.payload, encoded(p, version)) << payload_size;
    }
  }
}

TEST(encoder, encoded_size_equals_the_encoded_length_across_length_field_sizes) {
  for (size_t payload_size : {size_t{0}, size_t{120}, size_t{127}, size_t{128}, size_t{16'380},
                              size_t{16'384}, size_t{2'097'150}, size_t{2'097'152}}) {
    publish_packet p{"t", std::string(payload_size, 'x'), qos::at_most_once, false, false, 0, {}};
    for (auto version : {protocol_version::v311, protocol_version::v5}) {
      EXPECT_EQ(encoded_size(p, version), encoded(p, version).size()) << payload_size;
    }
  }
}

TEST(encoder, encode_appends_to_what_is_already_in_the_buffer) {
  std::string out = "xy";
  encode(pingreq_packet{}, protocol_version::v5, out);
  EXPECT_EQ(out, wire({'x', 'y', 0xC0, 0}));
}

TEST(encoder, v311_publish_leaves_out_properties) {
  publish_packet p{"t", "", qos::at_most_once, false, false, 0, {}};
  p.props.message_expiry_interval = 5;
  EXPECT_EQ(encoded(p, protocol_version::v311), wire({0x30, 3, 0, 1, 't'}));
  EXPECT_EQ(encoded(p, protocol_version::v5), wire({0x30, 9, 0, 1, 't', 5, 0x02, 0, 0, 0, 5}));
}

TEST(encoder, auth_cannot_be_encoded_for_v311) {
  std::string out;
  EXPECT_THROW(encode(auth_packet{}, protocol_version::v311, out), std::logic_error);
}

}  // namespace
}  // namespace mqhub::net::mqtt
