#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/mqtt/packet.hpp"
#include "storage/database.hpp"
#include "storage/records.hpp"
#include "storage/result.hpp"

namespace mqhub::storage {

/// The wall clock in epoch seconds, the time base of every stored deadline.
epoch_seconds wall_clock_now();

/// One queue entry as recovered, with its message.
struct recovered_entry {
  uint64_t sequence = 0;
  queue_entry entry;
  /// One copy, shared by every queue that holds it; null for an entry past PUBREC that held its own.
  std::shared_ptr<const stored_message> message;
};

/// A persistent session as it was stored, ready for a session actor to take over.
struct recovered_session {
  session_record record;
  std::vector<recovered_entry> queue;  // in sequence order: queued, inflight and pubrec entries alike
  std::vector<uint16_t> inbound_qos2;  // packet ids whose PUBREC was sent, ascending
  uint64_t next_sequence = 0;          // one past the highest stored sequence
};

/// A session whose expiry deadline passed while the node was down; it and its data were deleted.
struct expired_session {
  std::string client_id;
  epoch_seconds deadline = 0;
  /// The Last Will, if it had not been published: the session ended, so it is due now (MQTT-3.1.2-8).
  std::optional<net::mqtt::will_message> will;
  size_t queued = 0;  // entries deleted with it
};

/// What recovery removed or repaired, for the start-up log. Removed rows are partial state (left by a bug or
/// a lost write) that nothing can use; damaged values stop recovery instead.
struct recovery_report {
  std::vector<expired_session> expired_sessions;
  size_t expired_messages = 0;   // queue entries whose message expiry interval had passed
  size_t expired_retained = 0;   // retained messages whose expiry had passed
  size_t orphan_messages = 0;    // message rows no live queue entry referenced
  size_t deadlines_started = 0;  // sessions connected when the node stopped: their expiry now runs from start
  std::vector<std::string> problems;  // one line per skipped row: dangling entries, rows without a session

  bool clean() const { return expired_sessions.empty() && orphan_messages == 0 && problems.empty(); }
};

/// Everything the actors need to resume.
struct recovered_state {
  std::vector<recovered_session> sessions;  // ordered by client id
  std::vector<stored_message> retained;
  uint64_t next_message_id = 1;  // above every stored id
  recovery_report report;
};

/// Reads back sessions, queues, inbound QoS 2 state and retained messages; deletes expired sessions (with
/// their queues), expired messages, and rows that reference what does not exist, in one synced write; and
/// sets the database's message reference counts. A value that does not decode stops recovery with
/// errc::corruption naming the row: the database is never wiped to get a node started.
result<recovered_state> recover(database& db, epoch_seconds now);

}  // namespace mqhub::storage
