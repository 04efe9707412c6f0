#include "actors/session_table.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace mqhub::actors {
namespace {

class quiet_sink final : public connection_sink {
 public:
  void write(std::vector<out_buffer> /*buffers*/) override {}
  void write_publish_acks(out_buffer /*acks*/, uint32_t /*pubacks*/) override {}
  void write_deliveries(std::vector<out_buffer> /*buffers*/) override {}
  void open_direct_qos1(uint16_t /*window*/) override {}
  void write_direct_qos1(std::vector<mqhub::actors::delivery>& /*deliveries*/,
                         mqhub::net::mqtt::protocol_version /*version*/,
                         uint32_t /*maximum_packet_size*/) override {}
  void attached(caf::actor /*session*/, std::vector<out_buffer> /*first_packets*/) override {}
  void close(std::vector<out_buffer> /*last_packets*/,
             std::unique_ptr<net::mqtt::will_message> /*will*/) override {}
  void abort() override {}
  size_t pending_bytes() const override { return 0; }
  void routed(size_t /*inbound_bytes*/) override {}
};

connect_request request_for(const std::string& client_id, bool with_will = false) {
  connect_request request;
  request.sink = std::make_shared<quiet_sink>();
  request.client_id = client_id;
  request.version = net::mqtt::protocol_version::v5;
  request.receive_maximum = 10;
  request.maximum_packet_size = 2048;
  request.request_problem_information = false;
  if (with_will) {
    net::mqtt::will_message will;
    will.topic = "status/" + client_id;
    will.payload = "gone";
    request.will = std::move(will);
  }
  return request;
}

struct outcome {
  bool acknowledged = false;
  bool forwarded = false;
};

outcome connect(session_table& table, connect_request& request, bool may_be_dormant) {
  outcome result;
  table.connect(
      request, may_be_dormant, [&] { result.acknowledged = true; },
      [&](connect_request&) { result.forwarded = true; });
  return result;
}

TEST(session_table, a_client_id_it_does_not_hold_is_registered_dormant_and_answered_by_its_connection) {
  session_table table;
  auto request = request_for("a", true);
  auto sink = request.sink;
  auto result = connect(table, request, true);
  EXPECT_TRUE(result.acknowledged);
  EXPECT_FALSE(result.forwarded);
  ASSERT_EQ(table.entries.count("a"), 1U);
  const auto& entry = table.entries.at("a");
  EXPECT_EQ(entry.dormant.sink, sink);
  ASSERT_NE(entry.dormant.will, nullptr);
  EXPECT_EQ(entry.dormant.will->topic, "status/a");
  EXPECT_FALSE(entry.session);
}

TEST(session_table, a_client_id_it_holds_goes_to_the_directory) {
  session_table table;
  auto first = request_for("a");
  connect(table, first, true);
  auto second = request_for("a");
  auto result = connect(table, second, true);
  EXPECT_FALSE(result.acknowledged);
  EXPECT_TRUE(result.forwarded);  // the directory takes the dormant one over
  EXPECT_EQ(table.connects_in_flight, 1U);
}

TEST(session_table, a_session_that_may_not_be_dormant_goes_to_the_directory) {
  session_table table;
  auto request = request_for("a");
  auto result = connect(table, request, false);  // session expiry > 0
  EXPECT_TRUE(result.forwarded);
  EXPECT_EQ(table.entries.count("a"), 0U);
}

TEST(session_table, no_connect_is_answered_while_one_waits_for_the_directory) {
  // A CONNECT sent to the directory before must not be overtaken: it would take the later client over.
  session_table table;
  auto earlier = request_for("a");
  connect(table, earlier, false);
  auto later = request_for("a");
  auto result = connect(table, later, true);
  EXPECT_TRUE(result.forwarded);
  EXPECT_FALSE(result.acknowledged);
  EXPECT_EQ(table.connects_in_flight, 2U);
}

TEST(session_table, a_dormant_client_that_leaves_is_forgotten_with_its_will) {
  session_table table;
  auto request = request_for("a", true);
  auto sink = request.sink;
  connect(table, request, true);
  auto will = table.forget_dormant("a", sink.get());
  ASSERT_TRUE(will.has_value());
  ASSERT_NE(*will, nullptr);
  EXPECT_EQ((*will)->payload, "gone");
  EXPECT_EQ(table.entries.count("a"), 0U);
}

TEST(session_table, a_connection_taken_over_does_not_forget_its_successor) {
  session_table table;
  auto request = request_for("a");
  connect(table, request, true);
  quiet_sink taken_over;
  EXPECT_FALSE(table.forget_dormant("a", &taken_over).has_value());
  EXPECT_EQ(table.entries.count("a"), 1U);
}

TEST(session_table, a_woken_session_starts_from_what_the_dormant_one_kept) {
  auto request = request_for("a", true);
  auto sink = request.sink;
  auto dormant = dormant_session::of(request);
  auto woken = dormant.wake("a");
  EXPECT_EQ(woken.sink, sink);
  EXPECT_EQ(woken.client_id, "a");
  EXPECT_EQ(woken.version, net::mqtt::protocol_version::v5);
  EXPECT_EQ(woken.receive_maximum, 10);
  EXPECT_EQ(woken.maximum_packet_size, 2048U);
  EXPECT_FALSE(woken.request_problem_information);
  ASSERT_TRUE(woken.will.has_value());
  EXPECT_EQ(woken.will->topic, "status/a");
  EXPECT_TRUE(woken.connack_sent);  // the session must not send a second CONNACK
  EXPECT_EQ(woken.session_expiry, 0U);
}

}  // namespace
}  // namespace mqhub::actors
