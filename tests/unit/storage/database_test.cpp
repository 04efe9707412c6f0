#include "storage/database.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/storage/temp_dir.hpp"

namespace {

using namespace mqhub::storage;
using mqhub::net::mqtt::qos;
using mqhub::storage::testing::temp_dir;

std::unique_ptr<database> open_db(const std::filesystem::path& dir, uint64_t limit = 0) {
  auto db = database::open({dir, limit, true});
  if (!db) {
    ADD_FAILURE() << db.failure().message;
    return nullptr;
  }
  return std::move(*db);
}

stored_message message(std::string topic, std::string payload = "p") {
  stored_message m;
  m.topic = std::move(topic);
  m.payload = std::move(payload);
  m.qos_level = qos::at_least_once;
  return m;
}

queue_entry entry(uint64_t message_id) {
  return {message_id, qos::at_least_once, false, {}, delivery_state::queued, 0, nullptr};
}

bool has_message(const database& db, uint64_t id) {
  auto m = db.get_message(id);
  return m && m->has_value();
}

TEST(database, creates_every_column_family_and_stores_the_schema_version) {
  temp_dir dir;
  auto db = open_db(dir.db());
  ASSERT_TRUE(db);
  auto version = db->get(column::meta, schema_version_key);
  ASSERT_TRUE(version && version->has_value());
  EXPECT_EQ(**version, database::encode_schema_version(database::schema_version));
  for (size_t i = 0; i < column_count; ++i) {
    EXPECT_NE(db->handle(static_cast<column>(i)), nullptr);
  }
}

TEST(database, synced_write_survives_reopen) {
  temp_dir dir;
  session_record record;
  record.client_id = "c1";
  record.session_expiry_interval = 60;
  {
    auto db = open_db(dir.db());
    write_batch batch;
    batch.put_session(record);
    batch.put_retained(message("r/1"));
    ASSERT_TRUE(db->write(batch, true));
  }
  auto db = open_db(dir.db());
  ASSERT_TRUE(db);
  EXPECT_EQ(db->get_session("c1")->value(), record);
  EXPECT_EQ(db->get_retained("r/1")->value().topic, "r/1");
}

TEST(database, newer_schema_version_is_refused) {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    write_batch batch;
    batch.put(column::meta, std::string(schema_version_key),
              database::encode_schema_version(database::schema_version + 1));
    ASSERT_TRUE(db->write(batch, true));
  }
  auto db = database::open({dir.db()});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.failure().code, errc::schema_mismatch);
  EXPECT_NE(db.failure().message.find("schema version 2"), std::string::npos) << db.failure().message;
}

TEST(database, garbage_in_current_is_an_error_and_nothing_is_deleted) {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    write_batch batch;
    batch.put_retained(message("keep/me"));
    ASSERT_TRUE(db->write(batch, true));
  }
  size_t files_before = 0;
  for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir.db())) {
    ++files_before;
  }
  std::ofstream(dir.db() / "CURRENT", std::ios::trunc) << "not a manifest name\n";
  auto db = database::open({dir.db()});
  ASSERT_FALSE(db);
  EXPECT_NE(db.failure().message.find(dir.db().string()), std::string::npos) << db.failure().message;
  size_t files_after = 0;
  for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir.db())) {
    ++files_after;
  }
  EXPECT_GE(files_after, files_before);
}

TEST(database, path_that_is_not_a_directory_is_an_error) {
  temp_dir dir;
  std::ofstream(dir.path() / "file") << "x";
  auto db = database::open({dir.path() / "file"});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.failure().code, errc::io_error);
  auto below = database::open({dir.path() / "file" / "db"});
  ASSERT_FALSE(below);  // RocksDB cannot create it: its status text is in the message
  EXPECT_FALSE(below.failure().message.empty());
}

TEST(database, non_empty_directory_without_current_is_not_overwritten) {
  temp_dir dir;
  std::filesystem::create_directory(dir.db());
  std::ofstream(dir.db() / "000007.sst") << "precious";
  auto db = database::open({dir.db()});
  ASSERT_FALSE(db);
  EXPECT_FALSE(std::filesystem::exists(dir.db() / "CURRENT"));
}

TEST(database, second_open_of_a_locked_database_is_an_error) {
  temp_dir dir;
  auto first = open_db(dir.db());
  auto second = database::open({dir.db()});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.failure().code, errc::io_error);
  EXPECT_NE(second.failure().message.find("LOCK"), std::string::npos) << second.failure().message;
}

TEST(database, message_row_goes_with_its_last_queue_entry) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch publish;
  publish.put_message(7, message("t"));
  publish.enqueue("a", 1, entry(7));
  publish.enqueue("b", 1, entry(7));
  ASSERT_TRUE(db->write(publish, true));
  EXPECT_EQ(db->references(7), 2u);

  write_batch ack_a;
  ack_a.dequeue("a", 1, 7);
  ASSERT_TRUE(db->write(ack_a, true));
  EXPECT_TRUE(has_message(*db, 7));
  EXPECT_EQ(db->references(7), 1u);

  write_batch ack_b;
  ack_b.dequeue("b", 1, 7);
  ASSERT_TRUE(db->write(ack_b, true));
  EXPECT_FALSE(has_message(*db, 7));
  EXPECT_FALSE(db->get_queue_entry("b", 1)->has_value());
  EXPECT_EQ(db->references(7), 0u);
}

TEST(database, an_entry_holding_its_message_is_one_row_and_touches_no_reference) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch publish;
  publish.put_message(7, message("shared"));  // another message's row, to see its count stay
  publish.enqueue("a", 1, entry(7));
  auto own = entry(0);
  own.message = std::make_shared<const stored_message>(message("own"));
  publish.enqueue("a", 2, own);
  ASSERT_TRUE(db->write(publish, true));
  auto stored = db->get_queue_entry("a", 2);
  ASSERT_TRUE(stored && stored->has_value());
  ASSERT_TRUE((*stored)->message);
  EXPECT_EQ((*stored)->message->topic, "own");
  EXPECT_FALSE(has_message(*db, 0));
  EXPECT_EQ(db->references(7), 1u);

  write_batch ack;
  ack.dequeue("a", 2, 0);
  const std::vector<uint64_t> queued{7, 0};
  write_batch drop;
  drop.delete_session("a", queued);
  ASSERT_TRUE(db->write(ack, true));
  EXPECT_FALSE(db->get_queue_entry("a", 2)->has_value());
  EXPECT_EQ(db->references(7), 1u);
  ASSERT_TRUE(db->write(drop, true));
  EXPECT_EQ(db->references(7), 0u);
  EXPECT_FALSE(has_message(*db, 7));
}

TEST(database, an_entry_with_neither_a_message_nor_a_reference_is_refused) {
  write_batch batch;
  EXPECT_THROW(batch.enqueue("a", 1, entry(0)), std::invalid_argument);
  EXPECT_THROW(batch.update_entry("a", 1, entry(0)), std::invalid_argument);
  auto released = entry(0);
  released.state = delivery_state::pubrec;
  released.packet_id = 4;
  EXPECT_NO_THROW(batch.update_entry("a", 1, released));  // past PUBREC no message is needed
}

TEST(database, message_without_queue_entries_is_not_stored) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch batch;
  batch.put_message(3, message("nobody/listens"));
  ASSERT_TRUE(db->write(batch, true));
  EXPECT_FALSE(has_message(*db, 3));
}

TEST(database, counts_follow_commit_order_within_one_group) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch publish;
  publish.put_message(1, message("t"));
  publish.enqueue("a", 1, entry(1));
  write_batch move;  // a shared-subscription message moves from a to b
  move.enqueue("b", 1, entry(1));
  move.dequeue("a", 1, 1);
  std::vector<const write_batch*> group{&publish, &move};
  ASSERT_TRUE(db->write_group(group, true));
  EXPECT_TRUE(has_message(*db, 1));
  EXPECT_EQ(db->references(1), 1u);
}

TEST(database, entries_created_and_removed_within_one_group_are_never_written) {
  temp_dir dir;
  auto db = open_db(dir.db());
  auto held = entry(0);
  held.message = std::make_shared<const stored_message>(message("earlier"));
  write_batch earlier;
  earlier.enqueue("a", 0, held);
  ASSERT_TRUE(db->write(earlier, true));
  write_batch publish;
  publish.put_message(5, message("shared"));
  publish.enqueue("a", 1, entry(5));
  publish.enqueue("b", 1, entry(5));
  write_batch acks;  // every delivery acknowledged before the group was written
  acks.update_entry("a", 0, held);
  acks.dequeue("a", 0, 0);
  acks.dequeue("a", 1, 5);
  acks.dequeue("b", 1, 5);
  const std::vector<const write_batch*> group{&publish, &acks};
  ASSERT_TRUE(db->write_group(group, true));
  for (const auto& [client, sequence] : {std::pair{"a", 0}, std::pair{"a", 1}, std::pair{"b", 1}}) {
    EXPECT_FALSE(db->get_queue_entry(client, sequence)->has_value()) << client << "/" << sequence;
  }
  EXPECT_FALSE(has_message(*db, 5));
  EXPECT_EQ(db->references(5), 0u);
  // The earlier entry's insert, then its update and delete: nothing of the two new entries.
  uint64_t rows = 0;
  ASSERT_TRUE(
      db->raw().GetIntProperty(db->handle(column::queues), "rocksdb.num-entries-active-mem-table", &rows));
  EXPECT_EQ(rows, 3u);
}

TEST(database, delete_session_removes_its_rows_and_references) {
  temp_dir dir;
  auto db = open_db(dir.db());
  session_record record;
  record.client_id = "a";
  write_batch setup;
  setup.put_session(record);
  setup.put_inbound_qos2("a", 5);
  setup.put_message(1, message("t"));
  setup.enqueue("a", 1, entry(1));
  setup.enqueue("a", 2, entry(1));
  setup.enqueue("ab", 1, entry(1));  // a neighbour whose id starts with "a"
  ASSERT_TRUE(db->write(setup, true));

  write_batch drop;
  const std::vector<uint64_t> queued{1, 1};
  drop.delete_session("a", queued);
  ASSERT_TRUE(db->write(drop, true));
  EXPECT_FALSE(db->get_session("a")->has_value());
  EXPECT_FALSE(db->get(column::sessions, inbound_qos2_key("a", 5))->has_value());
  EXPECT_FALSE(db->get_queue_entry("a", 2)->has_value());
  EXPECT_TRUE(db->get_queue_entry("ab", 1)->has_value());
  EXPECT_EQ(db->references(1), 1u);
  EXPECT_TRUE(has_message(*db, 1));
}

TEST(database, scan_visits_one_clients_queue_in_sequence_order) {
  temp_dir dir;
  auto db = open_db(dir.db());
  write_batch batch;
  batch.put_message(1, message("t"));
  for (uint64_t seq : {300, 2, 256, 1}) {
    batch.enqueue("a", seq, entry(1));
  }
  batch.enqueue("ab", 0, entry(1));
  ASSERT_TRUE(db->write(batch, true));
  std::vector<uint64_t> seen;
  ASSERT_TRUE(db->scan(column::queues, queue_range("a"), [&](std::string_view key, std::string_view) {
    seen.push_back(decode_queue_key(key)->sequence);
    return true;
  }));
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 256, 300}));
}

TEST(database, over_the_size_limit_only_shrinking_batches_commit) {
  temp_dir dir;
  auto db = open_db(dir.db(), 1);  // any data is over one byte
  write_batch grow;
  grow.put_message(1, message("t"));
  grow.enqueue("a", 1, entry(1));
  auto refused = db->write(grow, true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.failure().code, errc::store_full);

  write_batch shrink;
  shrink.dequeue("a", 1, 1);
  shrink.delete_retained("x");
  shrink.update_entry("a", 2, entry(1));
  EXPECT_TRUE(db->write(shrink, true));
}

}  // namespace
