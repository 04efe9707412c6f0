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
/// subscribers (delivered to those only), and the filters other nodes' subscribers hold.
class cluster_gateway : public caf::event_based_actor {
 public:
  cluster_gateway(caf::actor_config& cfg, std::shared_ptr<const shard_map> shards, caf::actor router);

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "mqhub.cluster.gateway"; }

 private:
  /// Splits `messages` over the local shards; `relay` and `token` ask for a forward_ack per part.
  void hand_to_shards(std::vector<cluster::wire_message>& messages, bool forwarded, const caf::actor& relay,
                      uint64_t token);
  void update_routes(const cluster::route_update& update);
  void apply(const cluster_view& view);

  std::shared_ptr<const shard_map> shards_;
  caf::actor router_;
  std::set<std::string> members_;  // the other members, as the last view had them
};

}  // namespace mqhub::actors
