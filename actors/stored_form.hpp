#pragma once

#include "actors/message.hpp"
#include "actors/messages.hpp"
#include "storage/queue_reader.hpp"
#include "storage/records.hpp"

namespace mqhub::actors {

/// Converts between the routed forms and the stored records. Deadlines are steady-clock time points in
/// memory and wall-clock seconds on disk, so that they survive a restart; both clocks are read once by the
/// caller and passed in.
struct clocks {
  clock::time_point steady;
  storage::epoch_seconds wall = 0;
};

storage::stored_message to_stored(const message& msg, const clocks& now);
message_ptr from_stored(const storage::stored_message& stored, const clocks& now);

/// The delivery of a stored queue entry, its message resolved (none past PUBREC).
delivery from_stored(storage::stored_entry&& stored, const clocks& now);

/// The queue entry of a stored delivery in `state`.
storage::queue_entry to_queue_entry(const delivery& item, storage::delivery_state state, uint16_t packet_id);

}  // namespace mqhub::actors
