#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace mqhub::storage {

/// The column families of the node's database (docs/architecture.md).
enum class column : uint8_t { sessions, messages, queues, retained, devices, certs, hub, meta };
inline constexpr size_t column_count = 8;

/// The RocksDB name of a column family.
std::string_view column_name(column cf);

/// One atomic set of changes across column families, built on any thread without touching the database and
/// committed with database::write or group_commit_writer::submit.
///
/// Message rows are reference counted by the queue entries that hold them: enqueue adds a reference, dequeue
/// and delete_session drop them, and the commit that drops the last one deletes the message row in the same
/// atomic write. A message row that no entry references when its batch commits is therefore never stored.
class write_batch {
 public:
  /// insert is a put of a key no earlier write can have made (a new queue entry), which lets a group that
  /// also deletes it write neither (transient_entries).
  enum class op_kind : uint8_t { put, insert, del, del_range };

  /// One change; for del_range, `value` is the exclusive end key.
  struct operation {
    column cf = column::meta;
    op_kind kind = op_kind::put;
    std::string key;
    std::string value;
  };

  /// A change of a message's reference count, applied when the batch commits.
  struct reference_change {
    uint64_t message_id = 0;
    int32_t delta = 0;
  };

  // Sessions.
  void put_session(const session_record& record);
  void put_inbound_qos2(std::string_view client_id, uint16_t packet_id);
  void delete_inbound_qos2(std::string_view client_id, uint16_t packet_id);
  /// Removes the session record, its inbound QoS 2 ids and its whole queue. `queued_message_ids` lists the
  /// message id of every entry of the queue (with repeats; 0 for those holding their message), so that their
  /// references are dropped.
  void delete_session(std::string_view client_id, std::span<const uint64_t> queued_message_ids);

  // Messages and queues.
  /// Stores a message once; follow with one enqueue per queue that holds it, in this batch (a message that no
  /// entry references when the batch commits is deleted in the same write).
  void put_message(uint64_t message_id, const stored_message& message);
  /// A new queue entry: adds a reference to entry.message_id, or holds its own message (message_id 0).
  /// Outside the batch that put a referenced message, only call it while another entry still holds the
  /// message. Throws std::invalid_argument for an entry with neither.
  void enqueue(std::string_view client_id, uint64_t sequence, const queue_entry& entry);
  /// Changes the state of an existing entry (queued → inflight → pubrec); references stay as they are. An
  /// entry that holds its message is written whole again, message included.
  void update_entry(std::string_view client_id, uint64_t sequence, const queue_entry& entry);
  /// Removes an entry (acknowledged, expired or dropped) and its reference to `message_id` (0: none).
  void dequeue(std::string_view client_id, uint64_t sequence, uint64_t message_id);

  // Retained messages, stored whole under their topic.
  void put_retained(const stored_message& message);
  void delete_retained(std::string_view topic);

  /// Raw rows, for the columns whose records live elsewhere (devices, certs, hub, meta). Using them on
  /// messages or queues bypasses reference counting.
  void put(column cf, std::string key, std::string value);
  void del(column cf, std::string key);

  bool empty() const { return ops_.empty() && refs_.empty(); }
  /// Bytes of keys and values: what the writer's queue limit counts.
  size_t byte_size() const { return bytes_; }
  /// Whether the batch makes the store grow (new sessions, messages, entries, retained messages, raw puts).
  /// When the store is over its size limit only batches that do not are accepted, so clients can still ack.
  bool adds_data() const { return adds_data_; }
  /// Marks a batch whose deliveries went out before its commit (durable QoS 1): the writer commits it even
  /// over the size limit, so that no publisher hears refused a message its subscribers got. Shards stop
  /// delivering early once the store is full, so the overshoot is bounded by what the writer had queued.
  void set_delivered() { delivered_ = true; }
  bool delivered() const { return delivered_; }

  const std::vector<operation>& operations() const { return ops_; }
  const std::vector<reference_change>& reference_changes() const { return refs_; }

 private:
  void add(column cf, op_kind kind, std::string key, std::string value = {});
  /// Throws unless the entry references a message, holds one, or is past needing one (pubrec).
  static void check_message(const queue_entry& entry);

  std::vector<operation> ops_;
  std::vector<reference_change> refs_;
  size_t bytes_ = 0;
  bool adds_data_ = false;
  bool delivered_ = false;
};

}  // namespace mqhub::storage
