#include "actors/cluster_router.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>
#include <caf/send.hpp>

#include "actors/publisher_acks.hpp"
#include "actors/wire_form.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

namespace {

using flush_atom = caf::atom_constant<caf::atom("mq_flush")>;

// A peer's messages leave at once beyond this many, so that one CAF message stays a bounded size.
constexpr size_t max_messages_per_forward = 1024;

}  // namespace

cluster_router::cluster_router(caf::actor_config& cfg, std::string node_name,
                               std::shared_ptr<broker_stats> stats, uint64_t delivery_bytes_limit)
    : caf::event_based_actor(cfg),
      node_name_(std::move(node_name)),
      stats_(std::move(stats)),
      delivery_bytes_limit_(delivery_bytes_limit) {}

caf::behavior cluster_router::make_behavior() {
  return {
      [this](const router_shards& attach) { shards_ = attach.shards; },
      [this](publish_batch& batch) { forward(batch); },
      [this](node_deliveries& deliveries) { forward_deliveries(deliveries); },
      [this](const local_routes& changes) { report(changes); },
      [this](const cluster_view& view) { apply(view); },
      [this](const cluster::forward_ack& ack) { acknowledged(ack); },
      [this](flush_atom) { flush(); },
  };
}

void cluster_router::on_exit() {
  shards_ = nullptr;
  peers_.clear();
  pending_acks_.clear();
  local_.clear();
}

cluster_router::peer* cluster_router::owner_of(const std::string& topic) {
  if (!placement_ || !shards_)
    return nullptr;
  const auto& owner = placement_->owner(shards_->global_shard_of_topic(topic));
  if (owner == node_name_)
    return nullptr;
  auto it = peers_.find(owner);
  return it == peers_.end() || !it->second.gateway ? nullptr : &it->second;
}

void cluster_router::forward(publish_batch& batch) {
  if (!shards_) {
    if (batch.inbound_bytes > 0)
      batch.publisher->routed(batch.inbound_bytes);
    return;
  }
  auto now = clock::now();
  local_.resize(shards_->size());
  // Per message: its owner, or null with the local batch it joined and its index there (the placement may
  // have given this node the shard since the connection chose the route).
  struct placed_message {
    peer* owner = nullptr;
    size_t shard = 0;
    uint32_t index = 0;
  };
  std::vector<placed_message> placed;
  placed.reserve(batch.messages.size());
  peer* first_owner = nullptr;
  for (auto& msg : batch.messages) {
    if (auto* owner = owner_of(msg->topic)) {
      if (owner->publish_token == 0) {
        owner->publish_token = ++last_token_;
        pending_acks_[owner->publish_token].node = owner->name;
      }
      append_to_batch(owner->publishes, *msg, now);
      placed.push_back({owner});
      first_owner = first_owner != nullptr ? first_owner : owner;
      continue;
    }
    auto shard = shards_->shard_of_topic(msg->topic);
    auto& local = local_[shard];
    placed.push_back({nullptr, shard, static_cast<uint32_t>(local.messages.size())});
    local.messages.push_back(std::move(msg));
  }
  std::vector<std::pair<peer*, publish_batch>> remote_acks;
  for (auto ack : batch.acks) {
    const auto& where = placed[ack.message_index];
    if (where.owner == nullptr) {
      ack.message_index = where.index;
      local_[where.shard].acks.push_back(ack);
      continue;
    }
    auto it = std::find_if(remote_acks.begin(), remote_acks.end(),
                           [&](const auto& entry) { return entry.first == where.owner; });
    if (it == remote_acks.end())
      it = remote_acks.insert(remote_acks.end(), {where.owner, publish_batch{}});
    it->second.acks.push_back(ack);
  }
  if (batch.inbound_bytes > 0) {
    if (first_owner != nullptr)
      pending_acks_[first_owner->publish_token].inbound.emplace_back(batch.publisher, batch.inbound_bytes);
    else
      batch.publisher->routed(batch.inbound_bytes);
  }
  for (auto& [owner, acks] : remote_acks) {
    acks.publisher = batch.publisher;
    acks.publisher_session = batch.publisher_session;
    acks.publisher_version = batch.publisher_version;
    pending_acks_[owner->publish_token].publishers.push_back(std::move(acks));
  }
  for (size_t i = 0; i < local_.size(); ++i) {
    auto& local = local_[i];
    if (local.messages.empty())
      continue;
    if (!local.acks.empty()) {
      local.publisher = batch.publisher;
      local.publisher_session = batch.publisher_session;
      local.publisher_version = batch.publisher_version;
    }
    send((*shards_)[i], std::move(local));
    local = publish_batch{};
  }
  schedule_flush();
}

void cluster_router::schedule_flush() {
  bool full = std::any_of(peers_.begin(), peers_.end(), [](const auto& entry) {
    return entry.second.publishes.count >= max_messages_per_forward ||
           entry.second.deliveries.count >= max_messages_per_forward;
  });
  if (full) {
    flush();
    return;
  }
  // Behind everything already in the mailbox: what a burst brings leaves in one message per peer.
  if (flush_scheduled_)
    return;
  flush_scheduled_ = true;
  send(this, flush_atom::value);
}

void cluster_router::forward_deliveries(node_deliveries& deliveries) {
  auto it = std::find_if(peers_.begin(), peers_.end(),
                         [&](const auto& entry) { return entry.second.key == deliveries.node; });
  if (it == peers_.end() || !it->second.gateway) {
    // The node left; it hears nothing until it is back.
    if (deliveries.token != 0)
      send(deliveries.shard, cluster::forward_ack{deliveries.token, cluster::forward_ack::taken, 1});
    return;
  }
  auto now = clock::now();
  auto& peer = it->second;
  // A publisher that waits (a token) is held back by its acknowledgement; nothing else is.
  const bool congested = peer.deliveries_in_flight + peer.delivery_bytes > delivery_bytes_limit_;
  uint64_t dropped = 0;
  auto group = deliveries.groups.begin();
  std::vector<std::string_view> groups;
  for (uint32_t i = 0; i < deliveries.messages.size(); ++i) {
    const auto& msg = deliveries.messages[i];
    if (congested && (deliveries.token == 0 || msg->qos_level == net::mqtt::qos::at_most_once)) {
      ++dropped;
      while (group != deliveries.groups.end() && group->first == i)
        ++group;
      continue;
    }
    peer.delivery_bytes += msg->topic.size() + msg->payload.size();
    groups.clear();
    for (; group != deliveries.groups.end() && group->first == i; ++group)
      groups.push_back(group->second);
    append_to_batch(peer.deliveries, *msg, now, groups);
  }
  if (dropped > 0)
    stats_->messages_dropped.fetch_add(dropped, std::memory_order_relaxed);
  if (deliveries.token != 0)
    peer.delivery_waiters.emplace_back(std::move(deliveries.shard), deliveries.token);
  schedule_flush();
}

void cluster_router::flush() {
  flush_scheduled_ = false;
  uint64_t forwarded = 0;
  for (auto& [name, peer] : peers_) {
    forwarded += peer.publishes.count + peer.deliveries.count;
    if (peer.publishes.count > 0)
      send(peer.gateway,
           cluster::publish_forward{std::exchange(peer.publish_token, 0), std::exchange(peer.publishes, {})});
    if (peer.deliveries.count == 0)
      continue;
    uint64_t token = ++last_token_;
    auto& pending = pending_acks_[token];
    pending.node = name;
    pending.shards = std::exchange(peer.delivery_waiters, {});
    pending.delivery_bytes = std::exchange(peer.delivery_bytes, 0);
    peer.deliveries_in_flight += pending.delivery_bytes;
    send(peer.gateway, cluster::delivery_forward{token, std::exchange(peer.deliveries, {})});
  }
  if (forwarded > 0)
    stats_->messages_forwarded.fetch_add(forwarded, std::memory_order_relaxed);
}

void cluster_router::acknowledged(const cluster::forward_ack& ack) {
  auto it = pending_acks_.find(ack.token);
  if (it == pending_acks_.end())
    return;
  auto& pending = it->second;
  pending.worst = std::max(pending.worst, ack.outcome);
  if (++pending.received < ack.parts)
    return;
  complete(pending, pending.worst);
  pending_acks_.erase(it);
}

void cluster_router::complete(pending_ack& pending, uint8_t outcome) {
  for (const auto& [publisher, bytes] : pending.inbound)
    publisher->routed(bytes);
  if (auto it = peers_.find(pending.node); it != peers_.end())
    it->second.deliveries_in_flight -= std::min(it->second.deliveries_in_flight, pending.delivery_bytes);
  auto status = forward_ack_status(outcome);
  for (const auto& publisher : pending.publishers)
    acknowledge_publisher(publisher, status);
  for (const auto& [shard, token] : pending.shards)
    send(shard, cluster::forward_ack{token, outcome, 1});
}

void cluster_router::fail_pending(const std::string& node) {
  // Whether the owner took them is unknown: the publishers hear they were not, and resend.
  storage::status lost = storage::error{storage::errc::io_error, "the node that owns the topic left"};
  for (auto it = pending_acks_.begin(); it != pending_acks_.end();) {
    if (it->second.node != node) {
      ++it;
      continue;
    }
    for (const auto& publisher : it->second.publishers)
      acknowledge_publisher(publisher, lost);
    for (const auto& [publisher, bytes] : it->second.inbound)
      publisher->routed(bytes);
    for (const auto& [shard, token] : it->second.shards)
      send(shard, cluster::forward_ack{token, cluster::forward_ack::taken, 1});
    it = pending_acks_.erase(it);
  }
  if (auto it = peers_.find(node); it != peers_.end()) {
    for (const auto& [shard, token] : it->second.delivery_waiters)
      send(shard, cluster::forward_ack{token, cluster::forward_ack::taken, 1});
    it->second.delivery_waiters.clear();
  }
}

void cluster_router::apply(const cluster_view& view) {
  auto previous = std::exchange(placement_, view.placement);
  if (shards_) {
    std::vector<bool> owned(placement_->shard_count());
    for (size_t shard = 0; shard < owned.size(); ++shard)
      owned[shard] = placement_->owner(shard) == node_name_;
    shards_->set_owned(owned);
    stats_->cluster_shards_owned.store(std::count(owned.begin(), owned.end(), true),
                                       std::memory_order_relaxed);
  }
  stats_->cluster_nodes.store(static_cast<int64_t>(placement_->nodes().size()), std::memory_order_relaxed);
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (view.gateways.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.publishes.count > 0)
      spdlog::warn("cluster: {} left with {} messages not yet forwarded to it", it->first,
                   it->second.publishes.count);
    fail_pending(it->first);
    it = peers_.erase(it);
  }
  for (const auto& [name, gateway] : view.gateways) {
    auto& peer = peers_[name];
    if (peer.gateway == gateway)
      continue;
    // New, or back under a new gateway: it hears every filter this node's subscribers hold.
    peer.name = name;
    peer.gateway = gateway;
    peer.key = cluster::node_key(name);
    if (!gateway)
      continue;
    cluster::route_update update{node_name_, true, {}, {}};
    for (const auto& [filter, count] : routes_)
      update.added.push_back(filter);
    send(gateway, std::move(update));
    send_retained_copies(name, previous ? *previous : *placement_);
  }
}

void cluster_router::send_retained_copies(const std::string& node, const cluster::shard_placement& before) {
  // While it was away, this node owned some of its shards and took their updates; it may own others now.
  if (!shards_)
    return;
  auto owned_here = [this, before](const std::string& topic) {
    auto shard = shards_->global_shard_of_topic(topic);
    return before.owner(shard) == node_name_ || (placement_ && placement_->owner(shard) == node_name_);
  };
  for (const auto& shard : shards_->all()) {
    request(shard, caf::infinite, retained_snapshot{})
        .then(
            [this, node, owned_here](retained_snapshot_reply& reply) {
              auto it = peers_.find(node);
              if (it == peers_.end() || !it->second.gateway)
                return;
              auto now = clock::now();
              cluster::retained_copies copies;
              for (const auto& msg : reply.messages)
                if (owned_here(msg->topic))
                  append_to_batch(copies.messages, *msg, now);
              if (copies.messages.count == 0)
                return;
              // Deliveries routed before the snapshot go first: an older update must not replace it there.
              flush();
              send(it->second.gateway, std::move(copies));
            },
            [](const caf::error&) {});  // a shard that is stopping
  }
}

void cluster_router::report(const local_routes& changes) {
  cluster::route_update update{node_name_, false, {}, {}};
  for (const auto& filter : changes.added)
    if (++routes_[filter] == 1)
      update.added.push_back(filter);
  for (const auto& filter : changes.removed) {
    auto it = routes_.find(filter);
    if (it == routes_.end() || --it->second > 0)
      continue;
    routes_.erase(it);
    update.removed.push_back(filter);
  }
  if (update.added.empty() && update.removed.empty())
    return;
  for (const auto& [name, peer] : peers_)
    if (peer.gateway)
      send(peer.gateway, update);
}

}  // namespace mqhub::actors
