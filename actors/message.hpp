#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "actors/shared_client_id.hpp"
#include "net/mqtt/packet.hpp"

namespace mqhub::actors {

using clock = std::chrono::steady_clock;

/// An application message as the broker routes it: built once from a PUBLISH and shared, immutable, by every
/// queue and subscriber that holds it, so the payload is never copied per subscriber.
struct message {
  std::string topic;
  std::string payload;
  net::mqtt::qos qos_level = net::mqtt::qos::at_most_once;
  bool retain = false;
  /// PUBLISH properties as received, without topic alias and subscription identifiers (those are per hop);
  /// null when there are none (every 3.1.1 message, most MQTT 5 ones), which keeps the hot path from
  /// building, moving and destroying the whole property set per message.
  std::unique_ptr<const net::mqtt::properties> props;
  /// Client id of the publisher, for No Local (MQTT-3.8.3-3); shared with its connection or session.
  shared_client_id publisher;
  /// Set when the publisher gave a message expiry interval (MQTT-3.3.2-5).
  std::optional<clock::time_point> expires_at;

  bool expired(clock::time_point now) const { return expires_at && now >= *expires_at; }

  /// The properties, or an empty set.
  const net::mqtt::properties& properties() const;
};

using message_ptr = std::shared_ptr<const message>;

}  // namespace mqhub::actors

namespace mqhub::actors {

/// Builds the routed message of a PUBLISH (or a Will): takes the payload and topic without copying and keeps
/// the properties that travel to subscribers (not the topic alias, not subscription identifiers).
message_ptr make_message(net::mqtt::publish_packet&& publish, shared_client_id publisher,
                         clock::time_point now);

/// The message a Will becomes when it is published (MQTT-3.1.2-9): the will delay stays behind.
message_ptr make_will_message(net::mqtt::will_message&& will, std::string_view publisher,
                              clock::time_point now);

}  // namespace mqhub::actors
