#include "actors/wire_form.hpp"

#include <gtest/gtest.h>

#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actor_test_support.hpp"

namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using namespace std::chrono_literals;

/// The bytes CAF sends to another node and what that node reads back from them.
cluster::wire_message across_the_wire(const cluster::wire_message& sent) {
  std::vector<char> bytes;
  caf::binary_serializer sink{nullptr, bytes};
  auto copy = sent;  // CAF 0.17 inspects through a mutable reference, for reading and writing alike
  EXPECT_FALSE(sink(copy));
  cluster::wire_message received;
  caf::binary_deserializer source{nullptr, bytes};
  EXPECT_FALSE(source(received));
  return received;
}

TEST(wire_form, a_message_crosses_to_another_node_whole) {
  auto msg = test_support::make_full_message();
  auto now = clock::now();
  auto back = from_wire(across_the_wire(to_wire(*msg, now)), now);
  test_support::expect_same_message(*back, *msg);
}

TEST(wire_form, no_properties_stay_null) {  // the hot path relies on a null property set
  auto msg = std::make_shared<message>();
  msg->topic = "t";
  auto now = clock::now();
  auto back = from_wire(across_the_wire(to_wire(*msg, now)), now);
  EXPECT_EQ(back->props, nullptr);
}

// Issue 22: expiry goes as time left, not as a steady_clock point, since two nodes' clocks share no epoch.
TEST(wire_form, an_expiry_travels_as_time_left_and_becomes_a_deadline_on_the_receivers_clock) {
  auto msg = std::make_shared<message>();
  msg->topic = "t";
  auto sender_now = clock::now();
  msg->expires_at = sender_now + 10s;
  auto wire = across_the_wire(to_wire(*msg, sender_now + 4s));
  EXPECT_EQ(wire.expires_in_ms, 6000);
  auto receiver_now = clock::time_point(1h);  // another process: an unrelated epoch
  auto back = from_wire(std::move(wire), receiver_now);
  ASSERT_TRUE(back->expires_at);
  EXPECT_EQ(*back->expires_at, receiver_now + 6s);
  ASSERT_NE(back->props, nullptr);
  EXPECT_EQ(back->props->message_expiry_interval, 6u);
}

TEST(wire_form, a_message_expired_on_the_way_arrives_expired) {
  auto msg = std::make_shared<message>();
  msg->topic = "t";
  auto now = clock::now();
  msg->expires_at = now + 1s;
  auto back = from_wire(across_the_wire(to_wire(*msg, now + 2s)), now);
  ASSERT_TRUE(back->expires_at);
  EXPECT_TRUE(back->expired(now));
}

}  // namespace
}  // namespace mqhub::actors
