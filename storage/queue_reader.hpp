#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/database.hpp"
#include "storage/records.hpp"
#include "storage/result.hpp"

namespace mqhub::storage {

/// One entry of a session's queue as read back from disk, with its message.
struct stored_entry {
  uint64_t sequence = 0;
  queue_entry entry;
  /// The entry's own message or the shared row it references; null past PUBREC (only the packet id is left).
  std::shared_ptr<const stored_message> message;
};

/// An entry read_queue passes over: its value does not decode, or the message it references is missing.
/// It stays where it is: nothing is deleted because it could not be read.
struct unreadable_entry {
  uint64_t sequence = 0;
  std::string why;
};

/// Reads the queue of `client_id` from the first entry after `after_sequence` on, in sequence order, and
/// calls `visit` for each until it returns false; `skip` hears of each entry that cannot be read. The queue
/// stays on disk (issue 21): a session holds a window of it in memory and reads the rest back as that drains.
status read_queue(const database& db, std::string_view client_id, uint64_t after_sequence,
                  const std::function<bool(stored_entry&)>& visit,
                  const std::function<void(const unreadable_entry&)>& skip);

}  // namespace mqhub::storage
