#pragma once

#include <chrono>
#include <memory>

#include <caf/event_based_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/shard_map.hpp"

namespace mqhub::actors {

/// Publishes the node's counters as retained `$SYS/broker/...` messages every interval.
class sys_topics_actor : public caf::event_based_actor {
 public:
  sys_topics_actor(caf::actor_config& cfg, std::shared_ptr<const shard_map> shards,
                   std::shared_ptr<broker_stats> stats, std::chrono::seconds interval);

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  void publish_all();

  std::shared_ptr<const shard_map> shards_;
  std::shared_ptr<broker_stats> stats_;
  std::chrono::seconds interval_;
};

}  // namespace mqhub::actors
