#include "actors/message.hpp"

#include <utility>

namespace mqhub::actors {

message_ptr make_message(net::mqtt::publish_packet&& publish, std::string_view publisher,
                         clock::time_point now) {
  auto m = std::make_shared<message>();
  m->topic = std::move(publish.topic);
  m->payload = std::move(publish.payload);
  m->qos_level = publish.qos_level;
  m->retain = publish.retain;
  m->props = std::move(publish.props);
  m->props.topic_alias.reset();
  m->props.subscription_identifiers.clear();
  m->publisher = publisher;
  if (m->props.message_expiry_interval)
    m->expires_at = now + std::chrono::seconds(*m->props.message_expiry_interval);
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
  return make_message(std::move(publish), publisher, now);
}

}  // namespace mqhub::actors
