#include "actors/session_locator.hpp"

#include <algorithm>
#include <utility>

#include "actors/session_directory.hpp"
#include "cluster/stable_hash.hpp"

namespace mqhub::actors {

session_locator::session_locator(caf::actor_config& cfg, std::string node_name,
                                 std::vector<caf::actor> directories)
    : caf::event_based_actor(cfg), node_name_(std::move(node_name)), directories_(std::move(directories)) {}

caf::behavior session_locator::make_behavior() {
  return {
      [this](const client_connected& connected) {
        const auto& owner =
            placement_
                ? placement_->owner(cluster::stable_hash(connected.client_id) % cluster::global_shard_count)
                : node_name_;
        if (owner == node_name_) {
          arrived(connected.client_id, node_name_, connected.connected_at_us);
          return;
        }
        if (auto it = gateways_.find(owner); it != gateways_.end() && it->second)
          send(it->second,
               cluster::client_arrival{connected.client_id, node_name_, connected.connected_at_us});
      },
      [this](const cluster::client_arrival& arrival) {
        arrived(arrival.client_id, arrival.node, arrival.connected_at_us);
      },
      [this](const cluster::client_taken_over& taken) {
        send(directories_[directory_index_of(taken.client_id, directories_.size())],
             take_over_from_elsewhere{taken.client_id});
      },
      [this](const cluster_view& view) {
        placement_ = view.placement;
        gateways_ = view.gateways;
      },
  };
}

void session_locator::on_exit() {
  directories_.clear();
  gateways_.clear();
}

void session_locator::arrived(const std::string& client_id, const std::string& node,
                              int64_t connected_at_us) {
  auto [it, first] = last_.try_emplace(client_id, last_connect{node, connected_at_us});
  auto& last = it->second;
  if (first || last.node == node) {
    last.at_us = std::max(last.at_us, connected_at_us);
    return;
  }
  if (connected_at_us < last.at_us) {
    tell(node, client_id);  // reported late: the connection at `node` is the older one
    return;
  }
  tell(last.node, client_id);
  last = {node, connected_at_us};
}

void session_locator::tell(const std::string& node, const std::string& client_id) {
  if (node == node_name_) {
    send(directories_[directory_index_of(client_id, directories_.size())],
         take_over_from_elsewhere{client_id});
    return;
  }
  if (auto it = gateways_.find(node); it != gateways_.end() && it->second)
    send(it->second, cluster::client_taken_over{client_id});
}

}  // namespace mqhub::actors
