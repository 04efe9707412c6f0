// What the decoder accepts and how it fills packets; the refusals are in malformed_test.cpp.
#include "codec_test_support.hpp"
#include "net/mqtt/topic.hpp"

namespace mqhub::net::mqtt {
namespace {

using test::bytes;
using test::decode_body;

constexpr auto v311 = protocol_version::v311;
constexpr auto v5 = protocol_version::v5;

TEST(decoder, spec_style_v311_connect_is_decoded) {
  const auto body =
      bytes({0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 60, 0, 2, 'i', 'd', 0, 1, 'u', 0, 2, 'p', 'w'});
  auto p = decode_connect(0x10, body);
  ASSERT_TRUE(p) << p.error().reason;
  EXPECT_EQ(p->version, v311);
  EXPECT_TRUE(p->clean_start);
  EXPECT_EQ(p->keep_alive, 60);
  EXPECT_EQ(p->client_id, "id");
  EXPECT_EQ(p->username, "u");
  EXPECT_EQ(p->password, "pw");
  EXPECT_FALSE(p->will);
}

TEST(decoder, connect_version_is_peeked_from_the_level_byte) {
  EXPECT_EQ(peek_connect_version(bytes({0, 4, 'M', 'Q', 'T', 'T', 5})), v5);
  EXPECT_EQ(peek_connect_version(bytes({0, 4, 'M', 'Q', 'T', 'T', 4})), v311);
  // A 3.1 client (MQIsdp, level 3) or an unknown level gets a 3.1.1 CONNACK with return code 1.
  EXPECT_EQ(peek_connect_version(bytes({0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3})), v311);
  EXPECT_EQ(peek_connect_version(bytes({0, 4, 'M', 'Q', 'T', 'T', 6})), v311);
  EXPECT_EQ(peek_connect_version(bytes({0, 4, 'M', 'Q', 'T', 'T'})), std::nullopt);
  EXPECT_EQ(peek_connect_version(bytes({0})), std::nullopt);
}

TEST(decoder, v5_connect_refused_for_a_bad_property_still_peeks_as_v5) {
  // Receive Maximum 0 is a protocol error; the CONNACK saying so must be a v5 one.
  const auto body = bytes({0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0, 3, 0x21, 0, 0, 0, 0});
  auto p = decode_connect(0x10, body);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, reason_code::protocol_error);
  EXPECT_EQ(peek_connect_version(body), v5);
}

TEST(decoder, publish_flags_are_read_from_the_first_byte) {
  auto p = decode_body(0x3B, bytes({0, 1, 't', 0, 9, 'x'}), v311);  // DUP, QoS 1, RETAIN
  ASSERT_TRUE(p) << p.error().reason;
  const auto& pub = std::get<publish_packet>(*p);
  EXPECT_TRUE(pub.dup);
  EXPECT_TRUE(pub.retain);
  EXPECT_EQ(pub.qos_level, qos::at_least_once);
  EXPECT_EQ(pub.packet_id, 9);
  EXPECT_EQ(pub.payload, "x");
}

TEST(decoder, publish_payload_may_contain_any_bytes) {
  auto p = decode_body(0x30, bytes({0, 1, 't', 0x00, 0xFF, 0xC0}), v311);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<publish_packet>(*p).payload, std::string("\x00\xFF\xC0", 3));
}

TEST(decoder, v5_publish_with_empty_topic_and_topic_alias_is_accepted) {
  // Spec 3.3.2.3.4: the alias stands in for the topic; the connection resolves it.
  auto p = decode_body(0x30, bytes({0, 0, 3, 0x23, 0, 1}), v5);
  ASSERT_TRUE(p) << p.error().reason;
  EXPECT_EQ(std::get<publish_packet>(*p).props.topic_alias, 1);
}

TEST(decoder, topic_alias_zero_is_left_to_the_connection) {
  auto p = decode_body(0x30, bytes({0, 1, 't', 3, 0x23, 0, 0}), v5);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<publish_packet>(*p).props.topic_alias, 0);
}

TEST(decoder, publish_may_carry_several_subscription_identifiers) {
  auto p = decode_body(0x30, bytes({0, 1, 't', 5, 0x0B, 1, 0x0B, 0x80, 0x01}), v5);
  ASSERT_TRUE(p) << p.error().reason;
  EXPECT_EQ(std::get<publish_packet>(*p).props.subscription_identifiers, (std::vector<uint32_t>{1, 128}));
}

TEST(decoder, decode_publish_reuses_a_packet_without_keeping_its_last_contents) {
  publish_packet reused;
  auto with_props = bytes({0, 1, 't', 5, 0x02, 0, 0, 0, 9, 'x'});
  auto plain = bytes({0, 2, 'a', 'b', 0, 7, 0, 'y'});
  ASSERT_FALSE(decode_publish(0x30, with_props, v5, reused));
  EXPECT_EQ(reused.props.message_expiry_interval, 9U);
  publish_packet taken = std::move(reused);  // the connection moves what it keeps
  ASSERT_FALSE(decode_publish(0x32, plain, v5, reused));
  EXPECT_EQ(reused.topic, "ab");
  EXPECT_EQ(reused.packet_id, 7);
  EXPECT_EQ(reused.payload, "y");
  EXPECT_EQ(reused.props, properties{});
  auto whole = decode_body(0x32, plain, v5);
  ASSERT_TRUE(whole);
  EXPECT_EQ(std::get<publish_packet>(*whole), reused);
}

TEST(decoder, decode_publish_refuses_what_decode_packet_refuses) {
  publish_packet reused;
  auto body = bytes({0, 1, 't', 0, 1});
  auto refused = decode_publish(0x36, body, v311, reused);  // QoS 3
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, decode_body(0x36, body, v311).error().code);
  EXPECT_EQ(refused->code, reason_code::malformed_packet);
}

TEST(decoder, decode_ack_agrees_with_decode_packet_and_forgets_the_last_ack) {
  struct sample {
    uint8_t first_byte;
    std::vector<uint8_t> body;
    protocol_version version;
  };
  const sample samples[] = {
      {0x40, bytes({0, 7}), v311},                          // PUBACK
      {0x62, bytes({0, 7}), v311},                          // PUBREL
      {0x60, bytes({0, 7}), v311},                          // PUBREL with wrong flags
      {0x40, bytes({0, 0}), v311},                          // packet id 0
      {0x40, bytes({0, 7, 0}), v311},                       // trailing byte
      {0x50, bytes({0, 7, 0x10, 4, 0x1F, 0, 1, 'x'}), v5},  // PUBREC 0x10 with a reason string
      {0x70, bytes({0, 7}), v5},                            // PUBCOMP, short form
      {0x40, bytes({0, 7, 0x10, 3, 0x1F, 0, 9}), v5},       // property overruns the body
  };
  ack_packet reused;
  for (const auto& s : samples) {
    auto refused = decode_ack(s.first_byte, s.body, s.version, reused);
    auto whole = decode_body(s.first_byte, s.body, s.version);
    ASSERT_EQ(!refused, static_cast<bool>(whole)) << static_cast<int>(s.first_byte);
    if (refused) {
      EXPECT_EQ(refused->code, whole.error().code);
    } else {
      EXPECT_EQ(reused, std::get<ack_packet>(*whole)) << static_cast<int>(s.first_byte);
    }
  }
}

TEST(decoder, utf8_payload_with_format_indicator_is_accepted) {
  auto p = decode_body(0x30, bytes({0, 1, 't', 2, 0x01, 1, 0xC3, 0xA9}), v5);
  ASSERT_TRUE(p) << p.error().reason;
}

TEST(decoder, subscribe_with_an_invalid_filter_decodes_so_the_broker_can_answer_0x8f) {
  auto p = decode_body(0x82, bytes({0, 1, 0, 3, 'a', '#', 'b', 0, 0, 1, 'c', 1}), v311);
  ASSERT_TRUE(p) << p.error().reason;
  const auto& sub = std::get<subscribe_packet>(*p);
  ASSERT_EQ(sub.subscriptions.size(), 2u);
  EXPECT_FALSE(is_valid_topic_filter(sub.subscriptions[0].filter));
  EXPECT_TRUE(is_valid_topic_filter(sub.subscriptions[1].filter));
  EXPECT_EQ(sub.subscriptions[1].max_qos, qos::at_least_once);
}

TEST(decoder, v5_subscription_options_are_unpacked) {
  auto p = decode_body(0x82, bytes({0, 1, 0, 0, 1, 'a', 0x2E}), v5);
  ASSERT_TRUE(p) << p.error().reason;
  const auto& s = std::get<subscribe_packet>(*p).subscriptions.at(0);
  EXPECT_EQ(s.max_qos, qos::exactly_once);
  EXPECT_TRUE(s.no_local);
  EXPECT_TRUE(s.retain_as_published);
  EXPECT_EQ(s.retain_handling, 2);
}

TEST(decoder, v5_ack_without_reason_code_means_success) {
  // Spec 3.4.2.1
  auto p = decode_body(0x40, bytes({0, 5}), v5);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<ack_packet>(*p).code, reason_code::success);
}

TEST(decoder, v5_ack_without_property_length_has_no_properties) {
  // Spec 3.4.2.2.1: a remaining length of 3 has no property length.
  auto p = decode_body(0x62, bytes({0, 5, 0x92}), v5);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<ack_packet>(*p).type, packet_type::pubrel);
  EXPECT_EQ(std::get<ack_packet>(*p).code, reason_code::packet_identifier_not_found);
}

TEST(decoder, v5_disconnect_with_empty_body_is_normal) {
  // Spec 3.14.2.1
  auto p = decode_body(0xE0, {}, v5);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<disconnect_packet>(*p).code, reason_code::normal_disconnection);
}

TEST(decoder, v311_connack_return_codes_become_reason_codes) {
  auto p = decode_body(0x20, bytes({0, 5}), v311);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<connack_packet>(*p).code, reason_code::not_authorized);
}

TEST(decoder, user_properties_keep_their_order_and_duplicates) {
  auto p =
      decode_body(0x30, bytes({0, 1, 't', 14, 0x26, 0, 1, 'k', 0, 1, '1', 0x26, 0, 1, 'k', 0, 1, '2'}), v5);
  ASSERT_TRUE(p) << p.error().reason;
  EXPECT_EQ(std::get<publish_packet>(*p).props.user_properties,
            (std::vector<user_property>{{"k", "1"}, {"k", "2"}}));
}

}  // namespace
}  // namespace mqhub::net::mqtt
