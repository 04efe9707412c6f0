#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/messages.hpp"
#include "actors/shard_map.hpp"
#include "cluster/shard_placement.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

/// Node → router: the shard map it is the cluster route of.
struct router_shards {
  std::shared_ptr<const shard_map> shards;
};

/// What leaves this node for the others (docs/architecture.md "Cluster"): the PUBLISHes of this node's
/// clients whose shard another node owns (the shard map's cluster route), the messages this node's shards
/// routed for other nodes' subscribers, and the filters this node's subscribers hold. Messages for a node
/// leave in one CAF message per flush, in the order they came; the publishers' acknowledgements wait for
/// the owner's forward_ack.
class cluster_router : public caf::event_based_actor {
 public:
  /// `delivery_bytes_limit`: deliveries in flight to one node beyond which QoS 0 (and, when no publisher
  /// waits for it, QoS 1 and 2) is dropped for that node, as for a client that cannot keep up.
  cluster_router(caf::actor_config& cfg, std::string node_name, std::shared_ptr<broker_stats> stats,
                 uint64_t delivery_bytes_limit = 8ull << 20);

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "mqhub.cluster.router"; }

 private:
  struct peer {
    std::string name;
    caf::actor gateway;
    uint64_t key = 0;  // cluster::node_key of its name, as shards know it
    cluster::message_batch publishes;
    uint64_t publish_token = 0;  // of `publishes`
    cluster::message_batch deliveries;
    uint64_t delivery_bytes = 0;  // of `deliveries`
    std::vector<std::pair<caf::actor, uint64_t>>
        delivery_waiters;  // shards and their tokens, of `deliveries`
    /// Bytes of deliveries sent to the node and not yet acknowledged: CAF buffers what the link has not
    /// taken, so this is what bounds the memory a slow node costs this one.
    uint64_t deliveries_in_flight = 0;
  };
  /// What waits for the forward_ack of one publish_forward or delivery_forward. Every forward is answered:
  /// the answer is the flow control of the link.
  struct pending_ack {
    std::string node;
    std::vector<publish_batch> publishers;  // acks and where they go, without messages
    /// Publishers' connections and the bytes they read, handed back once the owner took them: a client
    /// that publishes faster than the owner routes is held back as one whose local shards are busy.
    std::vector<std::pair<connection_sink_ptr, size_t>> inbound;
    std::vector<std::pair<caf::actor, uint64_t>> shards;  // waiting for a delivery_forward to be stored
    uint64_t delivery_bytes = 0;
    uint32_t received = 0;
    uint8_t worst = cluster::forward_ack::taken;
  };

  void forward(publish_batch& batch);
  void forward_deliveries(node_deliveries& deliveries);
  void acknowledged(const cluster::forward_ack& ack);
  void apply(const cluster_view& view);
  void report(const local_routes& changes);
  /// The retained messages of the shards this node owned `before` `node` joined, or owns now, to `node`.
  void send_retained_copies(const std::string& node, const cluster::shard_placement& before);
  /// The peer that owns `topic`'s shard, or null when this node does (or the owner cannot be reached).
  peer* owner_of(const std::string& topic);
  /// Flushes at once when a peer's batch is full, else behind what the mailbox holds.
  void schedule_flush();
  void flush();
  /// `node` left: its publishers hear their messages were not taken; shards that wait for it to store their
  /// deliveries wait no more (its subscribers left with it).
  void fail_pending(const std::string& node);
  void complete(pending_ack& pending, uint8_t outcome);

  std::string node_name_;
  std::shared_ptr<broker_stats> stats_;
  std::shared_ptr<const shard_map> shards_;
  std::optional<cluster::shard_placement> placement_;
  std::map<std::string, peer> peers_;
  std::unordered_map<uint64_t, pending_ack> pending_acks_;
  uint64_t last_token_ = 0;
  bool flush_scheduled_ = false;
  /// Per plain filter, how many local shards report subscribers to it (a wildcard filter lives on all).
  std::map<std::string, uint32_t> routes_;
  std::vector<publish_batch> local_;  // scratch of forward
  uint64_t delivery_bytes_limit_;
};

}  // namespace mqhub::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::router_shards)
