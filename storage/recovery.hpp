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

/// A session's queue as recovery finds it, without reading its messages: the entries stay on disk and the
/// session reads them back as it needs them (issue 21), so neither the memory nor the time a start takes
/// grows with the length of the queues.
struct queue_summary {
  uint64_t queued = 0;              // entries not sent yet
  uint64_t queued_bytes = 0;        // their stored size: the value, or the message row an entry references
  uint64_t sent = 0;                // entries sent and not completed (inflight or past PUBREC)
  uint64_t last_sequence = 0;       // the highest stored sequence; 0: none
  uint64_t last_sent_sequence = 0;  // the highest sequence of a sent entry; 0: none

  /// Counts the next entry of the queue, in sequence order, of `bytes` stored.
  void count(uint64_t sequence, delivery_state state, uint64_t bytes) {
    last_sequence = sequence;
    if (state == delivery_state::queued) {
      ++queued;
      queued_bytes += bytes;
    } else {
      ++sent;
      last_sent_sequence = sequence;
    }
  }
};

/// A persistent session as it was stored, ready for a session actor to take over.
struct recovered_session {
  session_record record;
  queue_summary queue;
  std::vector<uint16_t> inbound_qos2;  // packet ids whose PUBREC was sent, ascending
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

/// Reads back sessions, inbound QoS 2 state and retained messages, and summarises the queues from the heads
/// of their entries; deletes expired sessions (with their queues) and rows that reference what does not
/// exist, in one synced write; and sets the database's message reference counts. A value that does not decode
/// stops recovery with errc::corruption naming the row: the database is never wiped to get a node started. (A
/// queue entry whose head decodes but whose rest is damaged is found when its session reads it, and passed
/// over.) Messages whose expiry passed are dropped when their session reads them.
result<recovered_state> recover(database& db, epoch_seconds now);

}  // namespace mqhub::storage
