#include "actors/wire_form.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actor_test_support.hpp"

namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using namespace std::chrono_literals;

/// The bytes CAF sends to another node and what that node reads back from them.
cluster::message_batch across_the_wire(const cluster::message_batch& sent) {
  std::vector<char> bytes;
  caf::binary_serializer sink{nullptr, bytes};
  auto copy = sent;  // CAF 0.17 inspects through a mutable reference, for reading and writing alike
  EXPECT_FALSE(sink(copy));
  cluster::message_batch received;
  caf::binary_deserializer source{nullptr, bytes};
  EXPECT_FALSE(source(received));
  return received;
}

/// The one message of a batch of one, sent at `sent_at` and read at `read_at`.
message_ptr round_trip(const message& msg, clock::time_point sent_at, clock::time_point read_at) {
  cluster::message_batch batch;
  append_to_batch(batch, msg, sent_at);
  auto messages = read_batch(across_the_wire(batch), read_at);
  EXPECT_TRUE(messages.has_value());
  EXPECT_EQ(messages ? messages->size() : 0u, 1u);
  return messages && messages->size() == 1 ? (*messages)[0].msg : nullptr;
}

TEST(wire_form, a_message_crosses_to_another_node_whole) {
  auto msg = test_support::make_full_message();
  auto now = clock::now();
  auto back = round_trip(*msg, now, now);
  ASSERT_NE(back, nullptr);
  test_support::expect_same_message(*back, *msg);
}

TEST(wire_form, no_properties_stay_null) {  // the hot path relies on a null property set
  auto msg = std::make_shared<message>();
  msg->topic = "t";
  auto now = clock::now();
  auto back = round_trip(*msg, now, now);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->props, nullptr);
}

// Issue 22: expiry goes as time left, not as a steady_clock point, since two nodes' clocks share no epoch.
TEST(wire_form, an_expiry_travels_as_time_left_and_becomes_a_deadline_on_the_receivers_clock) {
  auto msg = std::make_shared<message>();
  msg->topic = "t";
  auto sender_now = clock::now();
  msg->expires_at = sender_now + 10s;
  auto receiver_now = clock::time_point(1h);  // another process: an unrelated epoch
  auto back = round_trip(*msg, sender_now + 4s, receiver_now);
  ASSERT_NE(back, nullptr);
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
  auto back = round_trip(*msg, now + 2s, now);
  ASSERT_NE(back, nullptr);
  ASSERT_TRUE(back->expires_at);
  EXPECT_TRUE(back->expired(now));
}

TEST(wire_form, a_batch_keeps_its_order_and_each_messages_publisher_and_shared_groups) {
  auto now = clock::now();
  cluster::message_batch batch;
  append_to_batch(batch, *test_support::make_test_message("a", "1"), now);
  append_to_batch(batch, *test_support::make_test_message("b", "2", mqtt::qos::exactly_once, true), now,
                  {"$share/g1/b", "$share/g2/#"});
  append_to_batch(batch, *test_support::make_test_message("c", "", mqtt::qos::at_most_once, false, "other"),
                  now);
  append_to_batch(batch, *test_support::make_test_message("d", "4"), now);
  auto messages = read_batch(across_the_wire(batch), now);
  ASSERT_TRUE(messages.has_value());
  ASSERT_EQ(messages->size(), 4u);
  EXPECT_EQ((*messages)[0].msg->topic, "a");
  EXPECT_TRUE((*messages)[0].shared_groups.empty());
  const auto& second = *(*messages)[1].msg;
  EXPECT_EQ(second.topic, "b");
  EXPECT_EQ(second.payload, "2");
  EXPECT_EQ(second.qos_level, mqtt::qos::exactly_once);
  EXPECT_TRUE(second.retain);
  EXPECT_EQ(second.publisher.view(), "publisher");
  EXPECT_EQ((*messages)[1].shared_groups, (std::vector<std::string>{"$share/g1/b", "$share/g2/#"}));
  EXPECT_EQ((*messages)[2].msg->payload, "");
  EXPECT_EQ((*messages)[2].msg->publisher.view(), "other");
  EXPECT_EQ((*messages)[3].msg->publisher.view(), "publisher");
}

TEST(wire_form, an_empty_batch_reads_as_no_messages) {
  auto messages = read_batch(cluster::message_batch{}, clock::now());
  ASSERT_TRUE(messages.has_value());
  EXPECT_TRUE(messages->empty());
}

// It comes from another process: a damaged batch is refused whole, never read as something else.
TEST(wire_form, a_damaged_batch_is_refused) {
  auto now = clock::now();
  cluster::message_batch good;
  append_to_batch(good, *test_support::make_full_message(), now, {"$share/g/t"});
  append_to_batch(good, *test_support::make_test_message("b", "payload"), now);
  ASSERT_TRUE(read_batch(good, now).has_value());

  for (size_t cut = 0; cut < good.bytes.size(); ++cut) {
    auto truncated = good;
    truncated.bytes.resize(cut);
    EXPECT_FALSE(read_batch(truncated, now).has_value()) << "cut at " << cut;
  }
  auto trailing = good;
  trailing.bytes.push_back('\0');
  EXPECT_FALSE(read_batch(trailing, now).has_value());
  auto more_counted = good;
  ++more_counted.count;
  EXPECT_FALSE(read_batch(more_counted, now).has_value());
  auto huge_count = good;
  huge_count.count = 0xFFFFFFFF;
  EXPECT_FALSE(read_batch(huge_count, now).has_value());
  auto other_version = good;
  other_version.bytes[0] = 2;
  EXPECT_FALSE(read_batch(other_version, now).has_value());
  auto qos_three = good;
  qos_three.bytes[1] |= 0x03;
  EXPECT_FALSE(read_batch(qos_three, now).has_value());
  auto unknown_flag = good;
  unknown_flag.bytes[1] |= 0x40;
  EXPECT_FALSE(read_batch(unknown_flag, now).has_value());
}

}  // namespace
}  // namespace mqhub::actors
