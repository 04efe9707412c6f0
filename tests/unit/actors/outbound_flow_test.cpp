#include "actors/outbound_flow.hpp"

#include <gtest/gtest.h>

namespace mqhub::actors {
namespace {

delivery make_delivery(uint8_t qos, std::string payload = "x") {
  auto m = std::make_shared<message>();
  m->topic = "t";
  m->payload = std::move(payload);
  m->qos_level = static_cast<net::mqtt::qos>(qos);
  delivery d;
  d.msg = m;
  d.qos = qos;
  return d;
}

TEST(outbound_flow, packet_ids_start_at_one_and_ascend) {
  outbound_flow flow(10);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 1);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 2);
}

TEST(outbound_flow, packet_id_wraps_past_65535_to_one) {  // MQTT-2.2.1-3: ids are non-zero
  outbound_flow flow(10);
  for (int i = 0; i < 65535; ++i)
    flow.complete(flow.start(make_delivery(1)).packet_id, false);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 1);
}

TEST(outbound_flow, low_packet_ids_wrap_past_32767_to_one) {  // the connection sends with the others
  outbound_flow flow(10);
  flow.use_low_packet_ids(true);
  for (int i = 0; i < 32767; ++i)
    flow.complete(flow.start(make_delivery(1)).packet_id, false);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 1);
}

TEST(outbound_flow, window_closes_at_the_receive_maximum) {  // MQTT-3.3.4-9
  outbound_flow flow(10);
  flow.set_window(2);
  flow.start(make_delivery(1));
  EXPECT_TRUE(flow.window_open());
  flow.start(make_delivery(1));
  EXPECT_FALSE(flow.window_open());
  flow.complete(1, false);
  EXPECT_TRUE(flow.window_open());
}

TEST(outbound_flow, puback_does_not_complete_a_qos2_flow) {
  outbound_flow flow(10);
  auto id = flow.start(make_delivery(2)).packet_id;
  EXPECT_FALSE(flow.complete(id, false));
  EXPECT_FALSE(flow.complete(id, true));  // PUBCOMP before PUBREC
  EXPECT_TRUE(flow.release(id));
  EXPECT_TRUE(flow.complete(id, true));
  EXPECT_TRUE(flow.inflight().empty());
}

TEST(outbound_flow, released_entry_keeps_only_its_packet_id) {  // MQTT-4.3.3-4: after PUBREC, PUBREL only
  outbound_flow flow(10);
  auto id = flow.start(make_delivery(2)).packet_id;
  flow.release(id);
  EXPECT_TRUE(flow.inflight().front().released);
  EXPECT_EQ(flow.inflight().front().item.msg, nullptr);
}

TEST(outbound_flow, unknown_packet_id_is_reported) {
  outbound_flow flow(10);
  EXPECT_FALSE(flow.complete(7, false));
  EXPECT_FALSE(flow.release(7));
}

TEST(outbound_flow, queue_keeps_order) {
  outbound_flow flow(10);
  flow.enqueue(make_delivery(1, "a"));
  flow.enqueue(make_delivery(1, "b"));
  EXPECT_EQ(flow.next_queued()->msg->payload, "a");
  EXPECT_EQ(flow.next_queued()->msg->payload, "b");
  EXPECT_FALSE(flow.next_queued());
}

TEST(outbound_flow, full_queue_drops_the_new_qos1_message_when_no_qos0_is_queued) {
  outbound_flow flow(2);
  EXPECT_FALSE(flow.enqueue(make_delivery(1, "a")));
  EXPECT_FALSE(flow.enqueue(make_delivery(1, "b")));
  EXPECT_EQ(flow.enqueue(make_delivery(1, "c"))->msg->payload, "c");
  EXPECT_EQ(flow.queued(), 2u);
  EXPECT_EQ(flow.next_queued()->msg->payload, "a");
  EXPECT_EQ(flow.next_queued()->msg->payload, "b");
}

TEST(outbound_flow, full_queue_drops_the_oldest_qos0_message_first) {
  outbound_flow flow(3);
  flow.enqueue(make_delivery(1, "a"));
  flow.enqueue(make_delivery(0, "zero"));
  flow.enqueue(make_delivery(1, "b"));
  EXPECT_EQ(flow.enqueue(make_delivery(1, "c"))->msg->payload, "zero");
  EXPECT_EQ(flow.next_queued()->msg->payload, "a");
  EXPECT_EQ(flow.next_queued()->msg->payload, "b");
  EXPECT_EQ(flow.next_queued()->msg->payload, "c");
}

TEST(outbound_flow, full_queue_drops_a_new_qos0_message) {
  outbound_flow flow(1);
  flow.enqueue(make_delivery(1, "a"));
  EXPECT_EQ(flow.enqueue(make_delivery(0, "zero"))->msg->payload, "zero");
  EXPECT_EQ(flow.queued(), 1u);
}

TEST(outbound_flow, restored_inflight_entries_keep_their_ids_and_fresh_ids_follow) {
  outbound_flow flow(5);
  flow.restore_inflight(make_delivery(1, "a"), 41, false);
  flow.restore_inflight(make_delivery(2, "b"), 42, true);
  EXPECT_EQ(flow.inflight_count(), 2u);
  EXPECT_EQ(flow.inflight()[1].item.msg, nullptr);  // released: only the PUBREL is resent
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 43);
  EXPECT_TRUE(flow.complete(42, true));
  EXPECT_EQ(flow.complete(41, false)->msg->payload, "a");
}

TEST(outbound_flow, fresh_ids_skip_restored_ids_still_in_flight) {
  // Restored in stored order, which need not be send order: 7 was sent after 8.
  outbound_flow flow(5);
  flow.restore_inflight(make_delivery(1, "a"), 8, false);
  flow.restore_inflight(make_delivery(1, "b"), 7, false);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 9);  // not 8, which "a" still holds
  flow.complete(8, false);
  flow.complete(7, false);
  flow.complete(9, false);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 10);
}

TEST(outbound_flow, fresh_ids_skip_an_id_the_client_has_held_for_a_whole_cycle) {
  // A QoS 2 message whose PUBREC never comes while the client acknowledges everything after it: its id must
  // not be handed out again, or the client would see two flows under one id (MQTT-2.2.1-3).
  for (bool low : {false, true}) {
    outbound_flow flow(10);
    flow.use_low_packet_ids(low);
    const uint16_t held = flow.start(make_delivery(2)).packet_id;
    const uint16_t held_later = flow.start(make_delivery(2)).packet_id;
    const int cycle = low ? 32767 : 65535;
    for (int i = 0; i < 2 * cycle; ++i) {
      auto id = flow.start(make_delivery(1)).packet_id;
      ASSERT_NE(id, held);
      ASSERT_NE(id, held_later);
      ASSERT_TRUE(flow.complete(id, false));
    }
    EXPECT_TRUE(flow.release(held));
    EXPECT_TRUE(flow.complete(held, true));
    EXPECT_EQ(flow.inflight_count(), 1U);
  }
}

TEST(outbound_flow, for_each_visits_inflight_then_queued) {
  outbound_flow flow(5);
  flow.set_window(1);
  flow.start(make_delivery(1, "a"));
  flow.enqueue(make_delivery(1, "b"));
  std::string seen;
  flow.for_each([&](delivery& d) { seen += d.msg->payload; });
  EXPECT_EQ(seen, "ab");
}

TEST(outbound_flow, clear_forgets_inflight_and_queue) {
  outbound_flow flow(5);
  flow.start(make_delivery(1));
  flow.enqueue(make_delivery(1));
  flow.clear();
  EXPECT_TRUE(flow.inflight().empty());
  EXPECT_FALSE(flow.has_queued());
}

}  // namespace
}  // namespace mqhub::actors
