#include "storage/queue_reader.hpp"

#include <utility>

#include "storage/key_encoding.hpp"

namespace mqhub::storage {

status read_queue(const database& db, std::string_view client_id, uint64_t after_sequence,
                  const std::function<bool(stored_entry&)>& visit,
                  const std::function<void(const unreadable_entry&)>& skip) {
  if (after_sequence == UINT64_MAX) {
    return {};
  }
  key_range range = queue_range(client_id);
  range.begin = queue_key(client_id, after_sequence + 1);
  std::optional<row_reader> messages;  // made by the first entry that references a message
  status failure;
  auto s = db.scan(column::queues, range, [&](std::string_view key, std::string_view value) {
    auto decoded_key = decode_queue_key(key);
    if (!decoded_key) {
      return true;  // not one of this client's keys: the range holds none
    }
    const uint64_t sequence = decoded_key->sequence;
    auto decoded = decode_queue_entry(value);
    if (!decoded) {
      skip({sequence, decoded.failure().message});
      return true;
    }
    stored_entry stored{sequence, std::move(*decoded), nullptr};
    if (stored.entry.message_id == 0) {
      stored.message = stored.entry.message;
    } else if (stored.entry.state != delivery_state::pubrec) {
      if (!messages)
        messages.emplace(db.reader(column::messages));
      auto row = messages->find(message_key(stored.entry.message_id));
      if (!row) {
        failure = row.failure();
        return false;
      }
      if (!row->has_value()) {
        skip({sequence, "references missing message " + std::to_string(stored.entry.message_id)});
        return true;
      }
      auto message = decode_stored_message(**row);
      if (!message) {
        skip({sequence,
              "its message " + std::to_string(stored.entry.message_id) + ": " + message.failure().message});
        return true;
      }
      stored.message = std::make_shared<const stored_message>(std::move(*message));
    }
    return visit(stored);
  });
  return !s ? s : failure;
}

}  // namespace mqhub::storage
