#include "storage/records.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace mqhub::storage;
using mqhub::net::mqtt::properties;
using mqhub::net::mqtt::protocol_version;
using mqhub::net::mqtt::qos;
using mqhub::net::mqtt::will_message;

properties full_properties() {
  properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 3600;
  p.content_type = "application/json";
  p.response_topic = "reply/here";
  p.correlation_data = std::string("\x00\x01\xff", 3);
  p.subscription_identifiers = {1, 268'435'455};
  p.topic_alias = 7;
  p.will_delay_interval = 30;
  p.shared_subscription_available = 0;
  p.user_properties = {{"k", "v"}, {"k", "v2"}, {"", ""}};
  return p;
}

session_record full_session() {
  session_record r;
  r.client_id = "sensor-17";
  r.version = protocol_version::v5;
  r.session_expiry_interval = 86400;
  r.expiry_deadline = 1'700'000'000;
  r.subscriptions = {
      {"a/+/c", qos::exactly_once, true, true, 2, 42},
      {"$share/g1/x/#", qos::at_least_once, false, false, 1, std::nullopt},
      {"#", qos::at_most_once, false, true, 0, 268'435'455},
  };
  will_message will;
  will.topic = "status/sensor-17";
  will.payload = "offline";
  will.qos_level = qos::at_least_once;
  will.retain = true;
  will.props.will_delay_interval = 30;
  will.props.content_type = "text/plain";
  r.will = will;
  r.will_delay_interval = 30;
  return r;
}

stored_message full_message() {
  stored_message m;
  m.topic = "a/b/c";
  m.payload = std::string("bin\0ary", 7);
  m.qos_level = qos::exactly_once;
  m.retain = true;
  m.props = full_properties();
  m.publisher = "pub-1";
  m.expiry = -5;  // before the epoch must survive too
  return m;
}

queue_entry full_entry() {
  return {uint64_t{1} << 50, qos::exactly_once, true, {3, 300000}, delivery_state::pubrec, 65535, nullptr};
}

TEST(records, session_record_round_trips) {
  const auto r = full_session();
  auto decoded = decode_session_record(encode(r));
  ASSERT_TRUE(decoded) << decoded.failure().message;
  EXPECT_EQ(*decoded, r);
}

TEST(records, minimal_session_record_round_trips) {
  session_record r;
  r.client_id = "c";
  r.version = protocol_version::v311;
  auto decoded = decode_session_record(encode(r));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, r);
}

TEST(records, stored_message_round_trips) {
  const auto m = full_message();
  auto decoded = decode_stored_message(encode(m));
  ASSERT_TRUE(decoded) << decoded.failure().message;
  EXPECT_EQ(*decoded, m);
}

TEST(records, queue_entry_round_trips_in_every_state) {
  auto e = full_entry();
  EXPECT_EQ(*decode_queue_entry(encode(e)), e);
  e.state = delivery_state::inflight;
  e.packet_id = 1;
  EXPECT_EQ(*decode_queue_entry(encode(e)), e);
  e = queue_entry{9, qos::at_least_once, false, {}, delivery_state::queued, 0, nullptr};
  EXPECT_EQ(*decode_queue_entry(encode(e)), e);
}

TEST(records, an_entry_holding_its_message_round_trips_with_it_and_without_it_once_past_pubrec) {
  queue_entry e{0,
                qos::exactly_once,
                true,
                {7},
                delivery_state::queued,
                0,
                std::make_shared<const stored_message>(full_message())};
  auto decoded = decode_queue_entry(encode(e));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, e);
  ASSERT_TRUE(decoded->message);
  EXPECT_EQ(decoded->message->payload, full_message().payload);
  e.state = delivery_state::inflight;
  e.packet_id = 300;
  EXPECT_EQ(*decode_queue_entry(encode(e)), e);
  e = queue_entry{0, qos::exactly_once, false, {}, delivery_state::pubrec, 300, nullptr};
  EXPECT_EQ(*decode_queue_entry(encode(e)), e);
}

TEST(records, an_entry_with_message_id_0_and_no_message_is_damaged) {
  const auto bytes =
      encode(queue_entry{0, qos::at_least_once, false, {}, delivery_state::queued, 0, nullptr});
  auto decoded = decode_queue_entry(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.failure().code, errc::corruption);
  // Nor may a referencing entry carry trailing bytes.
  auto referencing =
      encode(queue_entry{5, qos::at_least_once, false, {}, delivery_state::queued, 0, nullptr});
  EXPECT_FALSE(decode_queue_entry(referencing + encode(full_message()).substr(1)));
}

TEST(records, an_entry_holding_its_message_has_a_version_of_its_own_and_each_version_its_kind_of_id) {
  const queue_entry held{0,
                         qos::at_least_once,
                         false,
                         {},
                         delivery_state::queued,
                         0,
                         std::make_shared<const stored_message>(full_message())};
  auto bytes = encode(held);
  EXPECT_EQ(bytes[0], 2);  // an mqhub from before refuses it by its version, not as damaged
  bytes[0] = 1;
  EXPECT_FALSE(decode_queue_entry(bytes));  // version 1 never held a message
  auto referencing =
      encode(queue_entry{5, qos::at_least_once, false, {}, delivery_state::queued, 0, nullptr});
  EXPECT_EQ(referencing[0], 1);
  referencing[0] = 2;
  EXPECT_FALSE(decode_queue_entry(referencing));
  referencing[0] = 3;
  EXPECT_FALSE(decode_queue_entry(referencing));
}

TEST(records, every_property_round_trips) {
  properties p = full_properties();
  p.session_expiry_interval = 1;
  p.assigned_client_identifier = "x";
  p.server_keep_alive = 2;
  p.authentication_method = "m";
  p.authentication_data = "d";
  p.request_problem_information = 0;
  p.request_response_information = 1;
  p.response_information = "ri";
  p.server_reference = "sr";
  p.reason_string = "rs";
  p.receive_maximum = 65535;
  p.topic_alias_maximum = 3;
  p.maximum_qos = 1;
  p.retain_available = 1;
  p.maximum_packet_size = 1 << 20;
  p.wildcard_subscription_available = 1;
  p.subscription_identifier_available = 0;
  std::string bytes;
  byte_writer w(bytes);
  write_properties(p, w);
  properties decoded;
  byte_reader r(bytes);
  ASSERT_TRUE(read_properties(r, decoded));
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(decoded, p);
}

// Every strict prefix of a valid value is an error: a truncated value never decodes into a wrong record.
template <class Decode>
void expect_every_truncation_fails(const std::string& bytes, Decode decode) {
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decode(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(decoded) << "prefix of " << n << " of " << bytes.size() << " bytes decoded";
    EXPECT_EQ(decoded.failure().code, errc::corruption);
  }
}

TEST(records, truncated_session_record_is_an_error) {
  expect_every_truncation_fails(encode(full_session()), decode_session_record);
}

TEST(records, truncated_stored_message_is_an_error) {
  expect_every_truncation_fails(encode(full_message()), decode_stored_message);
}

TEST(records, truncated_queue_entry_is_an_error) {
  expect_every_truncation_fails(encode(full_entry()), decode_queue_entry);
}

TEST(records, trailing_bytes_are_an_error) {
  EXPECT_FALSE(decode_stored_message(encode(full_message()) + "x"));
  EXPECT_FALSE(decode_queue_entry(encode(full_entry()) + "x"));
  EXPECT_FALSE(decode_session_record(encode(full_session()) + "x"));
}

TEST(records, unknown_format_version_is_an_error) {
  auto bytes = encode(full_entry());
  bytes[0] = 2;
  EXPECT_FALSE(decode_queue_entry(bytes));
}

TEST(records, invalid_flag_values_are_errors) {
  auto entry = encode(queue_entry{1, qos::at_least_once, false, {}, delivery_state::queued, 0, nullptr});
  entry[2] = 0x03;  // QoS 3
  EXPECT_FALSE(decode_queue_entry(entry));
  entry[2] = 0x18;  // state 3
  EXPECT_FALSE(decode_queue_entry(entry));
  // An inflight entry with packet id 0 (MQTT-2.2.1-2).
  EXPECT_FALSE(decode_queue_entry(
      encode(queue_entry{1, qos::at_least_once, false, {}, delivery_state::inflight, 0, nullptr})));
}

TEST(records, huge_length_is_an_error_not_an_allocation) {
  // Version 1, then a topic length of 2^62 with nothing after it.
  const std::string bytes("\x01\xff\xff\xff\xff\xff\xff\xff\xff\x3f", 10);
  auto decoded = decode_stored_message(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.failure().code, errc::corruption);
  EXPECT_FALSE(decode_session_record(bytes));
  EXPECT_FALSE(decode_queue_entry(bytes));
}

TEST(records, unknown_property_id_is_an_error) {
  properties p;
  byte_reader r(std::string_view("\x01\x7f\x00", 3));
  EXPECT_FALSE(read_properties(r, p));
}

}  // namespace
