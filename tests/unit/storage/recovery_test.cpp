#include "storage/recovery.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "storage/key_encoding.hpp"
#include "tests/unit/storage/temp_dir.hpp"

namespace {

using namespace mqhub::storage;
using mqhub::net::mqtt::qos;
using mqhub::storage::testing::temp_dir;

constexpr epoch_seconds now = 1'800'000'000;

std::unique_ptr<database> open_db(const std::filesystem::path& dir) {
  auto db = database::open({dir});
  if (!db) {
    ADD_FAILURE() << db.failure().message;
    return nullptr;
  }
  return std::move(*db);
}

session_record session(std::string id, std::optional<epoch_seconds> deadline = now + 3600) {
  session_record r;
  r.client_id = std::move(id);
  r.session_expiry_interval = 3600;
  r.expiry_deadline = deadline;
  r.subscriptions = {{"a/#", qos::at_least_once, false, false, 0, 5}};
  return r;
}

stored_message message(std::string topic, std::optional<epoch_seconds> expiry = std::nullopt) {
  stored_message m;
  m.topic = std::move(topic);
  m.payload = "payload";
  m.qos_level = qos::at_least_once;
  m.expiry = expiry;
  return m;
}

queue_entry entry(uint64_t id, delivery_state state = delivery_state::queued, uint16_t packet_id = 0) {
  return {id, qos::at_least_once, false, {5}, state, packet_id, nullptr};
}

recovered_state recover_ok(database& db, epoch_seconds at = now) {
  auto state = recover(db, at);
  if (!state) {
    ADD_FAILURE() << state.failure().message;
    return {};
  }
  return std::move(*state);
}

const recovered_session* find(const recovered_state& state, std::string_view id) {
  for (const auto& s : state.sessions) {
    if (s.record.client_id == id) {
      return &s;
    }
  }
  return nullptr;
}

// Issue: "On start the node recovers sessions, subscriptions, queues, inflight state and retained messages."
TEST(recovery, restores_sessions_and_retained_messages_and_sums_up_queues) {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    write_batch b;
    b.put_session(session("a"));
    b.put_session(session("b"));
    b.put_inbound_qos2("a", 9);
    b.put_inbound_qos2("a", 3);
    b.put_message(10, message("x"));
    b.put_message(11, message("y"));
    b.enqueue("a", 1, entry(10, delivery_state::pubrec, 7));
    b.enqueue("a", 2, entry(11, delivery_state::inflight, 8));
    b.enqueue("a", 3, entry(10));
    b.enqueue("b", 1, entry(10));
    b.put_retained(message("r/1"));
    ASSERT_TRUE(db->write(b, true));
  }
  auto db = open_db(dir.db());
  auto state = recover_ok(*db);
  EXPECT_TRUE(state.report.clean());
  ASSERT_EQ(state.sessions.size(), 2u);
  const auto* a = find(state, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->record, session("a"));
  EXPECT_EQ(a->inbound_qos2, (std::vector<uint16_t>{3, 9}));
  // Issue 21: the queue is summed up, not read: its entries stay on disk until the session reads them.
  EXPECT_EQ(a->queue.queued, 1u);
  EXPECT_EQ(a->queue.queued_bytes, encode(message("x")).size()) << "the message row the entry references";
  EXPECT_EQ(a->queue.sent, 2u);
  EXPECT_EQ(a->queue.last_sequence, 3u);
  EXPECT_EQ(a->queue.last_sent_sequence, 2u);
  EXPECT_EQ(find(state, "b")->queue.queued, 1u);
  ASSERT_EQ(state.retained.size(), 1u);
  EXPECT_EQ(state.retained[0].topic, "r/1");
  EXPECT_EQ(state.next_message_id, 12u);
  EXPECT_EQ(db->references(10), 3u);
  EXPECT_EQ(db->references(11), 1u);
}

TEST(recovery, entries_holding_their_message_are_summed_up_and_raise_the_next_message_id) {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    write_batch b;
    b.put_session(session("a"));
    b.put_message(10, message("referenced"));
    b.enqueue("a", queue_sequence(10, 0), entry(10));
    auto own = entry(0, delivery_state::inflight, 3);
    own.message = std::make_shared<const stored_message>(message("own"));
    b.enqueue("a", queue_sequence(40, 0), own);
    b.enqueue("a", queue_sequence(41, 0), entry(0, delivery_state::pubrec, 4));
    auto expired = entry(0);
    expired.message = std::make_shared<const stored_message>(message("old", now - 1));
    b.enqueue("a", queue_sequence(42, 0), expired);
    ASSERT_TRUE(db->write(b, true));
  }
  auto db = open_db(dir.db());
  auto state = recover_ok(*db);
  const auto* a = find(state, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->queue.queued, 2u) << "an expired message is dropped when it is read, not at recovery";
  EXPECT_EQ(a->queue.sent, 2u);
  EXPECT_EQ(a->queue.last_sent_sequence, queue_sequence(41, 0));
  EXPECT_EQ(a->queue.last_sequence, queue_sequence(42, 0));
  // No `messages` row has 42, but its sequence does: a new id below it would reuse a queue key.
  EXPECT_EQ(state.next_message_id, 43u);
  EXPECT_EQ(db->references(10), 1u);
  EXPECT_EQ(db->references(0), 0u);
}

TEST(recovery, session_without_queue_is_recovered_with_an_empty_one) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch b;
  b.put_session(session("lonely"));
  ASSERT_TRUE(db->write(b, true));
  auto state = recover_ok(*db);
  ASSERT_EQ(state.sessions.size(), 1u);
  EXPECT_EQ(state.sessions[0].queue.queued + state.sessions[0].queue.sent, 0u);
  EXPECT_EQ(state.sessions[0].queue.last_sequence, 0u);
  EXPECT_TRUE(state.report.clean());
}

// Issue: "recovery from a DB with partial state".
TEST(recovery, entry_referencing_a_missing_message_is_skipped_and_reported) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch b;
  b.put_session(session("a"));
  b.put_message(1, message("ok"));
  b.enqueue("a", 1, entry(1));
  b.put(column::queues, queue_key("a", 2), encode(entry(99)));     // raw: no message 99
  b.put(column::queues, queue_key("ghost", 1), encode(entry(1)));  // raw: no session
  b.put_inbound_qos2("ghost", 4);
  b.put(column::messages, message_key(50), encode(message("orphan")));  // raw: no entry
  ASSERT_TRUE(db->write(b, true));

  auto state = recover_ok(*db);
  ASSERT_EQ(state.sessions.size(), 1u);
  EXPECT_EQ(state.sessions[0].queue.queued, 1u);
  EXPECT_EQ(state.sessions[0].queue.last_sequence, 1u);
  ASSERT_EQ(state.report.problems.size(), 3u);
  const auto& problems = state.report.problems;
  EXPECT_TRUE(std::any_of(problems.begin(), problems.end(), [](const std::string& p) {
    return p.find("missing message 99") != std::string::npos;
  }));
  EXPECT_EQ(state.report.orphan_messages, 1u);
  EXPECT_EQ(state.next_message_id, 51u);

  // The repair was written: a second start is clean.
  EXPECT_FALSE(db->get_queue_entry("a", 2)->has_value());
  EXPECT_FALSE(db->get_message(50)->has_value());
  auto again = recover_ok(*db);
  EXPECT_TRUE(again.report.clean());
  EXPECT_EQ(again.sessions[0].queue.queued, 1u);
}

// Issue: "Expired sessions are removed with their data"; the deadline is wall-clock, so downtime counts.
TEST(recovery, session_that_expired_during_downtime_is_removed_with_its_data) {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    auto gone = session("gone", now - 10);
    gone.will = mqhub::net::mqtt::will_message{"status/gone", "offline", qos::at_least_once, false, {}};
    write_batch b;
    b.put_session(gone);
    b.put_session(session("kept"));
    b.put_inbound_qos2("gone", 1);
    b.put_message(1, message("only/gone"));
    b.put_message(2, message("shared"));
    b.enqueue("gone", 1, entry(1));
    b.enqueue("gone", 2, entry(2));
    b.enqueue("kept", 1, entry(2));
    ASSERT_TRUE(db->write(b, true));
  }
  auto db = open_db(dir.db());
  auto state = recover_ok(*db);
  ASSERT_EQ(state.sessions.size(), 1u);
  EXPECT_EQ(state.sessions[0].record.client_id, "kept");
  ASSERT_EQ(state.report.expired_sessions.size(), 1u);
  const auto& expired = state.report.expired_sessions[0];
  EXPECT_EQ(expired.client_id, "gone");
  EXPECT_EQ(expired.queued, 2u);
  ASSERT_TRUE(expired.will);
  EXPECT_EQ(expired.will->topic, "status/gone");

  EXPECT_FALSE(db->get_session("gone")->has_value());
  EXPECT_FALSE(db->get(column::sessions, inbound_qos2_key("gone", 1))->has_value());
  EXPECT_FALSE(db->get_queue_entry("gone", 2)->has_value());
  EXPECT_FALSE(db->get_message(1)->has_value());
  EXPECT_TRUE(db->get_message(2)->has_value());
  EXPECT_EQ(db->references(2), 1u);
}

TEST(recovery, session_connected_at_shutdown_starts_its_expiry_now) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch b;
  b.put_session(session("live", std::nullopt));
  auto forever = session("forever", std::nullopt);
  forever.session_expiry_interval = session_never_expires;
  b.put_session(forever);
  ASSERT_TRUE(db->write(b, true));

  auto state = recover_ok(*db);
  ASSERT_EQ(state.sessions.size(), 2u);
  EXPECT_EQ(find(state, "live")->record.expiry_deadline, now + 3600);
  EXPECT_EQ(find(state, "forever")->record.expiry_deadline, std::nullopt);
  EXPECT_EQ(state.report.deadlines_started, 1u);
  // Persisted, so a second restart after the deadline drops it.
  EXPECT_EQ(db->get_session("live")->value().expiry_deadline, now + 3600);
  auto later = recover_ok(*db, now + 3601);
  EXPECT_EQ(later.sessions.size(), 1u);
}

TEST(recovery, expired_retained_messages_are_dropped_and_queued_ones_wait_for_their_read) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch b;
  b.put_session(session("a"));
  b.put_message(1, message("stale", now - 1));
  b.put_message(2, message("fresh", now + 60));
  b.enqueue("a", 1, entry(1));
  b.enqueue("a", 2, entry(2));
  b.put_retained(message("r/stale", now));
  b.put_retained(message("r/fresh"));
  ASSERT_TRUE(db->write(b, true));

  auto state = recover_ok(*db);
  EXPECT_EQ(state.sessions[0].queue.queued, 2u);
  EXPECT_EQ(state.report.expired_retained, 1u);
  ASSERT_EQ(state.retained.size(), 1u);
  EXPECT_FALSE(db->get_retained("r/stale")->has_value());
  EXPECT_TRUE(db->get_message(1)->has_value()) << "its queue entry still references it";
}

// MQTT-4.3.3: a QoS 2 flow that began must finish, or the client keeps the packet id for ever and takes the
// next message under it for a resend: only messages not sent yet may expire.
TEST(recovery, expired_messages_already_sent_finish_their_flow) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch b;
  b.put_session(session("a"));
  b.put_message(1, message("sent", now - 1));
  b.put_message(2, message("released", now - 1));
  b.enqueue("a", 1, entry(1, delivery_state::inflight, 7));
  b.enqueue("a", 2, entry(2, delivery_state::pubrec, 8));
  ASSERT_TRUE(db->write(b, true));

  auto state = recover_ok(*db);
  ASSERT_EQ(state.sessions.size(), 1u);
  EXPECT_EQ(state.sessions[0].queue.sent, 2u);
  EXPECT_EQ(state.sessions[0].queue.last_sent_sequence, 2u);
}

// Issue: "A corrupt or unreadable database stops the start with a clear message; it is never wiped."
TEST(recovery, damaged_value_stops_recovery_and_is_left_in_place) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch b;
  b.put_session(session("a"));
  b.put(column::queues, queue_key("a", 1), "\x01garbage");
  ASSERT_TRUE(db->write(b, true));
  auto state = recover(*db, now);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.failure().code, errc::corruption);
  EXPECT_NE(state.failure().message.find("queues"), std::string::npos) << state.failure().message;
  EXPECT_TRUE(db->get(column::queues, queue_key("a", 1))->has_value());
  EXPECT_TRUE(db->get_session("a")->has_value());
}

}  // namespace
