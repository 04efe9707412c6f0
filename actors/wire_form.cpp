#include "actors/wire_form.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "storage/byte_codec.hpp"
#include "storage/records.hpp"

namespace mqhub::actors {

namespace {

// The first byte of a batch: a node of another version refuses a batch it cannot read, rather than
// misreading it.
constexpr uint8_t batch_format_version = 1;

// The flag byte that starts each message.
constexpr uint8_t qos_bits = 0x03;
constexpr uint8_t retain_flag = 0x04;
constexpr uint8_t expiry_flag = 0x08;
constexpr uint8_t properties_flag = 0x10;
constexpr uint8_t groups_flag = 0x20;
constexpr uint8_t known_flags = qos_bits | retain_flag | expiry_flag | properties_flag | groups_flag;

// `last_publisher`: the id of the message before, which most messages of a batch share: one allocation for a
// run of them instead of one each.
bool read_message(storage::byte_reader& r, clock::time_point now, shared_client_id& last_publisher,
                  arrived_message& out) {
  uint8_t flags = 0;
  if (!r.u8(flags) || (flags & ~known_flags) != 0 || (flags & qos_bits) == qos_bits)
    return r.fail();
  auto msg = std::make_shared<message>();
  msg->qos_level = static_cast<net::mqtt::qos>(flags & qos_bits);
  msg->retain = (flags & retain_flag) != 0;
  std::string_view publisher;
  if (!r.bytes(msg->topic) || !r.bytes(publisher))
    return false;
  if (publisher != last_publisher.view())
    last_publisher = shared_client_id(publisher);
  msg->publisher = last_publisher;
  // Most messages have neither: no property set is built for them.
  if (flags & (expiry_flag | properties_flag)) {
    net::mqtt::properties props;
    int64_t expires_in_ms = -1;
    if ((flags & expiry_flag) && (!r.signed_varint(expires_in_ms) || expires_in_ms < 0))
      return r.fail();
    if ((flags & properties_flag) && !storage::read_properties(r, props))
      return false;
    if (expires_in_ms >= 0) {
      msg->expires_at = now + std::chrono::milliseconds(expires_in_ms);
      // What the receiver's first encoding starts from; packet_writer sends the time left at each delivery.
      props.message_expiry_interval =
          static_cast<uint32_t>(std::min<int64_t>((expires_in_ms + 999) / 1000, UINT32_MAX));
    }
    if (props != net::mqtt::properties{})
      msg->props = std::make_unique<const net::mqtt::properties>(std::move(props));
  }
  if (flags & groups_flag) {
    uint64_t count = 0;
    // Each group takes at least a byte.
    if (!r.varint(count) || count > r.remaining())
      return r.fail();
    out.shared_groups.resize(count);
    for (auto& group : out.shared_groups)
      if (!r.bytes(group))
        return false;
  }
  if (!r.bytes(msg->payload))
    return false;
  out.msg = std::move(msg);
  return true;
}

}  // namespace

void append_to_batch(cluster::message_batch& batch, const message& msg, clock::time_point now,
                     const std::vector<std::string_view>& shared_groups) {
  storage::byte_writer w(batch.bytes);
  if (batch.count++ == 0)
    w.u8(batch_format_version);
  uint8_t flags = static_cast<uint8_t>(msg.qos_level) | (msg.retain ? retain_flag : 0) |
                  (msg.expires_at ? expiry_flag : 0) | (msg.props ? properties_flag : 0) |
                  (shared_groups.empty() ? 0 : groups_flag);
  w.u8(flags);
  w.bytes(msg.topic);
  w.bytes(msg.publisher.view());
  if (msg.expires_at)
    w.signed_varint(
        std::max<int64_t>(std::chrono::ceil<std::chrono::milliseconds>(*msg.expires_at - now).count(), 0));
  if (msg.props)
    storage::write_properties(*msg.props, w);
  if (!shared_groups.empty()) {
    w.varint(shared_groups.size());
    for (auto group : shared_groups)
      w.bytes(group);
  }
  w.bytes(msg.payload);
}

std::optional<std::vector<arrived_message>> read_batch(const cluster::message_batch& batch,
                                                       clock::time_point now) {
  std::vector<arrived_message> messages;
  if (batch.count == 0)
    return batch.bytes.empty() ? std::optional(std::move(messages)) : std::nullopt;
  storage::byte_reader r(batch.bytes);
  uint8_t version = 0;
  // Each message takes at least four bytes.
  if (!r.u8(version) || version != batch_format_version || batch.count > r.remaining() / 4)
    return std::nullopt;
  messages.resize(batch.count);
  shared_client_id last_publisher;
  for (auto& arrived : messages)
    if (!read_message(r, now, last_publisher, arrived))
      return std::nullopt;
  if (!r.at_end())
    return std::nullopt;
  return messages;
}

}  // namespace mqhub::actors
