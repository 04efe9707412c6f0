#include "actors/cluster_gateway.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "actors/wire_form.hpp"
#include "cluster/wire_types.hpp"
#include "net/mqtt/topic.hpp"

namespace mqhub::actors {

cluster_gateway::cluster_gateway(caf::actor_config& cfg, std::shared_ptr<const shard_map> shards,
                                 caf::actor router, caf::actor locator)
    : caf::event_based_actor(cfg),
      shards_(std::move(shards)),
      router_(std::move(router)),
      locator_(std::move(locator)) {}

caf::behavior cluster_gateway::make_behavior() {
  return {
      [this](const cluster::publish_forward& batch) {
        hand_to_shards(batch.messages, false, caf::actor_cast<caf::actor>(current_sender()), batch.token);
      },
      [this](const cluster::delivery_forward& batch) {
        hand_to_shards(batch.messages, true, caf::actor_cast<caf::actor>(current_sender()), batch.token);
      },
      [this](const cluster::route_update& update) { update_routes(update); },
      [this](const cluster::retained_copies& copies) { keep_retained(copies); },
      [this](cluster::client_arrival& arrival) { forward_to_locator(std::move(arrival)); },
      [this](cluster::client_taken_over& taken) { forward_to_locator(std::move(taken)); },
      [this](cluster::no_session_to_move& none) { forward_to_locator(std::move(none)); },
      [this](cluster::restored_sessions& restored) { forward_to_locator(std::move(restored)); },
      // Answered by the directory that stores it; without a locator (tests), never: the sender gives up.
      [this](cluster::session_handoff& handoff) { return delegate(locator_, std::move(handoff)); },
      [this](const cluster_view& view) { apply(view); },
  };
}

void cluster_gateway::on_exit() {
  shards_ = nullptr;
  router_ = nullptr;
  locator_ = nullptr;
}

void cluster_gateway::hand_to_shards(const cluster::message_batch& batch, bool forwarded,
                                     const caf::actor& relay, uint64_t token) {
  auto now = clock::now();
  auto messages = read_batch(batch, now);
  if (!messages) {
    // The publishers hear that the owner did not take them; a shard that waits goes on.
    spdlog::error("cluster: a damaged batch of {} messages came from another node; dropped", batch.count);
    if (token != 0)
      send(relay, cluster::forward_ack{token, cluster::forward_ack::failed, 1});
    return;
  }
  std::vector<publish_batch> parts(shards_->size());
  for (auto& [msg, groups] : *messages) {
    // From a member, which checked it; a topic that is no topic would still have no shard to go to.
    if (!net::mqtt::is_valid_topic_name(msg->topic))
      continue;
    auto& part = parts[shards_->shard_of_topic(msg->topic)];
    for (auto& group : groups)
      part.forwarded_groups.emplace_back(static_cast<uint32_t>(part.messages.size()), std::move(group));
    part.messages.push_back(std::move(msg));
  }
  uint32_t count = 0;
  for (const auto& part : parts)
    count += part.messages.empty() ? 0 : 1;
  if (token != 0 && count == 0) {
    send(relay, cluster::forward_ack{token, cluster::forward_ack::taken, 1});
    return;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    auto& part = parts[i];
    if (part.messages.empty())
      continue;
    part.forwarded = forwarded;
    if (token != 0)
      part.relay = publish_batch::relay_ack{relay, token, count};
    send((*shards_)[i], std::move(part));
  }
}

void cluster_gateway::keep_retained(const cluster::retained_copies& copies) {
  auto messages = read_batch(copies.messages, clock::now());
  if (!messages) {
    spdlog::error("cluster: damaged retained copies came from another node; dropped");
    return;
  }
  std::vector<restore_retained> per_shard(shards_->size());
  for (auto& arrived : *messages)
    if (net::mqtt::is_valid_topic_name(arrived.msg->topic))
      per_shard[shards_->shard_of_topic(arrived.msg->topic)].messages.push_back(std::move(arrived.msg));
  for (size_t i = 0; i < per_shard.size(); ++i)
    if (!per_shard[i].messages.empty())
      caf::anon_send((*shards_)[i], std::move(per_shard[i]));
}

void cluster_gateway::update_routes(const cluster::route_update& update) {
  auto node = cluster::node_key(update.node);
  std::vector<remote_routes> per_shard(shards_->size());
  for (auto& routes : per_shard) {
    routes.node = node;
    routes.router = router_;
    routes.replace = update.replace;
  }
  // A shared subscription lives where its plain filter does.
  auto plain_of = [](const std::string& filter) {
    std::string_view group;
    std::string_view plain;
    return net::mqtt::split_shared_filter(filter, group, plain) ? plain : std::string_view(filter);
  };
  for (const auto& filter : update.added) {
    if (!net::mqtt::is_valid_topic_filter(filter)) {
      spdlog::warn("cluster: {} sent an invalid filter; ignored", update.node);
      continue;
    }
    shards_->for_each_shard_of_filter(plain_of(filter),
                                      [&](size_t s) { per_shard[s].added.push_back(filter); });
  }
  for (const auto& filter : update.removed)
    if (net::mqtt::is_valid_topic_filter(filter))
      shards_->for_each_shard_of_filter(plain_of(filter),
                                        [&](size_t s) { per_shard[s].removed.push_back(filter); });
  for (size_t i = 0; i < per_shard.size(); ++i) {
    auto& routes = per_shard[i];
    if (routes.replace || !routes.added.empty() || !routes.removed.empty())
      send((*shards_)[i], std::move(routes));
  }
}

void cluster_gateway::apply(const cluster_view& view) {
  std::set<std::string> members;
  for (const auto& [name, gateway] : view.gateways)
    members.insert(name);
  for (const auto& name : members_) {
    if (members.contains(name))
      continue;
    // Its subscribers are gone with it; it tells its filters again when it is back.
    for (const auto& shard : shards_->all())
      send(shard, remote_routes{cluster::node_key(name), router_, false, true, {}, {}});
  }
  members_ = std::move(members);
}

}  // namespace mqhub::actors
