#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/messages.hpp"
#include "actors/shard_map.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

/// What arrives from the other nodes (docs/architecture.md "Cluster"), handed to this node's shards: the
/// messages another node's clients published to shards this node owns (routed as this node's own clients'
/// are, each part acknowledged to the sender once taken), the messages another node routed for this node's
/// subscribers (delivered to those only), the filters other nodes' subscribers hold, and the retained
/// messages of their shards when this node joins.
class cluster_gateway : public caf::event_based_actor {
 public:
  /// `locator`: this node's session_locator, which takes the other nodes' client arrivals and takeovers.
  cluster_gateway(caf::actor_config& cfg, std::shared_ptr<const shard_map> shards, caf::actor router,
                  caf::actor locator = {});

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "mqhub.cluster.gateway"; }

 private:
  /// Splits the messages of `batch` over the local shards; `relay` and `token` ask for a forward_ack per
  /// part.
  void hand_to_shards(const cluster::message_batch& batch, bool forwarded, const caf::actor& relay,
                      uint64_t token);
  /// Another node's retained messages, for this node that joined: kept as copies, delivered to nobody.
  void keep_retained(const cluster::retained_copies& copies);
  void update_routes(const cluster::route_update& update);
  void apply(const cluster_view& view);
  template <class Message>
  void forward_to_locator(Message&& message) {
    if (locator_)
      send(locator_, std::forward<Message>(message));
  }

  std::shared_ptr<const shard_map> shards_;
  caf::actor router_;
  caf::actor locator_;
  std::set<std::string> members_;  // the other members, as the last view had them
};

}  // namespace mqhub::actors
