#include "actors/message.hpp"

#include <utility>

namespace mqhub::actors {

namespace {

void set_expiry(message& m, clock::time_point now) {
  if (m.props.message_expiry_interval)
    m.expires_at = now + std::chrono::seconds(*m.props.message_expiry_interval);
}

}  // namespace

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
  set_expiry(*m, now);
  return m;
}

message_ptr make_will_message(net::mqtt::will_message&& will, std::string_view publisher,
                              clock::time_point now) {
  auto m = std::make_shared<message>();
  m->topic = std::move(will.topic);
  m->payload = std::move(will.payload);
  m->qos_level = will.qos_level;
  m->retain = will.retain;
  m->props = std::move(will.props);
  m->props.will_delay_interval.reset();
  m->publisher = publisher;
  set_expiry(*m, now);
  return m;
}

}  // namespace mqhub::actors
