#include <utility>

#include "actors/message.hpp"
#include "actors/shard_actor.hpp"
#include "actors/subscribe_plan.hpp"
#include "net/connection_base.hpp"
#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/topic.hpp"

namespace mqhub::net {

void connection_base::violation(mqtt::reason_code code, std::string reason) {
  if (state_ == state::closed)
    return;
  if (version_ == mqtt::protocol_version::v5 && acknowledged()) {
    mqtt::disconnect_packet disconnect{code, {}};  // MQTT-4.13.1-1
    disconnect.props.reason_string = std::move(reason);
    queue_own(disconnect);
  }
  finish(false, std::nullopt);
}

void connection_base::on_packet(uint8_t first_byte, std::span<const uint8_t> body) {
  auto type = static_cast<mqtt::packet_type>(first_byte >> 4);
  if (type == mqtt::packet_type::publish) {
    // One per thread, not per connection: reused for every PUBLISH, it costs an idle client nothing.
    thread_local mqtt::publish_packet publish;
    if (auto refused = mqtt::decode_publish(first_byte, body, version_, publish)) {
      violation(refused->code, std::move(refused->reason));
      return;
    }
    on_publish(publish);
    return;
  }
  if (type == mqtt::packet_type::puback || type == mqtt::packet_type::pubrec ||
      type == mqtt::packet_type::pubrel || type == mqtt::packet_type::pubcomp) {
    thread_local mqtt::ack_packet ack;
    if (auto refused = mqtt::decode_ack(first_byte, body, version_, ack)) {
      violation(refused->code, std::move(refused->reason));
      return;
    }
    if (ack.type == mqtt::packet_type::pubrel && extras_)
      extras_->qos2_in.erase(ack.packet_id);  // its PUBCOMP follows: it no longer counts
    if (ack.type != mqtt::packet_type::puback || !take_direct_puback(ack.packet_id))
      to_session_.packets.emplace_back(actors::inbound_ack{ack.type, ack.packet_id, ack.code});
    return;
  }
  auto decoded = mqtt::decode_packet(first_byte, body, version_);
  if (!decoded) {
    violation(decoded.error().code, decoded.error().reason);
    return;
  }
  auto& p = *decoded;
  if (auto* subscribe = std::get_if<mqtt::subscribe_packet>(&p)) {
    on_subscribe(*subscribe);
  } else if (auto* unsubscribe = std::get_if<mqtt::unsubscribe_packet>(&p)) {
    to_session_.packets.emplace_back(std::move(*unsubscribe));
  } else if (std::holds_alternative<mqtt::pingreq_packet>(p)) {
    queue_own(mqtt::pingresp_packet{});  // MQTT-3.12.4-1
  } else if (auto* disconnect = std::get_if<mqtt::disconnect_packet>(&p)) {
    on_disconnect(*disconnect);
  } else {
    // AUTH without an authentication method, or a packet only a server sends.
    violation(mqtt::reason_code::protocol_error, "unexpected packet type");
  }
}

void connection_base::on_publish(mqtt::publish_packet& publish) {
  bool v5 = version_ == mqtt::protocol_version::v5;
  if (v5 && publish.props.topic_alias) {
    auto alias = *publish.props.topic_alias;
    if (alias == 0 || alias > services_->limits.topic_alias_maximum) {
      violation(mqtt::reason_code::topic_alias_invalid, "topic alias out of range");  // MQTT-3.3.2-8, -9
      return;
    }
    if (publish.topic.empty()) {
      const std::string* known = nullptr;
      if (extras_) {
        if (auto it = extras_->topic_aliases_in.find(alias); it != extras_->topic_aliases_in.end())
          known = &it->second;
      }
      if (known == nullptr) {
        violation(mqtt::reason_code::protocol_error, "unknown topic alias");  // MQTT-3.3.4-... 3.3.2.3.4
        return;
      }
      publish.topic = *known;
    } else {
      extra().topic_aliases_in[alias] = publish.topic;
    }
  }
  ++received_;
  auto qos = publish.qos_level;
  auto id = publish.packet_id;
  // Our Receive Maximum (MQTT-3.3.4-9, 4.9): QoS 1 counts in MQTT 5 while its PUBACK waits for the commit,
  // QoS 2 until its PUBREL comes (in 3.1.1 too, which bounds what a session keeps for it).
  bool new_qos2 = qos == mqtt::qos::exactly_once && (!extras_ || !extras_->qos2_in.contains(id));
  bool puback_owed = qos == mqtt::qos::at_least_once && services_->durable;
  if ((puback_owed && v5) || new_qos2) {
    if (inbound_unacknowledged() >= services_->limits.receive_maximum) {
      violation(mqtt::reason_code::receive_maximum_exceeded,
                "more unacknowledged QoS 1/2 PUBLISHes than the Receive Maximum");
      return;
    }
    if (new_qos2)
      extra().qos2_in.insert(id);
  }
  if (!access_->may_publish(publish.topic)) {
    // Dropped; MQTT 5 tells the client why, 3.1.1 can only complete the flow.
    auto code = v5 ? mqtt::reason_code::not_authorized : mqtt::reason_code::success;
    if (qos == mqtt::qos::at_least_once)
      mqtt::encode_ack(mqtt::packet_type::puback, id, code, version_, own_out_);
    else if (qos == mqtt::qos::exactly_once)
      mqtt::encode_ack(mqtt::packet_type::pubrec, id, code, version_, own_out_);
    return;
  }
  if (qos == mqtt::qos::exactly_once) {
    to_session_.packets.emplace_back(std::move(publish));  // exactly-once state lives in the session
    return;
  }
  const auto& shards = *services_->shards;
  to_shards_.resize(shards.route_count());
  auto shard = shards.route_of_topic(publish.topic);
  auto& batch = to_shards_[shard];
  // What the message will hold in a shard's mailbox, near enough: small messages are mostly the object.
  batch.inbound_bytes += sizeof(actors::message) + publish.topic.size() + publish.payload.size();
  batch.messages.push_back(actors::make_message(std::move(publish), client_id_.take(), read_at_));
  if (qos != mqtt::qos::at_least_once)
    return;
  if (services_->durable) {
    batch.acks.push_back({static_cast<uint32_t>(batch.messages.size() - 1), id, false, false});
    pubacks_owed_.fetch_add(1, std::memory_order_relaxed);
  } else {
    mqtt::encode_ack(mqtt::packet_type::puback, id, mqtt::reason_code::success, version_, own_out_);
  }
}

connection_base::extras& connection_base::extra() {
  if (!extras_)
    extras_ = std::make_unique<extras>();
  return *extras_;
}

void connection_base::write_publish_acks(actors::out_buffer acks, uint32_t pubacks) {
  pubacks_owed_.fetch_sub(pubacks, std::memory_order_relaxed);
  write({std::move(acks)});
}

size_t connection_base::inbound_unacknowledged() const {
  return pubacks_owed_.load(std::memory_order_relaxed) + (extras_ ? extras_->qos2_in.size() : 0);
}

void connection_base::on_subscribe(mqtt::subscribe_packet& subscribe) {
  actors::subscribe_command command;
  command.verdicts.reserve(subscribe.subscriptions.size());
  for (const auto& sub : subscribe.subscriptions) {
    std::string_view group;
    std::string_view plain;
    bool shared = mqtt::split_shared_filter(sub.filter, group, plain);
    if (shared && sub.no_local) {
      violation(mqtt::reason_code::protocol_error, "no local on a shared subscription");  // MQTT-3.8.3-4
      return;
    }
    if (!mqtt::is_valid_topic_filter(sub.filter)) {
      // MQTT 3.1.1 has no reason code for it: a malformed filter is a protocol violation that closes the
      // connection (MQTT-4.8.0-1, 4.7.3); MQTT 5 answers SUBACK 0x8F.
      if (version_ != mqtt::protocol_version::v5) {
        violation(mqtt::reason_code::topic_filter_invalid, "invalid topic filter");
        return;
      }
      command.verdicts.push_back(mqtt::reason_code::topic_filter_invalid);
    } else if (!access_->may_subscribe(sub.filter)) {
      command.verdicts.push_back(mqtt::reason_code::not_authorized);
    } else {
      command.verdicts.push_back(mqtt::reason_code::success);
    }
  }
  command.packet = std::move(subscribe);
  command.plan = actors::plan_subscribe(command.packet, command.verdicts, *services_->shards);
  register_subscriptions(command);
  to_session_.packets.emplace_back(std::move(command));
}

void connection_base::register_subscriptions(actors::subscribe_command& command) {
  const auto& shards = *services_->shards;
  actors::subscriber_link link{shared_from_this(), version_, client_maximum_packet_size_, false};
  {
    std::lock_guard guard{write_mutex_};
    link.direct_qos1 = direct_qos1_window_ != 0;
  }
  command.registered.assign(shards.size(), false);
  for (size_t s = 0; s < shards.size(); ++s) {
    auto request = command.plan.requests[s];  // the session sends its own, or settles this one
    auto* shard = shards.local(s);
    if (request.entries.empty() || shard == nullptr)
      continue;  // a shard of another process hears of it from the session
    request.session = session_;
    request.client_id = std::string(client_id_.view());
    request.link = link;
    request.persistent = services_->durable && session_expiry_ != 0;
    auto reply = shard->subscribe_here(request);
    if (!reply)
      continue;
    command.registered[s] = true;
    for (auto& retained : reply->retained)
      command.retained.push_back(std::move(retained));
  }
}

void connection_base::on_disconnect(const mqtt::disconnect_packet& disconnect) {
  std::optional<uint32_t> expiry = disconnect.props.session_expiry_interval;
  if (expiry && *expiry != 0 && session_expiry_ == 0) {
    // A session that was to end with the connection cannot be made to persist now (MQTT-3.14.2-2).
    violation(mqtt::reason_code::protocol_error, "session expiry set on DISCONNECT after 0 on CONNECT");
    return;
  }
  // Only a normal disconnection discards the will (MQTT-3.14.4-3); 0x04 and errors publish it.
  finish(disconnect.code == mqtt::reason_code::normal_disconnection, expiry);
}

}  // namespace mqhub::net
