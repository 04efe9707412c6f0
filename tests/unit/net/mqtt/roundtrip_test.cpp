// Encode then decode must give back the original packet, for every packet type in both versions.
#include "codec_test_support.hpp"

namespace mqhub::net::mqtt {
namespace {

using test::decode_wire;
using test::encoded;

void expect_roundtrip(const packet& original, protocol_version version) {
  const std::string wire = encoded(original, version);
  EXPECT_EQ(encoded_size(original, version), wire.size());
  auto decoded = decode_wire(wire, version);
  ASSERT_TRUE(decoded) << decoded.error().reason;
  EXPECT_EQ(*decoded, original);
}

connect_packet full_connect(protocol_version version) {
  connect_packet p;
  p.version = version;
  p.clean_start = false;
  p.keep_alive = 60;
  p.client_id = "device-1";
  p.will = will_message{"devices/1/status", std::string("off\0line", 8), qos::exactly_once, true, {}};
  p.username = "user";
  p.password = std::string("\x00\xFFsecret", 8);
  return p;
}

TEST(roundtrip, connect_with_will_and_credentials_survives_in_v311) {
  expect_roundtrip(full_connect(protocol_version::v311), protocol_version::v311);
}

TEST(roundtrip, minimal_connect_survives_in_both_versions) {
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    connect_packet p;
    p.version = version;
    expect_roundtrip(p, version);
  }
}

TEST(roundtrip, connect_with_every_connect_and_will_property_survives_in_v5) {
  connect_packet p = full_connect(protocol_version::v5);
  p.props.session_expiry_interval = 3600;
  p.props.authentication_method = "SCRAM-SHA-1";
  p.props.authentication_data = std::string("\x01\x00\x02", 3);
  p.props.request_problem_information = 0;
  p.props.request_response_information = 1;
  p.props.receive_maximum = 20;
  p.props.topic_alias_maximum = 10;
  p.props.maximum_packet_size = 1 << 20;
  p.props.user_properties = {{"a", "1"}, {"a", "2"}, {"", ""}};
  auto& will = p.will->props;
  will.payload_format_indicator = 0;
  will.message_expiry_interval = 120;
  will.content_type = "text/plain";
  will.response_topic = "replies/1";
  will.correlation_data = std::string("\x00\x01", 2);
  will.will_delay_interval = 5;
  will.user_properties = {{"k", "v"}};
  expect_roundtrip(p, protocol_version::v5);
}

TEST(roundtrip, v5_connect_may_carry_a_password_without_user_name) {
  connect_packet p;
  p.version = protocol_version::v5;
  p.password = "token";
  expect_roundtrip(p, protocol_version::v5);
}

TEST(roundtrip, every_v311_connack_return_code_survives) {
  for (auto code : {reason_code::success, reason_code::unsupported_protocol_version,
                    reason_code::client_identifier_not_valid, reason_code::server_unavailable,
                    reason_code::bad_user_name_or_password, reason_code::not_authorized}) {
    expect_roundtrip(connack_packet{code == reason_code::success, code, {}}, protocol_version::v311);
  }
}

TEST(roundtrip, connack_with_every_connack_property_survives_in_v5) {
  connack_packet p;
  p.session_present = true;
  p.props.session_expiry_interval = 0;
  p.props.assigned_client_identifier = "auto-123";
  p.props.server_keep_alive = 30;
  p.props.authentication_method = "m";
  p.props.authentication_data = "d";
  p.props.response_information = "resp/";
  p.props.server_reference = "other:1883";
  p.props.reason_string = "welcome";
  p.props.receive_maximum = 100;
  p.props.topic_alias_maximum = 5;
  p.props.maximum_qos = 1;
  p.props.retain_available = 0;
  p.props.maximum_packet_size = 65536;
  p.props.wildcard_subscription_available = 1;
  p.props.subscription_identifier_available = 0;
  p.props.shared_subscription_available = 1;
  p.props.user_properties = {{"node", "a"}};
  expect_roundtrip(p, protocol_version::v5);
  expect_roundtrip(connack_packet{false, reason_code::banned, {}}, protocol_version::v5);
}

TEST(roundtrip, publish_at_every_qos_survives_in_both_versions) {
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    expect_roundtrip(publish_packet{"a/b", "hello", qos::at_most_once, true, false, 0, {}}, version);
    expect_roundtrip(publish_packet{"a/b", "", qos::at_least_once, false, true, 7, {}}, version);
    expect_roundtrip(
        publish_packet{"a/b", std::string(70000, 'x'), qos::exactly_once, false, false, 65535, {}}, version);
  }
}

TEST(roundtrip, publish_with_every_publish_property_survives_in_v5) {
  publish_packet p{"sensors/t", "21.5 °C", qos::at_least_once, false, false, 9, {}};
  p.props.payload_format_indicator = 1;
  p.props.message_expiry_interval = 10;
  p.props.content_type = "text/plain; charset=utf-8";
  p.props.response_topic = "sensors/t/reply";
  p.props.correlation_data = std::string("\xDE\xAD", 2);
  p.props.subscription_identifiers = {1, 268'435'455, 16'384};
  p.props.topic_alias = 3;
  p.props.user_properties = {{"unit", "celsius"}};
  expect_roundtrip(p, protocol_version::v5);
}

TEST(roundtrip, v5_publish_with_only_a_topic_alias_keeps_its_empty_topic) {
  publish_packet p{"", "x", qos::at_most_once, false, false, 0, {}};
  p.props.topic_alias = 1;
  expect_roundtrip(p, protocol_version::v5);
}

TEST(roundtrip, every_ack_type_survives_in_both_versions) {
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    for (auto type : {packet_type::puback, packet_type::pubrec, packet_type::pubrel, packet_type::pubcomp}) {
      expect_roundtrip(ack_packet{type, 1234, reason_code::success, {}}, version);
    }
  }
}

TEST(roundtrip, v5_acks_keep_reason_codes_and_properties) {
  ack_packet with_props{packet_type::puback, 1, reason_code::no_matching_subscribers, {}};
  with_props.props.reason_string = "nobody listens";
  with_props.props.user_properties = {{"x", "y"}};
  expect_roundtrip(with_props, protocol_version::v5);
  expect_roundtrip(ack_packet{packet_type::pubrec, 2, reason_code::quota_exceeded, {}}, protocol_version::v5);
  expect_roundtrip(ack_packet{packet_type::pubrel, 3, reason_code::packet_identifier_not_found, {}},
                   protocol_version::v5);
  ack_packet success_with_props{packet_type::pubcomp, 4, reason_code::success, {}};
  success_with_props.props.reason_string = "done";
  expect_roundtrip(success_with_props, protocol_version::v5);
}

TEST(roundtrip, subscribe_survives_in_v311) {
  subscribe_packet p;
  p.packet_id = 10;
  p.subscriptions = {{"a/+", qos::at_most_once, false, false, 0},
                     {"b/#", qos::exactly_once, false, false, 0}};
  expect_roundtrip(p, protocol_version::v311);
}

TEST(roundtrip, subscribe_keeps_every_subscription_option_and_identifier_in_v5) {
  subscribe_packet p;
  p.packet_id = 11;
  p.subscriptions = {{"a/+", qos::at_least_once, true, true, 2},
                     {"$share/g/b/#", qos::exactly_once, false, false, 1}};
  p.props.subscription_identifiers = {42};
  p.props.user_properties = {{"k", "v"}};
  expect_roundtrip(p, protocol_version::v5);
}

TEST(roundtrip, suback_survives_in_both_versions) {
  expect_roundtrip(suback_packet{5,
                                 {reason_code::granted_qos_0, reason_code::granted_qos_1,
                                  reason_code::granted_qos_2, reason_code::unspecified_error},
                                 {}},
                   protocol_version::v311);
  suback_packet v5{6,
                   {reason_code::granted_qos_1, reason_code::topic_filter_invalid,
                    reason_code::shared_subscriptions_not_supported},
                   {}};
  v5.props.reason_string = "partly";
  expect_roundtrip(v5, protocol_version::v5);
}

TEST(roundtrip, unsubscribe_survives_in_both_versions) {
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    unsubscribe_packet p{12, {"a/+", "b"}, {}};
    if (version == protocol_version::v5) {
      p.props.user_properties = {{"why", "bye"}};
    }
    expect_roundtrip(p, version);
  }
}

TEST(roundtrip, unsuback_survives_in_both_versions) {
  expect_roundtrip(unsuback_packet{13, {}, {}}, protocol_version::v311);
  unsuback_packet v5{14, {reason_code::success, reason_code::no_subscription_existed}, {}};
  v5.props.reason_string = "ok";
  expect_roundtrip(v5, protocol_version::v5);
}

TEST(roundtrip, ping_packets_survive_in_both_versions) {
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    expect_roundtrip(pingreq_packet{}, version);
    expect_roundtrip(pingresp_packet{}, version);
  }
}

TEST(roundtrip, disconnect_survives_in_both_versions) {
  expect_roundtrip(disconnect_packet{}, protocol_version::v311);
  expect_roundtrip(disconnect_packet{}, protocol_version::v5);
  expect_roundtrip(disconnect_packet{reason_code::disconnect_with_will_message, {}}, protocol_version::v5);
  disconnect_packet p{reason_code::use_another_server, {}};
  p.props.session_expiry_interval = 0;
  p.props.server_reference = "b:1883";
  p.props.reason_string = "moving";
  p.props.user_properties = {{"a", "b"}};
  expect_roundtrip(p, protocol_version::v5);
}

TEST(roundtrip, auth_survives_in_v5) {
  expect_roundtrip(auth_packet{}, protocol_version::v5);
  auth_packet p{reason_code::continue_authentication, {}};
  p.props.authentication_method = "SCRAM-SHA-1";
  p.props.authentication_data = std::string("\x00\x01\x02", 3);
  p.props.reason_string = "step 2";
  p.props.user_properties = {{"a", "b"}};
  expect_roundtrip(p, protocol_version::v5);
  expect_roundtrip(auth_packet{reason_code::re_authenticate, {}}, protocol_version::v5);
}

}  // namespace
}  // namespace mqhub::net::mqtt
