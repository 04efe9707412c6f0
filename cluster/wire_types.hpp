#pragma once

#include <string>
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

/// A node introduces itself to another: (hello_atom, member_info) answered with (member_info of the answering
/// node, std::vector<member_info> of every member it knows).
using hello_atom = caf::atom_constant<caf::atom("mq_hello")>;
/// A member tells the others of a node that joined through it: (member_atom, member_info).
using member_atom = caf::atom_constant<caf::atom("mq_member")>;

/// Registers the wire types with the actor system's configuration, before the system starts.
void register_wire_types(caf::actor_system_config& config);

}  // namespace mqhub::cluster
