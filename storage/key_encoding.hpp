#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mqhub::storage {

// Keys are order-preserving: integers are fixed-width big-endian and client ids carry a 16-bit length prefix,
// so that RocksDB's bytewise order is (client id, number) order and no client id's rows are a prefix of
// another's ("a" and "ab" differ in their first two bytes).

/// The largest client id a key can hold: an MQTT UTF-8 string is at most 65535 bytes (spec 1.5.4).
inline constexpr size_t max_client_id_size = 65535;

/// A half-open key range [begin, end); an empty `end` means "to the end of the column family".
struct key_range {
  std::string begin;
  std::string end;
};

/// The length-prefixed client id every row of one client starts with. Throws std::length_error for ids longer
/// than max_client_id_size (the MQTT decoder never produces them).
std::string client_prefix(std::string_view client_id);

/// The smallest key greater than every key that starts with `prefix`; empty when there is none.
std::string prefix_successor(std::string_view prefix);

/// `queues`: client id, 64-bit sequence. One session's queue is one contiguous range in sequence order.
std::string queue_key(std::string_view client_id, uint64_t sequence);

/// The queue sequence of the `index`-th stored delivery of a message to one session (a session can get one
/// message more than once through shared subscriptions). Message ids ascend, so keys keep arrival order.
inline uint64_t queue_sequence(uint64_t message_id, uint32_t index) {
  return (message_id << 16) | (index & 0xFFFF);
}
/// The message id a queue sequence was made from: recovery's next id must pass it, also where the entry
/// holds its message and no `messages` row has the id.
inline uint64_t message_id_of_sequence(uint64_t sequence) {
  return sequence >> 16;
}

struct decoded_queue_key {
  std::string client_id;
  uint64_t sequence = 0;
  bool operator==(const decoded_queue_key&) const = default;
};
std::optional<decoded_queue_key> decode_queue_key(std::string_view key);

/// Every queue entry of one client.
key_range queue_range(std::string_view client_id);

/// `messages`: 64-bit message id, so ids iterate in allocation order and the last key is the highest id.
std::string message_key(uint64_t message_id);
std::optional<uint64_t> decode_message_key(std::string_view key);

/// What a row of the `sessions` column family holds, after the client prefix.
enum class session_row : uint8_t {
  record = 0,        // the session record
  inbound_qos2 = 1,  // a QoS 2 packet id whose PUBREC was sent and whose PUBREL has not arrived
};

/// `sessions`: the session record of a client, followed in key order by its inbound QoS 2 packet ids.
std::string session_key(std::string_view client_id);
std::string inbound_qos2_key(std::string_view client_id, uint16_t packet_id);

struct decoded_session_key {
  std::string client_id;
  session_row row = session_row::record;
  uint16_t packet_id = 0;  // only for inbound_qos2
  bool operator==(const decoded_session_key&) const = default;
};
std::optional<decoded_session_key> decode_session_key(std::string_view key);

/// Every row of one client in `sessions`: its record and its inbound QoS 2 ids.
key_range session_range(std::string_view client_id);

/// `retained`: the topic name itself; a retained message per topic.
std::string retained_key(std::string_view topic);

/// `meta`: the schema version of the database.
inline constexpr std::string_view schema_version_key = "schema_version";
/// `meta`: the name of the node the data belongs to (node_identity.hpp).
inline constexpr std::string_view node_name_key = "node_name";

}  // namespace mqhub::storage
