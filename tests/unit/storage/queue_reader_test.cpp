#include "storage/queue_reader.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/key_encoding.hpp"
#include "tests/unit/storage/temp_dir.hpp"

namespace {

using namespace mqhub::storage;
using mqhub::net::mqtt::qos;
using mqhub::storage::testing::temp_dir;

stored_message message(std::string topic) {
  stored_message m;
  m.topic = std::move(topic);
  m.payload = "payload";
  m.qos_level = qos::at_least_once;
  return m;
}

queue_entry holding(std::string topic, delivery_state state = delivery_state::queued,
                    uint16_t packet_id = 0) {
  queue_entry e{0, qos::at_least_once, false, {}, state, packet_id, nullptr};
  e.message = std::make_shared<const stored_message>(message(std::move(topic)));
  return e;
}

queue_entry referencing(uint64_t id) {
  return {id, qos::at_least_once, false, {3}, delivery_state::queued, 0, nullptr};
}

struct read_back {
  std::vector<std::string> topics;  // "-" for an entry without its message (past PUBREC)
  std::vector<uint64_t> sequences;
  std::vector<unreadable_entry> skipped;
};

read_back read_all(const database& db, std::string_view client, uint64_t after, size_t at_most = 1000) {
  read_back out;
  auto s = read_queue(
      db, client, after,
      [&](stored_entry& e) {
        out.topics.push_back(e.message ? e.message->topic : "-");
        out.sequences.push_back(e.sequence);
        return out.sequences.size() < at_most;
      },
      [&](const unreadable_entry& bad) { out.skipped.push_back(bad); });
  EXPECT_TRUE(s) << s.failure().message;
  return out;
}

class queue_reader : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = database::open({dir_.db()});
    ASSERT_TRUE(opened) << opened.failure().message;
    db_ = std::move(*opened);
  }
  void write(const write_batch& b) { ASSERT_TRUE(db_->write(b, true)); }

  temp_dir dir_;
  std::unique_ptr<database> db_;
};

// Issue 21: a session reads its queue back from disk, in order, from where its memory ends.
TEST_F(queue_reader, reads_one_clients_entries_in_sequence_order_after_a_sequence) {
  write_batch b;
  b.enqueue("a", 3, holding("t/3"));
  b.enqueue("a", 1, holding("t/1"));
  b.enqueue("a", 2, holding("t/2"));
  b.enqueue("ab", 1, holding("other client"));
  b.enqueue("", 9, holding("empty id"));
  write(b);
  EXPECT_EQ(read_all(*db_, "a", 0).topics, (std::vector<std::string>{"t/1", "t/2", "t/3"}));
  EXPECT_EQ(read_all(*db_, "a", 1).sequences, (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(read_all(*db_, "a", 3).topics.empty());
  EXPECT_EQ(read_all(*db_, "a", 0, 2).topics.size(), 2u) << "the visitor stops the read";
}

TEST_F(queue_reader, an_entry_that_references_a_message_gets_it_and_one_past_pubrec_gets_none) {
  write_batch b;
  b.put_message(7, message("shared"));
  b.enqueue("a", 1, referencing(7));
  b.enqueue("b", 1, referencing(7));
  b.enqueue("a", 2, holding("", delivery_state::pubrec, 9));
  write(b);
  EXPECT_EQ(read_all(*db_, "a", 0).topics, (std::vector<std::string>{"shared", "-"}));
}

TEST_F(queue_reader, unreadable_entries_are_passed_over_and_left_in_place) {
  write_batch b;
  b.enqueue("a", 1, holding("t/1"));
  b.put(column::queues, queue_key("a", 2), "\x02garbage");
  b.put(column::queues, queue_key("a", 3), encode(referencing(99)));  // no message 99
  b.enqueue("a", 4, holding("t/4"));
  write(b);
  auto read = read_all(*db_, "a", 0);
  EXPECT_EQ(read.topics, (std::vector<std::string>{"t/1", "t/4"}));
  ASSERT_EQ(read.skipped.size(), 2u);
  EXPECT_EQ(read.skipped[0].sequence, 2u);
  EXPECT_EQ(read.skipped[1].sequence, 3u);
  EXPECT_NE(read.skipped[1].why.find("missing message 99"), std::string::npos) << read.skipped[1].why;
  EXPECT_TRUE(db_->get(column::queues, queue_key("a", 2))->has_value());
}

TEST_F(queue_reader, a_removed_entry_is_not_read_and_a_new_one_is) {
  write_batch first;
  for (uint64_t i = 1; i <= 100; ++i)
    first.enqueue("a", i, holding("t/" + std::to_string(i)));
  write(first);
  write_batch second;
  second.enqueue("a", 101, holding("t/101"));
  second.dequeue("a", 50, 0);
  write(second);
  auto read = read_all(*db_, "a", 0);
  ASSERT_EQ(read.sequences.size(), 100u);
  EXPECT_EQ(read.sequences.back(), 101u);
  EXPECT_EQ(read.sequences[49], 51u) << "a removed entry is not read";
}

}  // namespace
