#include "actors/message.hpp"

#include <utility>

#include "net/mqtt/property_codec.hpp"

namespace mqhub::actors {

const net::mqtt::properties& message::properties() const {
  static const net::mqtt::properties none;
  return props ? *props : none;
}

message_ptr make_message(net::mqtt::publish_packet&& publish, shared_client_id publisher,
                         clock::time_point now) {
  auto m = std::make_shared<message>();
  m->topic = std::move(publish.topic);
  m->payload = std::move(publish.payload);
  m->qos_level = publish.qos_level;
  m->retain = publish.retain;
  publish.props.topic_alias.reset();
  publish.props.subscription_identifiers.clear();
  if (!net::mqtt::has_no_properties(publish.props)) {
    if (publish.props.message_expiry_interval)
      m->expires_at = now + std::chrono::seconds(*publish.props.message_expiry_interval);
    m->props = std::make_unique<const net::mqtt::properties>(std::move(publish.props));
  }
  m->publisher = std::move(publisher);
  return m;
}

message_ptr make_will_message(net::mqtt::will_message&& will, std::string_view publisher,
                              clock::time_point now) {
  net::mqtt::publish_packet publish;
  publish.topic = std::move(will.topic);
  publish.payload = std::move(will.payload);
  publish.qos_level = will.qos_level;
  publish.retain = will.retain;
  publish.props = std::move(will.props);
  publish.props.will_delay_interval.reset();  // a will property, not one of the message
  return make_message(std::move(publish), shared_client_id(publisher), now);
}

}  // namespace mqhub::actors
