#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/event_based_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/shard_map.hpp"

namespace mqhub::actors {

/// Publishes the node's counters as retained `$SYS/broker/...` messages every interval; in a cluster as
/// `$SYS/broker/<node>/...`, with the cluster's figures, and every node gets every node's.
class sys_topics_actor : public caf::event_based_actor {
 public:
  sys_topics_actor(caf::actor_config& cfg, std::shared_ptr<const shard_map> shards,
                   std::shared_ptr<broker_stats> stats, std::chrono::seconds interval,
                   const std::string& cluster_node = {});

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  void publish_all();

  std::shared_ptr<const shard_map> shards_;
  std::shared_ptr<broker_stats> stats_;
  std::chrono::seconds interval_;
  std::string prefix_;  // "$SYS/broker/", or "$SYS/broker/<node>/" in a cluster
  bool clustered_;
};

}  // namespace mqhub::actors
