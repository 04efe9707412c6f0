#include "storage/key_encoding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace mqhub::storage;

bool within(const key_range& range, const std::string& key) {
  return key >= range.begin && (range.end.empty() || key < range.end);
}

TEST(key_encoding, queue_sequence_orders_by_message_then_delivery_and_gives_the_message_back) {
  EXPECT_LT(queue_sequence(5, 65535), queue_sequence(6, 0));
  EXPECT_LT(queue_sequence(5, 0), queue_sequence(5, 1));
  EXPECT_EQ(message_id_of_sequence(queue_sequence(5, 65535)), 5u);
  EXPECT_EQ(message_id_of_sequence(queue_sequence(uint64_t{1} << 40, 3)), uint64_t{1} << 40);
}

TEST(key_encoding, queue_key_round_trips) {
  const std::string id("client\0with\xff bytes", 18);
  for (uint64_t seq : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{1} << 40, UINT64_MAX}) {
    auto decoded = decode_queue_key(queue_key(id, seq));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, (decoded_queue_key{id, seq}));
  }
}

TEST(key_encoding, queue_keys_sort_by_sequence_within_a_client) {
  std::vector<uint64_t> seqs{0, 1, 2, 255, 256, 65535, 65536, uint64_t{1} << 32, UINT64_MAX - 1, UINT64_MAX};
  for (size_t i = 1; i < seqs.size(); ++i) {
    EXPECT_LT(queue_key("c", seqs[i - 1]), queue_key("c", seqs[i])) << seqs[i];
  }
}

TEST(key_encoding, client_ids_that_prefix_each_other_do_not_share_a_range) {
  const auto a = queue_range("a");
  const auto ab = queue_range("ab");
  for (uint64_t seq : {uint64_t{0}, uint64_t{0x6200}, UINT64_MAX}) {
    EXPECT_TRUE(within(a, queue_key("a", seq)));
    EXPECT_FALSE(within(a, queue_key("ab", seq)));
    EXPECT_TRUE(within(ab, queue_key("ab", seq)));
    EXPECT_FALSE(within(ab, queue_key("a", seq)));
  }
}

TEST(key_encoding, one_clients_queue_is_contiguous) {
  std::vector<std::string> keys;
  for (const char* id : {"a", "ab", "b", "", "aa", "a\xff"}) {
    for (uint64_t seq : {uint64_t{3}, uint64_t{1}, UINT64_MAX}) {
      keys.push_back(queue_key(id, seq));
    }
  }
  std::sort(keys.begin(), keys.end());
  // Every client's keys form one run in sorted order.
  std::vector<std::string> runs;
  for (const auto& k : keys) {
    auto id = decode_queue_key(k)->client_id;
    if (runs.empty() || runs.back() != id) {
      runs.push_back(id);
    }
  }
  EXPECT_EQ(runs.size(), 6u);
}

TEST(key_encoding, prefix_successor_skips_trailing_ff_bytes) {
  EXPECT_EQ(prefix_successor("ab"), "ac");
  EXPECT_EQ(prefix_successor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(prefix_successor(std::string("\xff\xff", 2)), "");
}

TEST(key_encoding, message_key_round_trips_and_sorts_numerically) {
  EXPECT_EQ(decode_message_key(message_key(0x0102030405060708)), 0x0102030405060708u);
  EXPECT_LT(message_key(255), message_key(256));
  EXPECT_LT(message_key(1), message_key(uint64_t{1} << 56));
  EXPECT_FALSE(decode_message_key("short"));
}

TEST(key_encoding, session_rows_round_trip_and_record_comes_first) {
  EXPECT_EQ(*decode_session_key(session_key("dev")), (decoded_session_key{"dev", session_row::record, 0}));
  EXPECT_EQ(*decode_session_key(inbound_qos2_key("dev", 513)),
            (decoded_session_key{"dev", session_row::inbound_qos2, 513}));
  EXPECT_LT(session_key("dev"), inbound_qos2_key("dev", 0));
  EXPECT_LT(inbound_qos2_key("dev", 255), inbound_qos2_key("dev", 256));
  const auto range = session_range("dev");
  EXPECT_TRUE(within(range, session_key("dev")));
  EXPECT_TRUE(within(range, inbound_qos2_key("dev", 65535)));
  EXPECT_FALSE(within(range, session_key("devi")));
}

TEST(key_encoding, malformed_keys_do_not_decode) {
  EXPECT_FALSE(decode_queue_key(""));
  EXPECT_FALSE(
      decode_queue_key(std::string("\x00\x05"
                                   "ab",
                                   4)));                                // length beyond the key
  EXPECT_FALSE(decode_queue_key(client_prefix("a") + "1234567"));       // 7-byte sequence
  EXPECT_FALSE(decode_session_key(client_prefix("a")));                 // no row tag
  EXPECT_FALSE(decode_session_key(client_prefix("a") + "\x01" + "x"));  // truncated packet id
  EXPECT_FALSE(decode_session_key(client_prefix("a") + "\x07"));        // unknown row
}

TEST(key_encoding, oversized_client_id_is_a_programming_error) {
  EXPECT_THROW(client_prefix(std::string(max_client_id_size + 1, 'x')), std::length_error);
  EXPECT_NO_THROW(client_prefix(std::string(max_client_id_size, 'x')));
}

}  // namespace
