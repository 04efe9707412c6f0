#include "storage/records.hpp"

#include <array>
#include <utility>

#include "storage/byte_codec.hpp"

namespace mqhub::storage {

namespace {

using net::mqtt::properties;
using net::mqtt::qos;

constexpr uint8_t format_version = 1;
// A queue entry that holds its message (message id 0) has a format of its own, so that an mqhub from before
// it refuses the row by its version instead of as damaged; entries that reference a message stay version 1.
constexpr uint8_t entry_holding_message_version = 2;

// Property identifiers are the spec's (2.2.2.2), grouped by value type so one loop per type codes them.
template <class T>
using property_field = std::pair<uint8_t, std::optional<T> properties::*>;

constexpr std::array<property_field<uint8_t>, 8> u8_fields{{
    {0x01, &properties::payload_format_indicator},
    {0x17, &properties::request_problem_information},
    {0x19, &properties::request_response_information},
    {0x24, &properties::maximum_qos},
    {0x25, &properties::retain_available},
    {0x28, &properties::wildcard_subscription_available},
    {0x29, &properties::subscription_identifier_available},
    {0x2A, &properties::shared_subscription_available},
}};
constexpr std::array<property_field<uint16_t>, 4> u16_fields{{
    {0x13, &properties::server_keep_alive},
    {0x21, &properties::receive_maximum},
    {0x22, &properties::topic_alias_maximum},
    {0x23, &properties::topic_alias},
}};
constexpr std::array<property_field<uint32_t>, 4> u32_fields{{
    {0x02, &properties::message_expiry_interval},
    {0x11, &properties::session_expiry_interval},
    {0x18, &properties::will_delay_interval},
    {0x27, &properties::maximum_packet_size},
}};
constexpr std::array<property_field<std::string>, 9> string_fields{{
    {0x03, &properties::content_type},
    {0x08, &properties::response_topic},
    {0x09, &properties::correlation_data},
    {0x12, &properties::assigned_client_identifier},
    {0x15, &properties::authentication_method},
    {0x16, &properties::authentication_data},
    {0x1A, &properties::response_information},
    {0x1C, &properties::server_reference},
    {0x1F, &properties::reason_string},
}};

constexpr uint8_t subscription_identifier_id = 0x0B;
constexpr uint8_t user_property_id = 0x26;

bool read_property(byte_reader& r, properties& props) {
  uint8_t id = 0;
  if (!r.u8(id)) {
    return false;
  }
  for (const auto& [fid, field] : u8_fields) {
    if (fid == id) {
      uint8_t v = 0;
      return r.u8(v) && (props.*field = v, true);
    }
  }
  for (const auto& [fid, field] : u16_fields) {
    if (fid == id) {
      uint32_t v = 0;
      return r.varint32(v) && v <= UINT16_MAX && (props.*field = static_cast<uint16_t>(v), true);
    }
  }
  for (const auto& [fid, field] : u32_fields) {
    if (fid == id) {
      uint32_t v = 0;
      return r.varint32(v) && (props.*field = v, true);
    }
  }
  for (const auto& [fid, field] : string_fields) {
    if (fid == id) {
      std::string v;
      return r.bytes(v) && (props.*field = std::move(v), true);
    }
  }
  switch (id) {
    case subscription_identifier_id: {
      uint32_t v = 0;
      return r.varint32(v) && (props.subscription_identifiers.push_back(v), true);
    }
    case user_property_id: {
      std::string key;
      std::string value;
      return r.bytes(key) && r.bytes(value) &&
             (props.user_properties.emplace_back(std::move(key), std::move(value)), true);
    }
    default:
      return r.fail();
  }
}

bool read_qos(byte_reader& r, qos& value) {
  uint8_t v = 0;
  if (!r.u8(v) || v > 2) {
    return r.fail();
  }
  value = static_cast<qos>(v);
  return true;
}

bool read_bool(byte_reader& r, bool& value) {
  uint8_t v = 0;
  if (!r.u8(v) || v > 1) {
    return r.fail();
  }
  value = v == 1;
  return true;
}

void write_optional_time(const std::optional<epoch_seconds>& t, byte_writer& w) {
  w.u8(t ? 1 : 0);
  if (t) {
    w.signed_varint(*t);
  }
}

bool read_optional_time(byte_reader& r, std::optional<epoch_seconds>& t) {
  bool present = false;
  if (!read_bool(r, present)) {
    return false;
  }
  if (present) {
    epoch_seconds v = 0;
    if (!r.signed_varint(v)) {
      return false;
    }
    t = v;
  }
  return true;
}

bool valid_qos_bits(uint8_t flags) {
  return (flags & 0x03) != 0x03;
}
bool valid_subscription_options(uint8_t o) {
  return valid_qos_bits(o) && (o & 0xC0) == 0 && ((o >> 4) & 0x03) != 0x03;
}
bool valid_message_flags(uint8_t f) {
  return valid_qos_bits(f) && (f & 0xF8) == 0;
}
bool valid_entry_flags(uint8_t f) {
  return valid_qos_bits(f) && (f >> 3) <= 2;
}

// Reads a flag byte and fails unless `valid` accepts it.
bool read_flags(byte_reader& r, uint8_t& flags, bool (*valid)(uint8_t)) {
  return r.u8(flags) && (valid(flags) || r.fail());
}

// Returns the reader at the record body, or fails for an unknown format version.
bool read_header(byte_reader& r) {
  uint8_t version = 0;
  return r.u8(version) && (version == format_version || r.fail());
}

template <class T>
result<T> finish(byte_reader& r, T value, std::string_view what) {
  if (!r.ok() || !r.at_end()) {
    return error{errc::corruption, std::string("damaged ") + std::string(what) + " value"};
  }
  return value;
}

void write_will(const net::mqtt::will_message& will, byte_writer& w) {
  w.bytes(will.topic);
  w.bytes(will.payload);
  w.u8(static_cast<uint8_t>(will.qos_level));
  w.u8(will.retain ? 1 : 0);
  write_properties(will.props, w);
}

bool read_will(byte_reader& r, net::mqtt::will_message& will) {
  return r.bytes(will.topic) && r.bytes(will.payload) && read_qos(r, will.qos_level) &&
         read_bool(r, will.retain) && read_properties(r, will.props);
}

}  // namespace

void write_properties(const properties& props, byte_writer& w) {
  std::string body;
  byte_writer b(body);
  uint64_t count = 0;
  for (const auto& [id, field] : u8_fields) {
    if (const auto& v = props.*field) {
      b.u8(id);
      b.u8(*v);
      ++count;
    }
  }
  for (const auto& [id, field] : u16_fields) {
    if (const auto& v = props.*field) {
      b.u8(id);
      b.varint(*v);
      ++count;
    }
  }
  for (const auto& [id, field] : u32_fields) {
    if (const auto& v = props.*field) {
      b.u8(id);
      b.varint(*v);
      ++count;
    }
  }
  for (const auto& [id, field] : string_fields) {
    if (const auto& v = props.*field) {
      b.u8(id);
      b.bytes(*v);
      ++count;
    }
  }
  for (uint32_t sub_id : props.subscription_identifiers) {
    b.u8(subscription_identifier_id);
    b.varint(sub_id);
    ++count;
  }
  for (const auto& [key, value] : props.user_properties) {
    b.u8(user_property_id);
    b.bytes(key);
    b.bytes(value);
    ++count;
  }
  w.varint(count);
  w.raw(body);
}

bool read_properties(byte_reader& r, properties& props) {
  uint64_t count = 0;
  if (!r.varint(count)) {
    return false;
  }
  // Each property takes at least two bytes, so a damaged count cannot make the loop outrun the input.
  if (count > r.remaining() / 2) {
    return r.fail();
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (!read_property(r, props)) {
      return false;
    }
  }
  return true;
}

std::string encode(const session_record& record) {
  std::string out;
  byte_writer w(out);
  w.u8(format_version);
  w.bytes(record.client_id);
  w.u8(static_cast<uint8_t>(record.version));
  w.varint(record.session_expiry_interval);
  write_optional_time(record.expiry_deadline, w);
  w.varint(record.subscriptions.size());
  for (const auto& s : record.subscriptions) {
    w.bytes(s.filter);
    // One byte for the options, laid out as in a SUBSCRIBE (spec 3.8.3.1).
    w.u8(static_cast<uint8_t>(static_cast<uint8_t>(s.max_qos) | (s.no_local ? 0x04 : 0) |
                              (s.retain_as_published ? 0x08 : 0) | ((s.retain_handling & 0x03) << 4)));
    w.u8(s.subscription_id ? 1 : 0);
    if (s.subscription_id) {
      w.varint(*s.subscription_id);
    }
  }
  w.u8(record.will ? 1 : 0);
  if (record.will) {
    write_will(*record.will, w);
  }
  w.varint(record.will_delay_interval);
  return out;
}

result<session_record> decode_session_record(std::string_view data) {
  byte_reader r(data);
  session_record rec;
  uint8_t version = 0;
  uint64_t count = 0;
  bool has_will = false;
  if (read_header(r) && r.bytes(rec.client_id) && r.u8(version) &&
      (version == 4 || version == 5 || r.fail()) && r.varint32(rec.session_expiry_interval) &&
      read_optional_time(r, rec.expiry_deadline) && r.varint(count) &&
      (count <= r.remaining() / 3 || r.fail())) {
    rec.version = static_cast<net::mqtt::protocol_version>(version);
    rec.subscriptions.reserve(count);
    for (uint64_t i = 0; i < count && r.ok(); ++i) {
      stored_subscription s;
      uint8_t options = 0;
      bool has_id = false;
      if (r.bytes(s.filter) && read_flags(r, options, valid_subscription_options) && read_bool(r, has_id)) {
        s.max_qos = static_cast<qos>(options & 0x03);
        s.no_local = (options & 0x04) != 0;
        s.retain_as_published = (options & 0x08) != 0;
        s.retain_handling = static_cast<uint8_t>((options >> 4) & 0x03);
        uint32_t id = 0;
        if (has_id && r.varint32(id)) {
          s.subscription_id = id;
        }
        rec.subscriptions.push_back(std::move(s));
      }
    }
    if (read_bool(r, has_will) && has_will) {
      rec.will.emplace();
      read_will(r, *rec.will);
    }
    r.varint32(rec.will_delay_interval);
  }
  return finish(r, std::move(rec), "session record");
}

namespace {

size_t message_size_hint(const stored_message& message) {
  return message.topic.size() + message.payload.size() + message.publisher.size() + 16;
}

// The fields of a message, in a `messages` row or inside the queue entry that holds it.
void write_message_body(const stored_message& message, byte_writer& w) {
  w.bytes(message.topic);
  w.u8(static_cast<uint8_t>(static_cast<uint8_t>(message.qos_level) | (message.retain ? 0x04 : 0)));
  w.bytes(message.publisher);
  write_optional_time(message.expiry, w);
  write_properties(message.props, w);
  w.bytes(message.payload);
}

bool read_message_body(byte_reader& r, stored_message& msg) {
  uint8_t flags = 0;
  if (!(r.bytes(msg.topic) && read_flags(r, flags, valid_message_flags) && r.bytes(msg.publisher) &&
        read_optional_time(r, msg.expiry) && read_properties(r, msg.props) && r.bytes(msg.payload))) {
    return false;
  }
  msg.qos_level = static_cast<qos>(flags & 0x03);
  msg.retain = (flags & 0x04) != 0;
  return true;
}

}  // namespace

bool queue_entry::operator==(const queue_entry& other) const {
  const bool same_message =
      message == other.message || (message && other.message && *message == *other.message);
  return message_id == other.message_id && granted_qos == other.granted_qos && retain == other.retain &&
         subscription_ids == other.subscription_ids && state == other.state && packet_id == other.packet_id &&
         same_message;
}

std::string encode(const stored_message& message) {
  std::string out;
  out.reserve(message_size_hint(message));
  byte_writer w(out);
  w.u8(format_version);
  write_message_body(message, w);
  return out;
}

result<stored_message> decode_stored_message(std::string_view data) {
  byte_reader r(data);
  stored_message msg;
  if (read_header(r)) {
    read_message_body(r, msg);
  }
  return finish(r, std::move(msg), "stored message");
}

std::string encode(const queue_entry& entry) {
  std::string out;
  if (entry.message) {
    out.reserve(message_size_hint(*entry.message) + 16);
  }
  byte_writer w(out);
  w.u8(entry.message_id == 0 ? entry_holding_message_version : format_version);
  w.varint(entry.message_id);
  w.u8(static_cast<uint8_t>(static_cast<uint8_t>(entry.granted_qos) | (entry.retain ? 0x04 : 0) |
                            (static_cast<uint8_t>(entry.state) << 3)));
  if (entry.state != delivery_state::queued) {
    w.varint(entry.packet_id);
  }
  w.varint(entry.subscription_ids.size());
  for (uint32_t id : entry.subscription_ids) {
    w.varint(id);
  }
  if (entry.message_id == 0 && entry.state != delivery_state::pubrec && entry.message) {
    write_message_body(*entry.message, w);
  }
  return out;
}

namespace {

// The head every queue entry starts with: format version, message id and flags.
bool read_entry_head(byte_reader& r, uint64_t& message_id, uint8_t& flags) {
  uint8_t version = 0;
  // Version 1 references a message (id > 0), version 2 holds it (id 0).
  return r.u8(version) &&
         (version == format_version || version == entry_holding_message_version || r.fail()) &&
         r.varint(message_id) && ((version == format_version) == (message_id != 0) || r.fail()) &&
         read_flags(r, flags, valid_entry_flags);
}

}  // namespace

result<queue_entry_summary> summarize_queue_entry(std::string_view data) {
  byte_reader r(data);
  queue_entry_summary summary;
  uint8_t flags = 0;
  if (!read_entry_head(r, summary.message_id, flags)) {
    return error{errc::corruption, "damaged queue entry value"};
  }
  summary.state = static_cast<delivery_state>(flags >> 3);
  return summary;
}

result<queue_entry> decode_queue_entry(std::string_view data) {
  byte_reader r(data);
  queue_entry e;
  uint8_t flags = 0;
  uint64_t count = 0;
  if (read_entry_head(r, e.message_id, flags)) {
    e.granted_qos = static_cast<qos>(flags & 0x03);
    e.retain = (flags & 0x04) != 0;
    e.state = static_cast<delivery_state>(flags >> 3);
    if (e.state != delivery_state::queued) {
      uint32_t packet_id = 0;
      // A sent message always has a packet id in 1..65535 (MQTT-2.2.1-2).
      if (r.varint32(packet_id) && (packet_id == 0 || packet_id > UINT16_MAX)) {
        r.fail();
      }
      e.packet_id = static_cast<uint16_t>(packet_id);
    }
    if (r.varint(count) && (count <= r.remaining() || r.fail())) {
      e.subscription_ids.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        uint32_t id = 0;
        if (!r.varint32(id)) {
          break;
        }
        e.subscription_ids.push_back(id);
      }
    }
    if (r.ok() && e.message_id == 0 && e.state != delivery_state::pubrec) {
      auto message = std::make_shared<stored_message>();
      if (read_message_body(r, *message)) {
        e.message = std::move(message);
      }
    }
  }
  return finish(r, std::move(e), "queue entry");
}

}  // namespace mqhub::storage
