#include "actors/packet_writer.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "actors/publish_encoding_cache.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

void packet_writer::append(const net::mqtt::packet& p, net::mqtt::protocol_version version) {
  net::mqtt::encode(p, version, current_);
}

void packet_writer::append_ack(net::mqtt::packet_type type, uint16_t packet_id, net::mqtt::reason_code code,
                               net::mqtt::protocol_version version) {
  net::mqtt::encode_ack(type, packet_id, code, version, current_);
}

void packet_writer::append_publish(const net::mqtt::publish_packet& head, const message_ptr& msg,
                                   net::mqtt::protocol_version version) {
  net::mqtt::encode_publish_head(head, msg->payload.size(), version, current_);
  if (msg->payload.size() < shared_payload_threshold) {
    current_ += msg->payload;
    return;
  }
  seal_current();
  buffers_.emplace_back(msg, &msg->payload);  // aliasing: the buffer keeps the message alive
}

void packet_writer::append_encoded(const delivery& item, uint16_t packet_id, bool dup) {
  const auto& encoded = *item.encoded;
  const auto& payload = item.msg->payload;
  bool large = payload.size() >= shared_payload_threshold;
  if (large && item.qos == 0) {
    seal_current();
    buffers_.push_back(item.encoded);
    return;
  }
  auto start = current_.size();
  current_.append(encoded, 0, large ? encoded.size() - payload.size() : encoded.size());
  if (item.qos > 0)
    patch_publish(current_, start, packet_id, dup);
  if (large) {
    seal_current();
    buffers_.emplace_back(item.msg, &payload);
  }
}

bool packet_writer::append_delivery(const delivery& item, net::mqtt::protocol_version version,
                                    uint32_t maximum_packet_size, uint16_t packet_id, bool dup,
                                    clock::time_point now) {
  if (item.encoded && item.encoded_version == version) {
    if (maximum_packet_size != 0 && item.encoded->size() > maximum_packet_size)
      return false;
    append_encoded(item, packet_id, dup);
    return true;
  }
  const auto& msg = *item.msg;
  // Reused across calls on this thread, so neither a session nor a shard carries one.
  thread_local net::mqtt::publish_packet head;
  head.topic = msg.topic;
  head.qos_level = static_cast<net::mqtt::qos>(item.qos);
  head.retain = item.retain;
  head.dup = dup;
  head.packet_id = packet_id;
  if (version == net::mqtt::protocol_version::v5) {
    head.props = msg.properties();
    head.props.subscription_identifiers = item.subscription_ids;
    if (msg.expires_at) {
      // The receiver sees the time left, not the original interval (MQTT-3.3.2-6).
      auto left = std::chrono::ceil<std::chrono::seconds>(*msg.expires_at - now).count();
      head.props.message_expiry_interval = static_cast<uint32_t>(std::max<int64_t>(left, 1));
    }
    if (maximum_packet_size != 0) {
      head.payload.clear();
      if (net::mqtt::encoded_size(head, version) + msg.payload.size() > maximum_packet_size)
        return false;
    }
  }
  append_publish(head, item.msg, version);
  return true;
}

void packet_writer::seal_current() {
  if (current_.empty())
    return;
  buffers_.push_back(std::make_shared<const std::string>(std::move(current_)));
  current_ = std::string();
}

std::vector<out_buffer> packet_writer::take_buffers() {
  seal_current();
  return std::exchange(buffers_, std::vector<out_buffer>());
}

void packet_writer::flush_to(connection_sink* sink) {
  auto buffers = take_buffers();
  if (sink != nullptr && !buffers.empty())
    sink->write(std::move(buffers));
}

}  // namespace mqhub::actors
