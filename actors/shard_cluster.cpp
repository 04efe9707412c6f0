#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include <caf/send.hpp>

#include "actors/publisher_acks.hpp"
#include "actors/shard_actor.hpp"
#include "cluster/wire_types.hpp"
#include "net/mqtt/topic.hpp"

// The cluster side of a shard (docs/architecture.md "Cluster"): other nodes' filters, the messages this shard
// forwards to them, the acknowledgements it waits for from them, and the filters it reports for this node.
namespace mqhub::actors {

namespace mqtt = net::mqtt;

void shard_actor::route_to_nodes(const message_ptr& msg) {
  if (remote_filters_.empty())
    return;
  auto add = [&](uint64_t node) { node_batch_with(node, msg); };
  if (msg->retain) {
    for (const auto& [node, filters] : remote_filters_)
      add(node);
    return;
  }
  remote_trie_.match(
      msg->topic, [&](const subscription_entry& entry) { add(entry.subscriber); },
      [](const subscription_entry&) {});
}

uint64_t shard_actor::await_nodes(const publish_batch& batch) {
  if (batch.acks.empty() && !(batch.relay && batch.relay->token != 0))
    return 0;
  uint64_t token = 0;
  for (auto& node_batch : node_batches_) {
    bool acknowledged =
        std::any_of(node_batch.messages.begin(), node_batch.messages.end(),
                    [](const auto& msg) { return msg->qos_level != mqtt::qos::at_most_once; });
    if (!acknowledged)
      continue;
    if (token == 0)
      token = ++last_remote_token_;
    node_batch.token = token;
    node_batch.shard = caf::actor_cast<caf::actor>(this);
    ++remote_waits_[token].remaining;
  }
  return token;
}

void shard_actor::on_node_taken(const cluster::forward_ack& ack) {
  auto it = remote_waits_.find(ack.token);
  if (it == remote_waits_.end())
    return;
  auto& wait = it->second;
  wait.worst = std::max(wait.worst, ack.outcome);
  if (--wait.remaining > 0 || !wait.stored)
    return;
  auto acks = std::move(wait.acks);
  auto outcome = forward_ack_status(wait.worst);
  remote_waits_.erase(it);
  acknowledge(acks, outcome);
}

node_deliveries& shard_actor::node_batch_with(uint64_t node, const message_ptr& msg) {
  auto it = std::find_if(node_batches_.begin(), node_batches_.end(),
                         [node](const auto& batch) { return batch.node == node; });
  if (it == node_batches_.end()) {
    it = node_batches_.emplace(node_batches_.end());
    it->node = node;
  }
  if (it->messages.empty() || it->messages.back() != msg)
    it->messages.push_back(msg);
  return *it;
}

bool shard_actor::allowed_group(shared_match group) const {
  constexpr std::string_view prefix = "$share/";
  return std::any_of(allowed_groups_.begin(), allowed_groups_.end(), [&](const std::string* key) {
    std::string_view k = *key;
    return k.size() == prefix.size() + group.group.size() + 1 + group.filter.size() &&
           k.starts_with(prefix) && k.substr(prefix.size(), group.group.size()) == group.group &&
           k[prefix.size() + group.group.size()] == '/' &&
           k.substr(prefix.size() + group.group.size() + 1) == group.filter;
  });
}

void shard_actor::send_node_deliveries(std::vector<node_deliveries>& batches) {
  for (auto& batch : batches)
    caf::anon_send(router_, std::move(batch));
  batches.clear();
}

void shard_actor::update_remote_routes(const remote_routes& update) {
  if (update.router)
    router_ = update.router;
  auto& filters = remote_filters_[update.node];
  if (update.replace || update.gone) {
    for (const auto& filter : filters)
      set_remote_route(update.node, filter, false);
    filters.clear();
  }
  if (update.gone) {
    remote_filters_.erase(update.node);
    return;
  }
  for (const auto& filter : update.removed)
    if (filters.erase(filter) > 0)
      set_remote_route(update.node, filter, false);
  for (const auto& filter : update.added)
    if (filters.insert(filter).second)
      set_remote_route(update.node, filter, true);
}

void shard_actor::set_remote_route(uint64_t node, const std::string& filter, bool present) {
  // A shared subscription makes the node a member of the group; a plain filter goes to remote_trie_.
  std::string_view group;
  std::string_view plain;
  bool shared = mqtt::split_shared_filter(filter, group, plain);
  if (!shared) {
    group = {};
    plain = filter;
  }
  auto& trie = shared ? trie_ : remote_trie_;
  if (!present) {
    trie.erase(plain, group, node);
    return;
  }
  // The node's subscribers each take what their own subscriptions allow; the node gets everything.
  trie.insert(plain, group, subscription_entry{node, 2, false, true, 0});
}

void shard_actor::count_route(const std::string& filter, int delta) {
  if (!router_)
    return;  // a single node, which nobody forwards to
  if (delta > 0) {
    if (++route_counts_[filter] == 1)
      route_changes_.added.push_back(filter);
    return;
  }
  auto it = route_counts_.find(filter);
  if (it == route_counts_.end() || --it->second > 0)
    return;
  route_counts_.erase(it);
  route_changes_.removed.push_back(filter);
}

void shard_actor::report_routes() {
  if (!router_ || (route_changes_.added.empty() && route_changes_.removed.empty()))
    return;
  caf::anon_send(router_, std::exchange(route_changes_, {}));
}

}  // namespace mqhub::actors
