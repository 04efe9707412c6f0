#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/durable_store.hpp"
#include "actors/messages.hpp"
#include "actors/packet_writer.hpp"
#include "actors/publish_encoding_cache.hpp"
#include "actors/retained_store.hpp"
#include "actors/session_limits.hpp"
#include "actors/stored_form.hpp"
#include "actors/subscription_trie.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

/// Owns the subscriptions and retained messages of a slice of the topic space (docs/architecture.md). A
/// publish batch in, one delivery batch out per subscriber that matched anything in it.
///
/// With a store (durable modes), a batch's messages, their queue entries for persistent subscribers, its
/// retained changes and its publisher's QoS 2 receive state go to storage as one write; the deliveries and
/// the PUBACK/PUBREC leave only once it is committed, and batches leave in the order they came.
///
/// In memory mode a connection may also route a batch itself, on its own thread (route_here): the actor
/// and such callers take one lock for everything the shard does.
class shard_actor : public caf::event_based_actor {
 public:
  /// `write_buffer_limit`: bytes queued on a subscriber's connection beyond which QoS 0 deliveries to it are
  /// dropped.
  /// `queue`: what the QoS 1 deliveries held for a direct_qos1 subscriber while it subscribes (see
  /// subscribe_done) may hold before the newest are dropped, as its queue would.
  shard_actor(caf::actor_config& cfg, std::shared_ptr<broker_stats> stats,
              std::shared_ptr<durable_store> store = nullptr,
              size_t write_buffer_limit = session_limits{}.write_buffer_limit, queue_limits queue = {});

  caf::behavior make_behavior() override;
  void on_exit() override;

  /// Routes `batch` on the calling thread, as the mailbox would, without the hop to the actor's thread: at
  /// light load that hop (a thread woken, twice with the session's) is most of a message's latency, and under
  /// load the messages' bytes, read on one core and routed on another, would be fetched from the other core's
  /// cache. Thread-safe. False, with `batch` untouched, when the caller must use the mailbox instead: in
  /// durable modes (a commit's reply comes to the actor), once the actor has exited, or while the shard is
  /// busy, which a reading thread should not wait for.
  bool route_here(publish_batch& batch);

  /// Adds subscriptions on the calling thread, as the mailbox would: a connection registers a SUBSCRIBE as it
  /// reads it, so that a PUBLISH read after it on any connection reaches the subscriber (issue 21); its
  /// session settles them later. Thread-safe; waits for the shard. Nothing once the actor has exited.
  std::optional<subscribe_reply> subscribe_here(const subscribe_request& request);

 private:
  struct subscriber {
    caf::actor session;
    std::string client_id;
    subscriber_link link;
    size_t subscriptions = 0;
    bool persistent = false;
    uint32_t subscribes_pending = 0;    // subscribes whose SUBACK and retained messages are not out yet
    std::vector<out_buffer> held_qos0;  // meanwhile (see subscribe_done)
    size_t held_bytes = 0;
    std::vector<delivery> held_qos1;  // for a direct_qos1 link, meanwhile
    uint64_t held_qos1_bytes = 0;
  };

  /// Deliveries routed to one subscriber, addressed when routed: the subscriber may leave meanwhile.
  struct addressed_batch {
    uint64_t subscriber = 0;
    caf::actor session;
    delivery_batch deliveries;
  };

  /// A routed batch waiting for its commit, or behind one that does.
  struct pending_route {
    uint64_t token = 0;
    bool committed = false;
    storage::status outcome;
    std::vector<addressed_batch> batches;
    publish_batch acks;  // messages, acks and the publisher; what is left of the batch once routed
    std::optional<caf::typed_response_promise<bool>> barrier;  // an ended session waiting for the above
    std::vector<node_deliveries> node_batches;                 // for other nodes, held too
    uint64_t remote_token = 0;                                 // see remote_wait
  };
  /// A batch whose publisher waits until the nodes its messages were forwarded to have stored them.
  struct remote_wait {
    publish_batch acks;
    bool stored = false;  // here; `acks` is set then
    uint32_t remaining = 0;
    uint8_t worst = 0;  // cluster::forward_ack::outcome_code
  };

  void route(publish_batch& batch);
  void route_one(const message_ptr& msg);
  /// Adds `msg` for each other node whose subscribers' filters match it (each node once), and for every
  /// other node when it is retained.
  void route_to_nodes(const message_ptr& msg);
  /// Durable modes: gives the node batches of a batch whose publisher waits to be acknowledged a token, under
  /// which remote_waits_ will hold its acknowledgements; 0 when nothing waits for another node.
  uint64_t await_nodes(const publish_batch& batch);
  void send_node_deliveries(std::vector<node_deliveries>& batches);
  /// The batch of `node` in node_batches_, with `msg` last in it.
  node_deliveries& node_batch_with(uint64_t node, const message_ptr& msg);
  /// Whether the owner chose this node for `group` of the forwarded message being routed.
  bool allowed_group(shared_match group) const;
  void set_remote_route(uint64_t node, const std::string& filter, bool present);
  void on_node_taken(const cluster::forward_ack& ack);
  void update_remote_routes(const remote_routes& update);
  /// Counts a local subscription to `filter` coming (+1) or going (-1), noting the filters this node's
  /// subscribers begin or cease to hold, which report_routes tells the cluster router.
  void count_route(const std::string& filter, int delta);
  void report_routes();
  /// Adds `msg`'s delivery through a plain (unshared) subscription.
  void deliver_plain(const subscription_entry& entry, const message_ptr& msg);
  /// Adds what `msg` and its deliveries change in storage to `writes_`.
  void persist(const message_ptr& msg, const clocks& now);
  void send_deliveries(std::vector<std::pair<uint64_t, delivery_batch>>& batches);
  /// QoS 0 deliveries go straight to the subscriber's connection, and QoS 1 too for a direct_qos1 link; the
  /// rest to its session. `sub` is null for a subscriber that left while its deliveries waited for a
  /// commit: they all go to the session.
  void dispatch(subscriber* sub, const caf::actor& session, delivery_batch& batch);
  /// Writes (or holds, see subscribe_done) and removes the deliveries of `batch` that go to the connection.
  void write_direct(subscriber& sub, delivery_batch& batch);
  void on_subscribe_done(const subscribe_done& done);
  void on_commit(const commit_result& result);
  void release_committed();
  /// Acknowledges the batch's publisher (or the node that forwarded it), or, with a `remote_token` and the
  /// batch stored, holds that until the nodes its messages went to have stored them too.
  void acknowledge(publish_batch& batch, const storage::status& outcome, uint64_t remote_token = 0);
  delivery& delivery_slot(uint64_t subscriber);
  /// The same, where the caller looked up the subscriber's batch: `added` when it was just registered.
  delivery& delivery_slot(uint64_t subscriber, size_t batch, bool added);
  void encode_once(const message_ptr& msg);
  subscribe_reply subscribe(const subscribe_request& request);
  void unsubscribe(const unsubscribe_request& request);
  caf::result<bool> end_session(const end_of_session& end);

  // Held by the actor's handlers and by route_here.
  std::mutex mutex_;
  bool routing_here_ = false;  // on a caller's thread: it sends to actors as nobody, not as this actor
  bool exited_ = false;
  std::shared_ptr<broker_stats> stats_;
  std::shared_ptr<durable_store> store_;
  size_t write_buffer_limit_;
  queue_limits queue_limits_;
  subscription_trie trie_;
  retained_store retained_;
  std::unordered_map<uint64_t, subscriber> subscribers_;

  // The cluster (see docs/architecture.md "Cluster"): other nodes' filters, keyed by node (their shared
  // subscriptions are members in trie_ under the node's key), and what this node's own subscribers hold.
  caf::actor router_;
  subscription_trie remote_trie_;
  std::unordered_map<uint64_t, std::unordered_set<std::string>> remote_filters_;
  std::unordered_map<std::string, uint32_t> route_counts_;  // plain filter -> local subscriptions to it
  local_routes route_changes_;
  std::vector<node_deliveries> node_batches_;       // of the batch being routed
  bool forwarding_ = false;                         // routing a batch the owner forwarded here
  std::vector<const std::string*> allowed_groups_;  // of the forwarded message being routed
  std::unordered_map<uint64_t, remote_wait> remote_waits_;
  uint64_t last_remote_token_ = 0;

  // Scratch space of `route`, kept between batches so routing does not allocate in the steady state.
  std::unordered_map<uint64_t, size_t> batch_of_subscriber_;
  std::vector<std::pair<uint64_t, delivery_batch>> batches_;
  size_t deliveries_expected_ = 0;  // per subscriber in the batch being routed
  static constexpr size_t max_reserved_deliveries = 32;
  std::vector<subscription_entry> shared_matches_;
  // The plain subscriptions that the batch's last topic matched, when it matched no shared one (whose member
  // is picked per message): the next message of the batch on that topic, which is most of a device's burst,
  // reuses them instead of walking the trie. Valid within one `route`, over which the trie does not change
  // and the batch keeps the message whose topic this points to.
  struct last_topic_matches {
    const std::string* topic = nullptr;  // null: nothing to reuse
    std::vector<subscription_entry> entries;
  };
  last_topic_matches last_matches_;
  static constexpr size_t max_kept_matches = 1024;  // entries' room kept between batches
  struct delivery_ref {
    uint64_t subscriber;
    size_t batch;
    size_t index;
  };
  std::vector<delivery_ref> deliveries_of_message_;  // indices: the batches grow while a message is routed
  publish_encoding_cache encodings_;
  packet_writer qos0_writer_;
  std::vector<delivery> direct_qos1_;  // scratch of write_direct

  // Durable modes.
  storage::write_batch writes_;  // of the batch being routed
  struct stored_delivery {
    size_t index;  // among the message's deliveries
    delivery* item;
    const std::string* client_id;
  };
  std::vector<stored_delivery> stored_deliveries_;  // of the message being persisted
  std::deque<pending_route> pending_;
  size_t held_routes_ = 0;  // entries of pending_ whose deliveries wait for their commit
  uint64_t last_token_ = 0;
};

}  // namespace mqhub::actors
