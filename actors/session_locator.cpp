#include "actors/session_locator.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "actors/session_directory.hpp"
#include "cluster/stable_hash.hpp"

namespace mqhub::actors {

session_locator::session_locator(caf::actor_config& cfg, std::string node_name,
                                 std::vector<caf::actor> directories)
    : caf::event_based_actor(cfg), node_name_(std::move(node_name)), directories_(std::move(directories)) {}

caf::behavior session_locator::make_behavior() {
  return {
      [this](const client_connected& connected) {
        report({connected.client_id, node_name_, connected.connected_at_us, connected.resume, false});
      },
      [this](sessions_restored& restored) {
        restored_here_.insert(restored.client_ids.begin(), restored.client_ids.end());
        restored_ids_ = std::move(restored.client_ids);
        report_restored();
      },
      [this](const cluster::client_arrival& arrival) { arrived(arrival); },
      [this](const cluster::restored_sessions& restored) { end_stale(restored); },
      [this](cluster::client_taken_over& taken) { tell(node_name_, std::move(taken)); },
      [this](cluster::no_session_to_move& none) { send(directory_of(none.client_id), std::move(none)); },
      [this](cluster::session_handoff& handoff) {
        return delegate(directory_of(handoff.client_id), std::move(handoff));
      },
      [this](const cluster_view& view) {
        placement_ = view.placement;
        gateways_ = view.gateways;
        hand_over_entries();
        report_restored();
      },
  };
}

void session_locator::report(cluster::client_arrival arrival) {
  const auto& owner = owner_of(arrival.client_id);
  if (owner == node_name_)
    arrived(arrival);
  else if (auto gateway = gateway_of(owner))
    send(gateway, std::move(arrival));
  else if (arrival.resume)
    no_session_to_move(node_name_, arrival.client_id);  // its owner is gone: nothing can move
}

const std::string& session_locator::owner_of(const std::string& client_id) const {
  return placement_ ? placement_->owner(cluster::stable_hash(client_id) % cluster::global_shard_count)
                    : node_name_;
}

void session_locator::hand_over_entries() {
  // Each entry lives with the owner of its client id, so that what a node restored is checked against it.
  for (auto it = last_.begin(); it != last_.end();) {
    const auto& owner = owner_of(it->first);
    auto gateway = owner == node_name_ ? caf::actor{} : gateway_of(owner);
    if (!gateway) {
      ++it;
      continue;
    }
    send(gateway, cluster::client_arrival{it->first, it->second.node, it->second.at_us, false, true});
    it = last_.erase(it);
  }
}

void session_locator::report_restored() {
  if (restored_ids_.empty())
    return;
  // To every member, each once: the first views of a node that joins may not have every member yet, and the
  // entry of a client id this node does not own is with its owner, whichever that is.
  for (const auto& [name, gateway] : gateways_)
    if (name != node_name_ && gateway && reported_to_.insert(name).second)
      send(gateway, cluster::restored_sessions{node_name_, restored_ids_});
}

void session_locator::end_stale(const cluster::restored_sessions& restored) {
  for (const auto& client_id : restored.client_ids)
    if (auto it = last_.find(client_id); it != last_.end())
      end_if_stale(client_id, restored.node, it->second.node);
}

void session_locator::end_if_stale(const std::string& client_id, const std::string& restored_at,
                                   const std::string& last_at) {
  if (last_at == restored_at)
    return;
  // Its client connected at another member while that node was down, and was given a session there: the
  // restored copy is stale, wherever that session is now.
  spdlog::info("cluster: {} connected at {} while {} was down; its session there ends", client_id, last_at,
               restored_at);
  tell(restored_at, cluster::client_taken_over{client_id, {}, false, true});
}

void session_locator::on_exit() {
  directories_.clear();
  gateways_.clear();
}

void session_locator::arrived(const cluster::client_arrival& arrival) {
  const auto& node = arrival.node;
  auto [it, first] = last_.try_emplace(arrival.client_id, last_connect{node, arrival.connected_at_us});
  auto& last = it->second;
  if (arrival.handed_over) {
    // An entry its former owner had: the newer one stands, and no connection is told anything.
    if (!first && last.at_us >= arrival.connected_at_us)
      return;
    last = {node, arrival.connected_at_us};
    if (restored_here_.erase(arrival.client_id) != 0)
      end_if_stale(arrival.client_id, node_name_, node);
    return;
  }
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
    tell(node, cluster::client_taken_over{arrival.client_id, {}, false, false});
    return;
  }
  tell(last.node, cluster::client_taken_over{arrival.client_id, node, arrival.resume, false});
  last = {node, arrival.connected_at_us};
}

void session_locator::tell(const std::string& node, cluster::client_taken_over taken) {
  if (node == node_name_) {
    caf::actor moving_to = taken.resume ? gateway_of(taken.to_node) : caf::actor{};
    send(directory_of(taken.client_id),
         take_over_from_elsewhere{taken.client_id, std::move(moving_to), taken.if_restored});
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
