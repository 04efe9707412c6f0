#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/mqtt/packet.hpp"
#include "storage/byte_codec.hpp"
#include "storage/result.hpp"

namespace mqhub::storage {

// Values start with a format version byte, so a later mqhub can read old rows and an old one refuses new rows
// instead of misreading them. Integers are varints. Decoding checks every length against the input and
// rejects trailing bytes: a damaged value is an errc::corruption result, never a crash or a wild allocation.

/// Seconds since the Unix epoch (wall clock), so that deadlines survive a restart and downtime counts.
using epoch_seconds = int64_t;

/// The session expiry interval that means "never expires" (MQTT 5, 3.1.2.11.2).
inline constexpr uint32_t session_never_expires = 0xFFFFFFFF;

/// One subscription as the session holds it; `filter` keeps its `$share/{group}/` prefix.
struct stored_subscription {
  std::string filter;
  net::mqtt::qos max_qos = net::mqtt::qos::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;
  std::optional<uint32_t> subscription_id;

  bool operator==(const stored_subscription&) const = default;
};

/// The persistent part of an MQTT session (`sessions` column family).
struct session_record {
  std::string client_id;
  net::mqtt::protocol_version version = net::mqtt::protocol_version::v5;
  uint32_t session_expiry_interval = 0;
  /// Disconnect time + expiry interval. Absent while the client is connected (a session does not expire
  /// then) and when the interval is session_never_expires.
  std::optional<epoch_seconds> expiry_deadline;
  std::vector<stored_subscription> subscriptions;
  std::optional<net::mqtt::will_message> will;
  uint32_t will_delay_interval =
      0;  // seconds after disconnect; the will is sent at the earlier of this and expiry

  bool operator==(const session_record&) const = default;
};

/// A published message, stored once (`messages`) however many queues hold it; also the value of `retained`.
struct stored_message {
  std::string topic;
  std::string payload;
  net::mqtt::qos qos_level = net::mqtt::qos::at_most_once;
  bool retain = false;
  net::mqtt::properties props;  // as published; per-subscriber subscription ids live in the queue entry
  std::string publisher;        // client id, for no_local
  std::optional<epoch_seconds> expiry;  // from the message expiry interval; absent: never expires

  bool operator==(const stored_message&) const = default;
};

/// Where an outbound QoS 1/2 message stands in its flow (spec 4.3).
enum class delivery_state : uint8_t {
  queued = 0,    // not sent yet
  inflight = 1,  // PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2); resend with DUP
  pubrec = 2,    // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP; resend the PUBREL
};

/// One message in one session's queue (`queues`, keyed by client id and sequence).
///
/// A message only one queue holds (most: a device's telemetry has one consumer) is stored inside its entry,
/// `message_id` 0: a single row to put and to delete instead of three with a reference count. A message
/// several queues hold is a `messages` row the entries reference by id.
struct queue_entry {
  uint64_t message_id = 0;  // 0: the message is `message` (none once pubrec: only the packet id matters)
  net::mqtt::qos granted_qos = net::mqtt::qos::at_least_once;
  bool retain = false;  // the retain flag as this subscriber gets it (retain-as-published)
  std::vector<uint32_t> subscription_ids;
  delivery_state state = delivery_state::queued;
  uint16_t packet_id = 0;                         // 0 exactly when queued
  std::shared_ptr<const stored_message> message;  // set exactly when message_id is 0 and not pubrec

  bool operator==(const queue_entry& other) const;
};

/// What recovery needs of a queue entry without reading its message (see summarize_queue_entry).
struct queue_entry_summary {
  uint64_t message_id = 0;
  delivery_state state = delivery_state::queued;
};

std::string encode(const session_record& record);
std::string encode(const stored_message& message);
std::string encode(const queue_entry& entry);

result<session_record> decode_session_record(std::string_view data);
result<stored_message> decode_stored_message(std::string_view data);
result<queue_entry> decode_queue_entry(std::string_view data);
/// Decodes the head of a queue entry only: its format, message id and state. A damaged rest of the value is
/// found when the entry is read whole.
result<queue_entry_summary> summarize_queue_entry(std::string_view data);

/// The properties alone (a count, then tag, value pairs for the set ones), for records of other formats
/// that hold them (actors/wire_form.hpp).
void write_properties(const net::mqtt::properties& props, byte_writer& w);
bool read_properties(byte_reader& r, net::mqtt::properties& props);

}  // namespace mqhub::storage
