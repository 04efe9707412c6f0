#include "actors/wire_form.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

namespace mqhub::actors {

using cluster::wire_message;

wire_message to_wire(const message& msg, clock::time_point now) {
  wire_message wire;
  wire.topic = msg.topic;
  wire.payload = msg.payload;
  wire.qos = static_cast<uint8_t>(msg.qos_level);
  wire.retain = msg.retain;
  wire.publisher = msg.publisher.view();
  if (msg.expires_at) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*msg.expires_at - now).count();
    wire.expires_in_ms = std::max<int64_t>(left, 0);
  }
  if (!msg.props)
    return wire;
  const auto& props = *msg.props;
  if (props.payload_format_indicator) {
    wire.present |= wire_message::has_payload_format;
    wire.payload_format = *props.payload_format_indicator;
  }
  if (props.content_type) {
    wire.present |= wire_message::has_content_type;
    wire.content_type = *props.content_type;
  }
  if (props.response_topic) {
    wire.present |= wire_message::has_response_topic;
    wire.response_topic = *props.response_topic;
  }
  if (props.correlation_data) {
    wire.present |= wire_message::has_correlation_data;
    wire.correlation_data = *props.correlation_data;
  }
  wire.user_properties = props.user_properties;
  return wire;
}

message_ptr from_wire(wire_message&& wire, clock::time_point now) {
  auto msg = std::make_shared<message>();
  msg->topic = std::move(wire.topic);
  msg->payload = std::move(wire.payload);
  msg->qos_level = static_cast<net::mqtt::qos>(std::min<uint8_t>(wire.qos, 2));
  msg->retain = wire.retain;
  msg->publisher = shared_client_id(wire.publisher);
  net::mqtt::properties props;
  if (wire.expires_in_ms >= 0) {
    msg->expires_at = now + std::chrono::milliseconds(wire.expires_in_ms);
    // What the receiver's first encoding starts from; packet_writer sends the time left at each delivery.
    props.message_expiry_interval = static_cast<uint32_t>((wire.expires_in_ms + 999) / 1000);
  }
  if (wire.present & wire_message::has_payload_format)
    props.payload_format_indicator = wire.payload_format;
  if (wire.present & wire_message::has_content_type)
    props.content_type = std::move(wire.content_type);
  if (wire.present & wire_message::has_response_topic)
    props.response_topic = std::move(wire.response_topic);
  if (wire.present & wire_message::has_correlation_data)
    props.correlation_data = std::move(wire.correlation_data);
  props.user_properties = std::move(wire.user_properties);
  if (props != net::mqtt::properties{})
    msg->props = std::make_unique<const net::mqtt::properties>(std::move(props));
  return msg;
}

}  // namespace mqhub::actors
