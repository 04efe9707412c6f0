#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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
  /// PUBLISH properties as received, without topic alias and subscription identifiers (those are per hop).
  net::mqtt::properties props;
  /// Client id of the publisher, for No Local (MQTT-3.8.3-3).
  std::string publisher;
  /// Set when the publisher gave a message expiry interval (MQTT-3.3.2-5).
  std::optional<clock::time_point> expires_at;

  bool expired(clock::time_point now) const { return expires_at && now >= *expires_at; }
};

using message_ptr = std::shared_ptr<const message>;

}  // namespace mqhub::actors
