#include "storage/write_batch.hpp"

#include <array>
#include <stdexcept>
#include <utility>

#include "storage/key_encoding.hpp"

namespace mqhub::storage {

std::string_view column_name(column cf) {
  static constexpr std::array<std::string_view, column_count> names{
      "sessions", "messages", "queues", "retained", "devices", "certs", "hub", "meta"};
  return names.at(static_cast<size_t>(cf));
}

void write_batch::add(column cf, op_kind kind, std::string key, std::string value) {
  // Per-operation overhead, so a batch of many empty values still counts against the queue limit.
  constexpr size_t op_overhead = 16;
  bytes_ += key.size() + value.size() + op_overhead;
  ops_.push_back({cf, kind, std::move(key), std::move(value)});
}

void write_batch::put_session(const session_record& record) {
  // Not counted as growth: one record per client, and refusing it would also refuse the acks and dequeues
  // that share its batch, which are what frees space.
  add(column::sessions, op_kind::put, session_key(record.client_id), encode(record));
}

void write_batch::put_inbound_qos2(std::string_view client_id, uint16_t packet_id) {
  add(column::sessions, op_kind::put, inbound_qos2_key(client_id, packet_id));
}

void write_batch::delete_inbound_qos2(std::string_view client_id, uint16_t packet_id) {
  add(column::sessions, op_kind::del, inbound_qos2_key(client_id, packet_id));
}

void write_batch::delete_session(std::string_view client_id, std::span<const uint64_t> queued_message_ids) {
  auto rows = session_range(client_id);
  add(column::sessions, op_kind::del_range, std::move(rows.begin), std::move(rows.end));
  auto queue = queue_range(client_id);
  add(column::queues, op_kind::del_range, std::move(queue.begin), std::move(queue.end));
  for (uint64_t id : queued_message_ids) {
    if (id != 0) {  // 0: the entry held its message
      refs_.push_back({id, -1});
    }
  }
}

void write_batch::check_message(const queue_entry& entry) {
  if (entry.message_id == 0 && !entry.message && entry.state != delivery_state::pubrec) {
    throw std::invalid_argument("queue entry without a message");
  }
}

void write_batch::put_message(uint64_t message_id, const stored_message& message) {
  adds_data_ = true;
  add(column::messages, op_kind::put, message_key(message_id), encode(message));
  refs_.push_back({message_id, 0});  // so the commit deletes it again if no enqueue follows
}

void write_batch::enqueue(std::string_view client_id, uint64_t sequence, const queue_entry& entry) {
  adds_data_ = true;
  check_message(entry);
  add(column::queues, op_kind::insert, queue_key(client_id, sequence), encode(entry));
  if (entry.message_id != 0) {
    refs_.push_back({entry.message_id, +1});
  }
}

void write_batch::update_entry(std::string_view client_id, uint64_t sequence, const queue_entry& entry) {
  check_message(entry);
  add(column::queues, op_kind::put, queue_key(client_id, sequence), encode(entry));
}

void write_batch::dequeue(std::string_view client_id, uint64_t sequence, uint64_t message_id) {
  add(column::queues, op_kind::del, queue_key(client_id, sequence));
  if (message_id != 0) {
    refs_.push_back({message_id, -1});
  }
}

void write_batch::put_retained(const stored_message& message) {
  adds_data_ = true;
  add(column::retained, op_kind::put, retained_key(message.topic), encode(message));
}

void write_batch::delete_retained(std::string_view topic) {
  add(column::retained, op_kind::del, retained_key(topic));
}

void write_batch::put(column cf, std::string key, std::string value) {
  adds_data_ = true;
  add(cf, op_kind::put, std::move(key), std::move(value));
}

void write_batch::del(column cf, std::string key) {
  add(cf, op_kind::del, std::move(key));
}

}  // namespace mqhub::storage
