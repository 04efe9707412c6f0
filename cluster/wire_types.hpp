#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "cluster/stable_hash.hpp"

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

/// Application messages as they cross to another node, packed into one byte string that actors/wire_form.hpp
/// writes and reads: by value, never the PUBLISH bytes encoded for a local client (the receiving node encodes
/// for its own clients), and no pointer or clock of this process. One string per batch rather than fields per
/// message, because CAF 0.17 serializes each field through virtual calls on the middleman's one thread, which
/// made the fields of a batch cost more than its bytes (docs/architecture.md "Cluster").
struct message_batch {
  uint32_t count = 0;
  std::string bytes;

  friend bool operator==(const message_batch&, const message_batch&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_batch& x) {
  return f(caf::meta::type_name("mqhub::cluster::message_batch"), x.count, x.bytes);
}

/// Messages a node forwards to the owner of their shard (cluster_router → cluster_gateway), in the order
/// their publishers sent them. `token` names the batch in the forward_ack that comes back once the owner's
/// shards have taken it (stored, in the durable modes); 0: none is wanted.
struct publish_forward {
  uint64_t token = 0;
  message_batch messages;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_forward& x) {
  return f(caf::meta::type_name("mqhub::cluster::publish_forward"), x.token, x.messages);
}

/// Messages the owner of their shard routed, for a node with subscribers to them: each message once, in the
/// order the owner routed them. The receiving node matches them against its own subscriptions, so the
/// subscribers' names and options never cross; a retained message goes to every node, which keeps a copy.
struct delivery_forward {
  uint64_t token = 0;  // as in publish_forward: the owner's publishers wait for this node to store them
  message_batch messages;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_forward& x) {
  return f(caf::meta::type_name("mqhub::cluster::delivery_forward"), x.token, x.messages);
}

/// The retained messages of the shards a node owns, for a node that just joined or came back: it keeps them
/// as its copies (it may have missed updates while it was away), and delivers none of them.
struct retained_copies {
  message_batch messages;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retained_copies& x) {
  return f(caf::meta::type_name("mqhub::cluster::retained_copies"), x.messages);
}

/// A client connected at `node`: to the node that keeps track of its client id (actors::session_locator).
struct client_arrival {
  std::string client_id;
  std::string node;
  /// When, on that node's wall clock (µs since the epoch): two CONNECTs reported in the reverse order, as
  /// the paths from two nodes allow, are told apart by it (within the nodes' clock skew).
  int64_t connected_at_us = 0;
  /// The CONNECT asked to resume its session (Clean Start 0): the node waits to hear whether the session
  /// moves there from another node (session_handoff) or not (no_session_to_move).
  bool resume = false;
  /// Not a CONNECT: the entry of a node that no longer owns the client id, for the node that does now.
  bool handed_over = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_arrival& x) {
  return f(caf::meta::type_name("mqhub::cluster::client_arrival"), x.client_id, x.node, x.connected_at_us,
           x.resume, x.handed_over);
}

/// To the node a client was at before it connected at another: its connection there, if any, gets DISCONNECT
/// 0x8E (session taken over). With `resume`, its persistent session moves to `to_node` (session_handoff);
/// otherwise it ends.
struct client_taken_over {
  std::string client_id;
  std::string to_node;
  bool resume = false;
  /// Only a session the node restored and no client has connected to since (see restored_sessions).
  bool if_restored = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_taken_over& x) {
  return f(caf::meta::type_name("mqhub::cluster::client_taken_over"), x.client_id, x.to_node, x.resume,
           x.if_restored);
}

/// A persistent session moving to the node its client reconnected at, as a request the receiver answers
/// (true) once it has stored the session and its subscriptions are in place there (docs/architecture.md
/// "Sessions follow their client"). The rows are in the storage format (storage/records.hpp), which is
/// versioned and checked when decoded; each queue entry holds its message.
struct session_handoff {
  std::string client_id;
  std::string record;                // storage::encode(session_record)
  std::vector<std::string> entries;  // storage::encode(queue_entry), in queue order
  std::vector<uint16_t> inbound_qos2;
  /// The entries the old node stored after the first part went: the session is in place at the receiver by
  /// then, and `record` and `inbound_qos2` are empty.
  bool tail = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_handoff& x) {
  return f(caf::meta::type_name("mqhub::cluster::session_handoff"), x.client_id, x.record, x.entries,
           x.inbound_qos2, x.tail);
}

/// From a node that restarted, to every member: the persistent sessions it restored. The owner of a client id
/// that saw it connect elsewhere since tells the node (client_taken_over), whose copy ends.
struct restored_sessions {
  std::string node;
  std::vector<std::string> client_ids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, restored_sessions& x) {
  return f(caf::meta::type_name("mqhub::cluster::restored_sessions"), x.node, x.client_ids);
}

/// To the node a client reconnected at with Clean Start 0: no session of it moves there from another node,
/// and the CONNECT goes on with the session (if any) that node has.
struct no_session_to_move {
  std::string client_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, no_session_to_move& x) {
  return f(caf::meta::type_name("mqhub::cluster::no_session_to_move"), x.client_id);
}

/// The answer to a publish_forward or delivery_forward with a token: one of the receiver's `parts` shards
/// took (stored) its part of the batch.
struct forward_ack {
  enum outcome_code : uint8_t { taken = 0, store_full = 1, failed = 2 };
  uint64_t token = 0;
  uint8_t outcome = taken;
  uint32_t parts = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forward_ack& x) {
  return f(caf::meta::type_name("mqhub::cluster::forward_ack"), x.token, x.outcome, x.parts);
}

/// The topic filters a node's subscribers hold, as it tells every other node: a node forwards the messages it
/// routes to each node whose filters match. A shared subscription goes as `$share/{group}/{filter}`: the
/// node is one member of that group wherever it is routed. `replace` says that `added` is the whole set (a
/// node that just joined, or came back).
struct route_update {
  std::string node;
  bool replace = false;
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, route_update& x) {
  return f(caf::meta::type_name("mqhub::cluster::route_update"), x.node, x.replace, x.added, x.removed);
}

/// The key under which a node's subscriptions are kept in another node's shards: apart from the local
/// subscribers' keys (actor ids), which never have the top bit set.
inline uint64_t node_key(std::string_view name) {
  return stable_hash(name) | (uint64_t{1} << 63);
}
inline bool is_node_key(uint64_t key) {
  return (key >> 63) != 0;
}

/// A node introduces itself to another: (hello_atom, member_info, gateway) answered with (member_info of the
/// answering node, std::vector<member_info> of every member it knows, its gateway). The gateway is the actor
/// that takes the node's forwarded messages and route updates (actors::cluster_gateway).
using hello_atom = caf::atom_constant<caf::atom("mq_hello")>;
/// A member tells the others of a node that joined through it: (member_atom, member_info).
using member_atom = caf::atom_constant<caf::atom("mq_member")>;
/// A node that stops gracefully: (leave_atom) from the node itself makes its membership actor tell every
/// member (leave_atom, its name), a request each answers once its placement no longer has the node, so that
/// nothing new is routed to it while it finishes what it has.
using leave_atom = caf::atom_constant<caf::atom("mq_leave")>;

/// Registers the wire types with the actor system's configuration, before the system starts.
void register_wire_types(caf::actor_system_config& config);

}  // namespace mqhub::cluster
