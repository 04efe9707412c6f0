#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

namespace mqhub::cluster {

/// What the nodes of a cluster send each other. These types cross process boundaries, so they are kept apart
/// from the local fast types of actors/: each has an `inspect` overload and is registered with
/// register_wire_types, which CAF needs to serialize it (an unregistered type would fail to send).

/// A node as the others know it: its unique name and the HOST:PORT of its cluster listener.
struct member_info {
  std::string name;
  std::string address;

  friend bool operator==(const member_info&, const member_info&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("mqhub::cluster::member_info"), x.name, x.address);
}

/// An application message as it crosses to another node, by value: never the PUBLISH bytes encoded for a
/// local client (the receiving node encodes for its own clients), and no pointer or clock of this process.
struct wire_message {
  /// Which optional properties `wire_message` carries.
  enum property_bits : uint8_t {
    has_payload_format = 1,
    has_content_type = 2,
    has_response_topic = 4,
    has_correlation_data = 8,
  };

  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  std::string publisher;  // client id, for No Local
  /// Milliseconds until the message expires (from its message expiry interval), as time left because the
  /// nodes' steady clocks share no epoch; -1: it never expires.
  int64_t expires_in_ms = -1;
  uint8_t present = 0;  // property_bits
  uint8_t payload_format = 0;
  std::string content_type;
  std::string response_topic;
  std::string correlation_data;
  std::vector<std::pair<std::string, std::string>> user_properties;

  friend bool operator==(const wire_message&, const wire_message&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_message& x) {
  return f(caf::meta::type_name("mqhub::cluster::wire_message"), x.topic, x.payload, x.qos, x.retain,
           x.publisher, x.expires_in_ms, x.present, x.payload_format, x.content_type, x.response_topic,
           x.correlation_data, x.user_properties);
}

/// A node introduces itself to another: (hello_atom, member_info) answered with (member_info of the answering
/// node, std::vector<member_info> of every member it knows).
using hello_atom = caf::atom_constant<caf::atom("mq_hello")>;
/// A member tells the others of a node that joined through it: (member_atom, member_info).
using member_atom = caf::atom_constant<caf::atom("mq_member")>;

/// Registers the wire types with the actor system's configuration, before the system starts.
void register_wire_types(caf::actor_system_config& config);

}  // namespace mqhub::cluster
