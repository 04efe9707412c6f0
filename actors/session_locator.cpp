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
        cluster::client_arrival arrival{connected.client_id, node_name_, connected.connected_at_us,
                                        connected.resume};
        if (owner == node_name_)
          arrived(arrival);
        else if (auto gateway = gateway_of(owner))
          send(gateway, std::move(arrival));
        else if (connected.resume)
          no_session_to_move(node_name_, connected.client_id);  // its owner is gone: nothing can move
      },
      [this](const cluster::client_arrival& arrival) { arrived(arrival); },
      [this](const cluster::client_taken_over& taken) {
        caf::actor moving_to = taken.resume ? gateway_of(taken.to_node) : caf::actor{};
        send(directory_of(taken.client_id), take_over_from_elsewhere{taken.client_id, std::move(moving_to)});
      },
      [this](cluster::no_session_to_move& none) { send(directory_of(none.client_id), std::move(none)); },
      [this](cluster::session_handoff& handoff) {
        return delegate(directory_of(handoff.client_id), std::move(handoff));
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

void session_locator::arrived(const cluster::client_arrival& arrival) {
  const auto& node = arrival.node;
  auto [it, first] = last_.try_emplace(arrival.client_id, last_connect{node, arrival.connected_at_us});
  auto& last = it->second;
  // A node that left took its sessions with it: they come back when it does (docs/architecture.md).
  bool was_elsewhere = !first && last.node != node && (last.node == node_name_ || gateway_of(last.node));
  if (!was_elsewhere) {
    last = {node, std::max(last.at_us, arrival.connected_at_us)};
    if (arrival.resume)
      no_session_to_move(node, arrival.client_id);
    return;
  }
  if (arrival.connected_at_us < last.at_us) {
    // Reported late: the connection at `node` is the older one, and is taken over.
    tell(node, cluster::client_taken_over{arrival.client_id, {}, false});
    return;
  }
  tell(last.node, cluster::client_taken_over{arrival.client_id, node, arrival.resume});
  last = {node, arrival.connected_at_us};
}

void session_locator::tell(const std::string& node, cluster::client_taken_over taken) {
  if (node == node_name_) {
    caf::actor moving_to = taken.resume ? gateway_of(taken.to_node) : caf::actor{};
    send(directory_of(taken.client_id), take_over_from_elsewhere{taken.client_id, std::move(moving_to)});
  } else if (auto gateway = gateway_of(node)) {
    send(gateway, std::move(taken));
  }
}

void session_locator::no_session_to_move(const std::string& node, const std::string& client_id) {
  if (node == node_name_)
    send(directory_of(client_id), cluster::no_session_to_move{client_id});
  else if (auto gateway = gateway_of(node))
    send(gateway, cluster::no_session_to_move{client_id});
}

caf::actor session_locator::gateway_of(const std::string& node) const {
  auto it = gateways_.find(node);
  return it != gateways_.end() ? it->second : caf::actor{};
}

const caf::actor& session_locator::directory_of(const std::string& client_id) const {
  return directories_[directory_index_of(client_id, directories_.size())];
}

}  // namespace mqhub::actors
