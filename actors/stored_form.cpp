#include "actors/stored_form.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

namespace mqhub::actors {

storage::stored_message to_stored(const message& msg, const clocks& now) {
  storage::stored_message stored;
  stored.topic = msg.topic;
  stored.payload = msg.payload;
  stored.qos_level = msg.qos_level;
  stored.retain = msg.retain;
  if (msg.props)
    stored.props = *msg.props;
  stored.publisher = msg.publisher.view();
  if (msg.expires_at) {
    auto left = std::chrono::ceil<std::chrono::seconds>(*msg.expires_at - now.steady).count();
    stored.expiry = now.wall + std::max<int64_t>(left, 0);
  }
  return stored;
}

message_ptr from_stored(const storage::stored_message& stored, const clocks& now) {
  auto msg = std::make_shared<message>();
  msg->topic = stored.topic;
  msg->payload = stored.payload;
  msg->qos_level = stored.qos_level;
  msg->retain = stored.retain;
  if (stored.props != net::mqtt::properties{})
    msg->props = std::make_unique<const net::mqtt::properties>(stored.props);
  msg->publisher = shared_client_id(stored.publisher);
  if (stored.expiry)
    msg->expires_at = now.steady + std::chrono::seconds(*stored.expiry - now.wall);
  return msg;
}

delivery from_stored(storage::stored_entry&& stored, const clocks& now) {
  delivery item;
  if (stored.message)
    item.msg = from_stored(*stored.message, now);
  item.qos = static_cast<uint8_t>(stored.entry.granted_qos);
  item.retain = stored.entry.retain;
  item.subscription_ids = std::move(stored.entry.subscription_ids);
  item.stored_sequence = stored.sequence;
  item.message_id = stored.entry.message_id;
  return item;
}

storage::queue_entry to_queue_entry(const delivery& item, storage::delivery_state state, uint16_t packet_id) {
  storage::queue_entry entry;
  entry.message_id = item.message_id;
  entry.granted_qos = static_cast<net::mqtt::qos>(item.qos);
  entry.retain = item.retain;
  entry.subscription_ids = item.subscription_ids;
  entry.state = state;
  entry.packet_id = packet_id;
  return entry;
}

}  // namespace mqhub::actors
