#include "actors/publish_encoding_cache.hpp"

#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

void publish_encoding_cache::reset(const message_ptr& msg) {
  if (msg_ == msg)
    return;
  msg_ = msg;
  encodings_.fill(nullptr);
}

const out_buffer& publish_encoding_cache::get(mqtt::protocol_version version, uint8_t qos, bool retain) {
  size_t index = (version == mqtt::protocol_version::v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
  auto& slot = encodings_[index];
  if (!slot) {
    thread_local mqtt::publish_packet head;  // reused: building one per message shows in profiles
    head.topic = msg_->topic;
    head.qos_level = static_cast<mqtt::qos>(qos);
    head.retain = retain;
    if (version == mqtt::protocol_version::v5)
      head.props = msg_->properties();
    auto encoded = std::make_shared<std::string>();
    encoded->reserve(msg_->topic.size() + msg_->payload.size() + 16);
    mqtt::encode_publish_head(head, msg_->payload.size(), version, *encoded);
    *encoded += msg_->payload;
    slot = std::move(encoded);
  }
  return slot;
}

void patch_publish(std::string& out, size_t start, uint16_t packet_id, bool dup) {
  // Fixed header: type and flags, then the remaining length (1-4 bytes), then the topic's length and bytes.
  size_t pos = start + 1;
  while (static_cast<uint8_t>(out[pos]) & 0x80)
    ++pos;
  ++pos;
  size_t topic_length = (static_cast<uint8_t>(out[pos]) << 8) | static_cast<uint8_t>(out[pos + 1]);
  size_t id_at = pos + 2 + topic_length;
  out[id_at] = static_cast<char>(packet_id >> 8);
  out[id_at + 1] = static_cast<char>(packet_id & 0xFF);
  if (dup)
    out[start] = static_cast<char>(out[start] | 0x08);
}

}  // namespace mqhub::actors
