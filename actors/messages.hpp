#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/connection_sink.hpp"
#include "actors/message.hpp"
#include "cluster/shard_placement.hpp"
#include "net/mqtt/packet.hpp"
#include "storage/recovery.hpp"
#include "storage/result.hpp"

/// The messages actors exchange. Each carries a whole batch, so the actor machinery costs a fraction of an
/// MQTT message on the hot path.
namespace mqhub::actors {

/// An acknowledgement a shard owes the publisher once the message it names is stored (durable modes).
struct publish_ack {
  uint32_t message_index = 0;  // into publish_batch::messages
  uint16_t packet_id = 0;
  bool exactly_once = false;     // PUBREC (QoS 2) rather than PUBACK (QoS 1)
  bool persist_inbound = false;  // store the QoS 2 receive state with it: the publisher's session persists
};

/// Connection (or session) → shard: the PUBLISHes of one read whose topics belong to this shard, in order.
struct publish_batch {
  std::vector<message_ptr> messages;
  /// Durable modes: the acknowledgements that wait for the messages' commit, and where they go.
  std::vector<publish_ack> acks;
  connection_sink_ptr publisher;
  /// Bytes the messages from `publisher`'s connection hold (their objects, topics and payloads), handed back
  /// through routed() when the shard takes the batch; 0 for batches a connection did not read.
  size_t inbound_bytes = 0;
  caf::actor publisher_session;  // told whether its QoS 2 messages are stored
  net::mqtt::protocol_version publisher_version = net::mqtt::protocol_version::v311;
  /// Routed already by the node that owns the messages' shard, which forwarded them here for this node's
  /// subscribers: they go to those only, and a retained one is kept as this node's copy.
  bool forwarded = false;
  /// Of forwarded messages: the shared subscriptions (`$share/{group}/{filter}`) the owner chose this node
  /// for, by message index, ascending; a forwarded message goes to no member of any other group.
  std::vector<std::pair<uint32_t, std::string>> forwarded_groups;
  /// Forwarded by another node for this node's shards: `relay` hears, as a cluster::forward_ack for `token`,
  /// when the shard has taken (in the durable modes, stored) its `parts`th part of that node's batch.
  struct relay_ack {
    caf::actor relay;
    uint64_t token = 0;
    uint32_t parts = 1;
  };
  std::optional<relay_ack> relay;

  /// A batch of one message that nobody waits to hear acknowledged (a will, a `$SYS` update).
  static publish_batch of(message_ptr msg) {
    publish_batch batch;
    batch.messages.push_back(std::move(msg));
    return batch;
  }
};

/// One message for one subscriber, with what its matching subscriptions decided.
struct delivery {
  message_ptr msg;
  uint8_t qos = 0;                         // already the minimum of the message's and the subscription's QoS
  bool retain = false;                     // RETAIN flag to send
  std::vector<uint32_t> subscription_ids;  // of every matching subscription (MQTT-3.3.4-3)
  /// The whole PUBLISH as encoded once by the shard for every subscriber with this layout (version, QoS,
  /// retain; packet id 0 and DUP 0, patched per send), or null when this delivery needs its own encoding.
  out_buffer encoded;
  net::mqtt::protocol_version encoded_version = net::mqtt::protocol_version::v311;
  /// The stored queue entry of a persistent subscriber, or 0 when the delivery lives in memory only.
  uint64_t stored_sequence = 0;
  uint64_t message_id = 0;  // of the stored message the entry references
};

/// Shard → session: the deliveries of one publish batch for one subscriber.
struct delivery_batch {
  std::vector<delivery> deliveries;
};

/// A subscriber's connection as its shards see it. A shard writes QoS 0 deliveries to a connected
/// subscriber itself: they touch no session state, and skipping the session saves an actor hop per batch on
/// the hot path.
struct subscriber_link {
  connection_sink_ptr sink;  // null while the session is offline: QoS 0 is then not kept for it
  net::mqtt::protocol_version version = net::mqtt::protocol_version::v311;
  uint32_t maximum_packet_size = 0;  // the client's limit (MQTT-3.1.2-24); 0: none
  /// QoS 1 goes to the connection too, which completes it itself: the session ends with the connection, so
  /// nothing of a delivery needs to outlive it, and the session's actor is two thread hops per message.
  bool direct_qos1 = false;
};

/// One subscription as the session registers it with a shard.
struct subscription_request_entry {
  std::string filter;  // plain filter (without `$share/{group}/`)
  std::string group;   // empty: not shared
  uint8_t max_qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;
  uint32_t subscription_id = 0;
};

/// Session → shard (request): add subscriptions; the reply lists the retained messages to send.
struct subscribe_request {
  caf::actor session;
  std::string client_id;
  subscriber_link link;
  std::vector<subscription_request_entry> entries;
  bool persistent = false;  // the shard stores QoS 1/2 deliveries for this session (durable modes)
  bool restoring = false;   // re-registered after a restart: no retained messages are sent
};

struct subscribe_reply {
  std::vector<delivery> retained;
};

/// Session → shard: remove subscriptions (also sent for all of them when a session ends).
struct unsubscribe_request {
  caf::actor session;
  std::vector<std::pair<std::string, std::string>> filters;  // (plain filter, group)
};

/// Session → shard (request): the session ends; the reply comes once everything the shard routed to it
/// before has been sent.
struct end_of_session {
  unsubscribe_request unsubscribe;
};

/// Session → shard: the session's connection came or went. The shard writes QoS 0 to the new link, and
/// shared subscription groups pass over members that are offline (docs/architecture.md).
struct session_presence {
  caf::actor session;
  subscriber_link link;
  bool persistent = false;
};

/// Session → shard: the SUBACK of a subscribe this shard took part in, and the retained messages it found,
/// are handed to the connection. QoS 0 the shard wrote for the subscriber meanwhile waited, so that no
/// newer message overtakes a retained one (the client would keep the stale value); it follows them now.
struct subscribe_done {
  caf::actor session;
};

/// Cluster gateway → shard: the topic filters another node's subscribers hold, which this shard (of those the
/// filters belong here) forwards the messages it routes for; a retained message goes to every node it knows.
struct remote_routes {
  uint64_t node = 0;     // cluster::node_key of the node's name
  caf::actor router;     // this node's cluster_router, which forwards
  bool replace = false;  // forget the node's earlier filters first
  bool gone = false;     // the node left: forget it
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

/// Shard → cluster router: messages this shard routed, for the subscribers of another node, in order. With a
/// token, the shard waits to hear (a cluster::forward_ack for it) that the node has taken them, stored for
/// its persistent subscribers, before it acknowledges their publisher.
struct node_deliveries {
  uint64_t node = 0;
  std::vector<message_ptr> messages;
  /// The shared subscriptions (`$share/{group}/{filter}`) the node was chosen for, by message index.
  std::vector<std::pair<uint32_t, std::string>> groups;
  uint64_t token = 0;
  caf::actor shard;  // with a token: who waits
};

/// Shard → cluster router: topic filters this shard's local subscribers began or ceased to hold (by their
/// plain filter), which other nodes must hear of. Each shard reports its whole set first, when the router
/// attaches to it.
struct local_routes {
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

/// Cluster router → shard (request): the retained messages routed here since this node started (not those
/// read back from its store or sent by another node, which may be older than what the cluster has), for a
/// node that joined.
struct retained_snapshot {};
struct retained_snapshot_reply {
  std::vector<message_ptr> messages;
};

/// Cluster router → shard: report local_routes to `router` from now on.
struct attach_router {
  caf::actor router;
};

/// Membership → cluster router and gateway: who the members are, who owns which global shard, and the
/// gateways of the other members.
struct cluster_view {
  cluster::shard_placement placement;
  std::map<std::string, caf::actor> gateways;
};

/// Shard → publisher's session (durable modes): whether its QoS 2 PUBLISHes are stored. Until then a resend
/// must not be answered with PUBREC; when they were not, their packet ids are free again.
struct inbound_qos2_outcome {
  std::vector<uint16_t> packet_ids;
  bool stored = false;
};

/// Storage → the actor that committed a batch: its outcome.
struct commit_result {
  uint64_t token = 0;
  storage::status outcome;
};

/// Directory → session (request): take over the recovered state; the session reads its queue from disk.
struct restore_session {
  std::shared_ptr<storage::recovered_session> state;
};

/// Node → directory (request): the persistent sessions recovered from storage; the reply comes once every
/// session is registered with its shards.
struct restore_sessions {
  std::vector<restore_session> sessions;
};

/// Node → shard (request): the recovered retained messages of this shard.
struct restore_retained {
  std::vector<message_ptr> messages;
};

/// Node → directory → session (request): replies once everything sent before is handled, so a shutdown
/// loses no session update.
struct drain {};

/// Node → directory → restored sessions: every session and retained message is in place; expiry and will
/// timers may start (a will due at once then reaches every recovered subscriber).
struct start_timers {};

/// What a connection tells the session directory and the session at CONNECT.
struct connect_request {
  connection_sink_ptr sink;
  net::mqtt::protocol_version version = net::mqtt::protocol_version::v311;
  std::string client_id;
  bool clean_start = true;
  uint32_t session_expiry = 0;       // seconds; 0xFFFFFFFF never expires
  uint16_t receive_maximum = 65535;  // the client's: how many QoS 1/2 PUBLISHes it takes unacknowledged
  uint32_t maximum_packet_size = 0;  // the client's; 0: no limit
  bool request_problem_information = true;
  std::optional<net::mqtt::will_message> will;
  /// The CONNACK to send, complete but for the session present flag, which the session decides.
  net::mqtt::connack_packet connack;
  /// The CONNACK went out already (from the directory or the connection): the session was dormant (see
  /// session_directory) until now.
  bool connack_sent = false;
};

/// Connection → directory: a session the connection started itself, on its own thread (see
/// wake_dormant_session); the directory watches it as it does the ones it starts.
struct adopt_session {
  caf::actor session;
};

/// A SUBSCRIBE as the shards take it.
struct subscribe_plan {
  /// Per subscription of the packet, its entry; nullopt where the connection refused it (see verdicts).
  std::vector<std::optional<subscription_request_entry>> entries;
  /// Per shard, the subscriptions it holds (empty for a shard the SUBSCRIBE does not concern).
  std::vector<subscribe_request> requests;
};

/// A SUBSCRIBE, for the session.
struct subscribe_command {
  net::mqtt::subscribe_packet packet;
  /// Per subscription: success to go ahead, or the SUBACK failure the connection decided (0x87, 0x8F...).
  std::vector<net::mqtt::reason_code> verdicts;
  subscribe_plan plan;
  /// Per shard: the connection registered its subscriptions there itself as it read the packet, so that a
  /// PUBLISH read after it on any connection reaches the subscriber (issue 21); `retained` is what those
  /// shards found. The session settles them with its own state (see session_actor::settle_registered).
  std::vector<bool> registered;
  std::vector<delivery> retained;
};

/// A PUBACK, PUBREC, PUBREL or PUBCOMP from the client: what the session acts on. Their properties (a reason
/// string, user properties) are not acted on, and carrying them cost every acknowledgement a properties
/// block.
struct inbound_ack {
  net::mqtt::packet_type type = net::mqtt::packet_type::puback;
  uint16_t packet_id = 0;
  net::mqtt::reason_code code = net::mqtt::reason_code::success;
};

struct session_input {
  /// The connection the packets came from: input still in flight when another connection took the session
  /// over is not the new client's (its acknowledgements and SUBACKs would go to the wrong client).
  connection_sink_ptr from;
  std::vector<
      std::variant<net::mqtt::publish_packet, inbound_ack, subscribe_command, net::mqtt::unsubscribe_packet>>
      packets;
};

/// Connection → session: the connection is gone.
struct connection_closed {
  connection_sink_ptr sink;  // which connection, so a late notice after a takeover is ignored
  /// True for DISCONNECT 0x00 (no will), false for everything abnormal; DISCONNECT 0x04 sets it false.
  bool clean_disconnect = false;
  /// A session expiry interval from the client's DISCONNECT (MQTT 5), replacing the one from CONNECT.
  std::optional<uint32_t> session_expiry;
};

/// Session → directory (request): may I end? Refused when a connection was handed to the session since.
struct session_end_request {
  std::string client_id;
  uint64_t attach_count = 0;
};

/// Session → itself: timers.
struct session_expiry_tick {
  uint64_t epoch = 0;
};
struct will_delay_tick {
  uint64_t epoch = 0;
};
/// Stores the inflight state of the QoS 1 deliveries still unacknowledged.
struct inflight_state_tick {};
/// A session that moved to another node leaves its shards here now (see session_actor::finish_hand_off).
struct handoff_grace_over {};

/// Directory → session: its client connected at another node of the cluster (session_locator). Its
/// connection here, if any, gets DISCONNECT 0x8E. With `moving_to` (the gateway of that node, whose CONNECT
/// resumes the session) a persistent session moves there (session_handoff.cpp); otherwise it ends here and
/// its will is published, once.
struct taken_over_elsewhere {
  caf::actor moving_to;
  bool if_restored = false;  // see cluster::client_taken_over
};

/// Connection → session locator: a client connected here.
struct client_connected {
  std::string client_id;
  int64_t connected_at_us = 0;  // wall clock, µs since the epoch
  bool resume = false;          // Clean Start 0 (see cluster::client_arrival)
};

/// Node → session locator: the persistent sessions restored at the start (reported once the node has joined).
struct sessions_restored {
  std::vector<std::string> client_ids;
};

/// Session locator → directory: a client connected at another node; `moving_to` as in taken_over_elsewhere.
struct take_over_from_elsewhere {
  std::string client_id;
  caf::actor moving_to;
  bool if_restored = false;  // see cluster::client_taken_over
};

/// Session → directory: its move to another node failed, and it stays here (see moving_out).
struct session_stays {
  std::string client_id;
};

/// Directory → itself: a CONNECT that waits for its session to move here (see session_directory::connect)
/// has waited long enough.
struct handoff_wait_over {
  std::string client_id;
  uint64_t wait_id = 0;
};

/// The session's less frequent messages, behind one handler: each handler in an actor's behaviour costs
/// every session about 45 bytes.
using session_event =
    std::variant<connection_closed, session_expiry_tick, will_delay_tick, inbound_qos2_outcome, start_timers,
                 inflight_state_tick, taken_over_elsewhere, handoff_grace_over>;

}  // namespace mqhub::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::publish_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::delivery_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::subscribe_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::subscribe_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::unsubscribe_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::session_presence)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::subscribe_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::connect_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::session_input)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::adopt_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::session_end_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::commit_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::restore_sessions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::restore_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::restore_retained)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::drain)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::end_of_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::start_timers)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::session_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::remote_routes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::node_deliveries)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::local_routes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::attach_router)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::cluster_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::retained_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::client_connected)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::take_over_from_elsewhere)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::handoff_wait_over)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::session_stays)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::sessions_restored)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::retained_snapshot_reply)
