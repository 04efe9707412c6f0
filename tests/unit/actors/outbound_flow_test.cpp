#include "actors/outbound_flow.hpp"

#include <gtest/gtest.h>

namespace mqhub::actors {
namespace {

queue_limits by_count(size_t messages) {
  return {messages, 0};
}

delivery make_delivery(uint8_t qos, std::string payload = "x");

/// A QoS 1 delivery whose shard stored it under `sequence` for a persistent session.
delivery stored(uint64_t sequence, std::string payload = "x") {
  auto d = make_delivery(1, std::move(payload));
  d.stored_sequence = sequence;
  return d;
}

delivery make_delivery(uint8_t qos, std::string payload) {
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
  outbound_flow flow;
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 1);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 2);
}

TEST(outbound_flow, packet_id_wraps_past_65535_to_one) {  // MQTT-2.2.1-3: ids are non-zero
  outbound_flow flow;
  for (int i = 0; i < 65535; ++i)
    flow.complete(flow.start(make_delivery(1)).packet_id, false);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 1);
}

TEST(outbound_flow, low_packet_ids_wrap_past_32767_to_one) {  // the connection sends with the others
  outbound_flow flow;
  flow.use_low_packet_ids(true);
  for (int i = 0; i < 32767; ++i)
    flow.complete(flow.start(make_delivery(1)).packet_id, false);
  EXPECT_EQ(flow.start(make_delivery(1)).packet_id, 1);
}

TEST(outbound_flow, window_closes_at_the_receive_maximum) {  // MQTT-3.3.4-9
  outbound_flow flow;
  flow.set_window(2);
  flow.start(make_delivery(1));
  EXPECT_TRUE(flow.window_open());
  flow.start(make_delivery(1));
  EXPECT_FALSE(flow.window_open());
  flow.complete(1, false);
  EXPECT_TRUE(flow.window_open());
}

TEST(outbound_flow, puback_does_not_complete_a_qos2_flow) {
  outbound_flow flow;
  auto id = flow.start(make_delivery(2)).packet_id;
  EXPECT_FALSE(flow.complete(id, false));
  EXPECT_FALSE(flow.complete(id, true));  // PUBCOMP before PUBREC
  EXPECT_TRUE(flow.release(id));
  EXPECT_TRUE(flow.complete(id, true));
  EXPECT_TRUE(flow.inflight().empty());
}

TEST(outbound_flow, released_entry_keeps_only_its_packet_id) {  // MQTT-4.3.3-4: after PUBREC, PUBREL only
  outbound_flow flow;
  auto id = flow.start(make_delivery(2)).packet_id;
  flow.release(id);
  EXPECT_TRUE(flow.inflight().front().released);
  EXPECT_EQ(flow.inflight().front().item.msg, nullptr);
}

TEST(outbound_flow, unknown_packet_id_is_reported) {
  outbound_flow flow;
  EXPECT_FALSE(flow.complete(7, false));
  EXPECT_FALSE(flow.release(7));
}

TEST(outbound_flow, queue_keeps_order) {
  outbound_flow flow;
  flow.enqueue(make_delivery(1, "a"), 0, {});
  flow.enqueue(make_delivery(1, "b"), 0, {});
  EXPECT_EQ(flow.next_queued()->msg->payload, "a");
  EXPECT_EQ(flow.next_queued()->msg->payload, "b");
  EXPECT_FALSE(flow.next_queued());
}

TEST(outbound_flow, full_queue_drops_the_new_qos1_message_when_no_qos0_is_queued) {
  outbound_flow flow;
  auto limits = by_count(2);
  EXPECT_FALSE(flow.enqueue(make_delivery(1, "a"), 0, limits).dropped);
  EXPECT_FALSE(flow.enqueue(make_delivery(1, "b"), 0, limits).dropped);
  auto full = flow.enqueue(make_delivery(1, "c"), 0, limits);
  EXPECT_EQ(full.where, queued_in::nowhere);
  EXPECT_EQ(full.dropped->msg->payload, "c");
  EXPECT_EQ(flow.queued(), 2u);
  EXPECT_EQ(flow.next_queued()->msg->payload, "a");
  EXPECT_EQ(flow.next_queued()->msg->payload, "b");
}

TEST(outbound_flow, full_queue_drops_the_oldest_qos0_message_first) {
  outbound_flow flow;
  auto limits = by_count(3);
  flow.enqueue(make_delivery(1, "a"), 0, limits);
  flow.enqueue(make_delivery(0, "zero"), 0, limits);
  flow.enqueue(make_delivery(1, "b"), 0, limits);
  auto full = flow.enqueue(make_delivery(1, "c"), 0, limits);
  EXPECT_EQ(full.where, queued_in::memory);
  EXPECT_EQ(full.dropped->msg->payload, "zero");
  EXPECT_EQ(flow.next_queued()->msg->payload, "a");
  EXPECT_EQ(flow.next_queued()->msg->payload, "b");
  EXPECT_EQ(flow.next_queued()->msg->payload, "c");
}

TEST(outbound_flow, full_queue_drops_a_new_qos0_message) {
  outbound_flow flow;
  flow.enqueue(make_delivery(1, "a"), 0, by_count(1));
  EXPECT_EQ(flow.enqueue(make_delivery(0, "zero"), 0, by_count(1)).dropped->msg->payload, "zero");
  EXPECT_EQ(flow.queued(), 1u);
}

TEST(outbound_flow, restored_inflight_entries_keep_their_ids_and_fresh_ids_follow) {
  outbound_flow flow;
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
  outbound_flow flow;
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
    outbound_flow flow;
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
  outbound_flow flow;
  flow.set_window(1);
  flow.start(make_delivery(1, "a"));
  flow.enqueue(make_delivery(1, "b"), 0, {});
  std::string seen;
  flow.for_each([&](delivery& d) { seen += d.msg->payload; });
  EXPECT_EQ(seen, "ab");
}

TEST(outbound_flow, clear_forgets_inflight_and_queue) {
  outbound_flow flow;
  flow.start(make_delivery(1));
  flow.enqueue(make_delivery(1), 0, {});
  flow.clear();
  EXPECT_TRUE(flow.inflight().empty());
  EXPECT_FALSE(flow.has_queued());
}

// Issue 21: "A limit in bytes".
TEST(outbound_flow, queue_limited_in_bytes_drops_the_new_message) {
  outbound_flow flow;
  queue_limits limits{0, 3 * queued_bytes(*make_delivery(1, "aaaa").msg)};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(flow.enqueue(make_delivery(1, "aaaa"), 0, limits).where, queued_in::memory);
  auto full = flow.enqueue(make_delivery(1, "aaaa"), 0, limits);
  EXPECT_EQ(full.where, queued_in::nowhere);
  EXPECT_EQ(flow.queued(), 3u);
}

TEST(outbound_flow, empty_queue_takes_a_message_larger_than_its_byte_limit) {
  outbound_flow flow;
  queue_limits limits{0, 10};
  EXPECT_EQ(flow.enqueue(make_delivery(1, std::string(100, 'x')), 0, limits).where, queued_in::memory);
  EXPECT_EQ(flow.enqueue(make_delivery(1, "y"), 0, limits).where, queued_in::nowhere);
}

// Issue 21: "A session's queue lives in RocksDB, with only a bounded window in memory".
TEST(outbound_flow, stored_messages_beyond_memory_stay_on_disk) {
  outbound_flow flow;  // offline
  uint64_t sequence = 0;
  size_t in_memory = 0;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory)
    ++in_memory;
  EXPECT_GT(in_memory, 0u);
  EXPECT_LT(in_memory, 1000u) << "an offline session holds only a small window in memory";
  EXPECT_EQ(flow.queued_on_disk(), 1u);
  // Behind a message on disk, every later stored one goes there too, whatever memory holds: order.
  for (size_t i = 0; i < in_memory; ++i)
    flow.next_queued();
  EXPECT_EQ(flow.enqueue(stored(++sequence), 0, {}).where, queued_in::disk);
  EXPECT_EQ(flow.queued(), 2u);
  EXPECT_FALSE(flow.next_queued()) << "nothing in memory";
  EXPECT_TRUE(flow.has_queued());
}

TEST(outbound_flow, a_message_without_a_stored_entry_is_never_left_on_disk) {
  outbound_flow flow;
  uint64_t sequence = 0;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory) {
  }
  EXPECT_EQ(flow.enqueue(make_delivery(1, "memory only"), 0, {}).where, queued_in::memory);
}

TEST(outbound_flow, a_stored_message_that_comes_late_stays_in_memory) {
  // Sequences ascend per shard: a read of the disk starts after the highest one in memory, so a message
  // below it that its shard delivers late could never be read back.
  outbound_flow flow;
  uint64_t sequence = 100;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory) {
  }
  EXPECT_EQ(flow.enqueue(stored(50, "late"), 1, {}).where, queued_in::memory);
}

TEST(outbound_flow, a_read_takes_only_what_a_barrier_covers) {
  outbound_flow flow;
  flow.set_online(true);
  flow.set_window(4);
  uint64_t sequence = 0;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory) {
  }
  const uint64_t first_on_disk = sequence;
  flow.enqueue(stored(++sequence), 1, {});  // shard 1
  while (flow.next_queued()) {
  }
  ASSERT_TRUE(flow.wants_read());
  ASSERT_TRUE(flow.needs_barrier()) << "left on disk since the last barrier: maybe not committed yet";
  flow.barrier_asked();
  flow.enqueue(stored(++sequence), 0, {});  // after the barrier was asked for
  EXPECT_TRUE(flow.needs_barrier());
  flow.read_started();
  EXPECT_FALSE(flow.wants_read()) << "one read at a time";
  EXPECT_EQ(flow.take_from_disk(stored(first_on_disk), 0), disk_read_end::taken);
  EXPECT_EQ(flow.take_from_disk(stored(first_on_disk + 1), 1), disk_read_end::taken);
  EXPECT_EQ(flow.take_from_disk(stored(first_on_disk + 2), 0), disk_read_end::untold)
      << "told after the barrier was asked for: not known to be committed";
  flow.read_done(disk_read_end::untold);
  EXPECT_EQ(flow.queued_on_disk(), 1u);
  EXPECT_EQ(flow.disk_cursor(), first_on_disk + 1);
  EXPECT_EQ(flow.next_queued()->stored_sequence, first_on_disk);
}

TEST(outbound_flow, a_read_stops_before_a_message_left_on_disk_after_its_barrier) {
  // Shards' sequences interleave: shard 1's message, left on disk after the barrier was asked for, may not be
  // committed yet, while shard 0's later ones are. A read that took those would pass it for good.
  outbound_flow flow;
  flow.set_online(true);
  flow.set_window(4);
  uint64_t sequence = 0;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory) {
  }
  const uint64_t shard0 = sequence + 100;
  flow.enqueue(stored(shard0), 0, {});
  while (flow.next_queued()) {
  }
  flow.barrier_asked();
  EXPECT_EQ(flow.enqueue(stored(sequence + 50), 1, {}).where, queued_in::disk);
  flow.read_started();
  EXPECT_EQ(flow.take_from_disk(stored(sequence), 0), disk_read_end::taken);
  EXPECT_EQ(flow.take_from_disk(stored(shard0), 0), disk_read_end::untold);
  flow.read_done(disk_read_end::untold);
  EXPECT_TRUE(flow.wants_read()) << "the next read, after its own barrier, takes both";
  EXPECT_TRUE(flow.needs_barrier());
}

TEST(outbound_flow, a_read_stops_at_an_entry_its_shard_has_not_delivered) {
  outbound_flow flow;
  flow.set_online(true);
  flow.set_window(4);
  uint64_t sequence = 10;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory) {
  }
  while (flow.next_queued()) {
  }
  flow.barrier_asked();
  flow.read_started();
  // Shard 1 stored 12345 for this session but has not delivered it yet: its delivery will be left on disk
  // and read then, so this read must neither take it nor pass it.
  EXPECT_EQ(flow.take_from_disk(stored(sequence + 1), 1), disk_read_end::untold);
  flow.read_done(disk_read_end::untold);
  EXPECT_FALSE(flow.wants_read()) << "reading again would find the same entry";
  EXPECT_EQ(flow.enqueue(stored(sequence + 1), 1, {}).where, queued_in::disk);
  EXPECT_TRUE(flow.wants_read());
}

TEST(outbound_flow, a_read_stops_when_memory_holds_enough) {
  outbound_flow flow;
  flow.set_online(true);
  flow.set_window(4);
  uint64_t sequence = 0;
  for (int i = 0; i < 1000; ++i)
    flow.enqueue(stored(++sequence), 0, {});
  while (flow.next_queued()) {
  }
  flow.barrier_asked();
  flow.read_started();
  const uint64_t start = flow.disk_cursor();
  uint64_t taken = 0;
  while (flow.take_from_disk(stored(start + 1 + taken), 0) == disk_read_end::taken)
    ++taken;
  flow.read_done(disk_read_end::memory_full);
  EXPECT_GT(taken, 0u);
  EXPECT_LT(taken, 1000u);
  EXPECT_FALSE(flow.wants_read());
  EXPECT_EQ(flow.queued(), 1000u - start) << "taken into memory or still on disk, every one counted once";
  EXPECT_EQ(flow.disk_cursor(), start + taken);
}

TEST(outbound_flow, the_end_of_the_queue_on_disk_settles_its_count) {
  outbound_flow flow;
  flow.restore_disk(5, 500, 42);  // a summary that says 5; the disk holds fewer
  flow.set_online(true);
  ASSERT_TRUE(flow.wants_read());
  EXPECT_FALSE(flow.needs_barrier()) << "everything restored was committed before the restart";
  flow.read_started();
  EXPECT_EQ(flow.take_from_disk(stored(40), 3), disk_read_end::taken) << "restored: any shard";
  flow.read_done(disk_read_end::end_of_queue);
  EXPECT_EQ(flow.queued(), 1u);
  EXPECT_EQ(flow.queued_on_disk(), 0u);
}

TEST(outbound_flow,
     the_end_of_the_queue_settles_nothing_while_messages_left_since_the_barrier_may_be_missing) {
  outbound_flow flow;
  flow.set_online(true);
  uint64_t sequence = 0;
  while (flow.enqueue(stored(++sequence), 0, {}).where == queued_in::memory) {
  }
  while (flow.next_queued()) {
  }
  flow.barrier_asked();
  flow.enqueue(stored(++sequence), 1, {});  // its entry may not be committed: a read may not see it
  flow.read_started();
  flow.take_from_disk(stored(sequence - 1), 0);
  flow.read_done(disk_read_end::end_of_queue);
  EXPECT_EQ(flow.queued_on_disk(), 1u);
  EXPECT_TRUE(flow.wants_read());
}

TEST(outbound_flow, on_disk_is_true_only_for_what_was_left_there) {
  outbound_flow flow;
  uint64_t sequence = 0;
  while (flow.enqueue(stored(++sequence), 2, {}).where == queued_in::memory) {
  }
  EXPECT_TRUE(flow.on_disk(sequence, 2));
  EXPECT_FALSE(flow.on_disk(sequence, 1)) << "another shard's entry: not delivered here";
  EXPECT_FALSE(flow.on_disk(sequence - 1, 2)) << "in memory";
  EXPECT_FALSE(flow.on_disk(sequence + 1, 2)) << "not delivered yet";
}

}  // namespace
}  // namespace mqhub::actors
