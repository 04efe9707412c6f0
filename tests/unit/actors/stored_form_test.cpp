#include "actors/stored_form.hpp"

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "actors/durable_store.hpp"

namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;

clocks at(clock::time_point steady, storage::epoch_seconds wall) {
  return clocks{steady, wall};
}

TEST(stored_form, message_survives_the_round_trip) {
  auto msg = test_support::make_full_message();
  auto now = at(clock::now(), 1'000'000);

  auto back = from_stored(to_stored(*msg, now), now);
  test_support::expect_same_message(*back, *msg);
}

TEST(stored_form, no_properties_stay_null) {  // the hot path relies on a null property set
  message msg;
  msg.topic = "t";
  auto now = at(clock::now(), 5);
  EXPECT_EQ(from_stored(to_stored(msg, now), now)->props, nullptr);
}

TEST(stored_form, expiry_is_wall_clock_on_disk_and_keeps_the_time_left_across_a_restart) {
  message msg;
  msg.topic = "t";
  auto before = at(clock::now(), 1'000'000);
  msg.expires_at = before.steady + std::chrono::seconds(60);
  auto stored = to_stored(msg, before);
  ASSERT_TRUE(stored.expiry);
  EXPECT_EQ(*stored.expiry, 1'000'060);

  // Twenty seconds of downtime later, in a process whose steady clock started anew.
  auto after = at(clock::time_point{} + std::chrono::hours(1), 1'000'020);
  auto back = from_stored(stored, after);
  ASSERT_TRUE(back->expires_at);
  EXPECT_EQ(*back->expires_at - after.steady, std::chrono::seconds(40));
}

TEST(stored_form, queue_entry_carries_the_delivery_as_granted) {
  delivery item;
  item.qos = 1;
  item.retain = true;
  item.subscription_ids = {3, 9};
  item.message_id = 77;
  auto entry = to_queue_entry(item, storage::delivery_state::inflight, 12);
  EXPECT_EQ(entry.message_id, 77u);
  EXPECT_EQ(entry.granted_qos, mqtt::qos::at_least_once);
  EXPECT_TRUE(entry.retain);
  EXPECT_EQ(entry.subscription_ids, (std::vector<uint32_t>{3, 9}));
  EXPECT_EQ(entry.state, storage::delivery_state::inflight);
  EXPECT_EQ(entry.packet_id, 12);
}

}  // namespace
}  // namespace mqhub::actors
