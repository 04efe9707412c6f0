#include "actors/shard_actor.hpp"

#include <algorithm>

namespace mqhub::actors {

shard_actor::shard_actor(caf::actor_config& cfg, std::shared_ptr<broker_stats> stats)
    : caf::event_based_actor(cfg), stats_(std::move(stats)) {}

caf::behavior shard_actor::make_behavior() {
  return {
      [this](const publish_batch& batch) { route(batch); },
      [this](const subscribe_request& request) { return subscribe(request); },
      [this](const unsubscribe_request& request) { unsubscribe(request); },
      [this](const session_presence& presence) {
        if (auto it = subscribers_.find(presence.session.id()); it != subscribers_.end())
          it->second.online = presence.online;
      },
  };
}

void shard_actor::on_exit() {
  // Sessions hold shard handles and shards hold session handles: break the cycle, or neither is freed.
  subscribers_.clear();
  batches_.clear();
  batch_of_subscriber_.clear();
}

void shard_actor::route(const publish_batch& batch) {
  auto retained_before = static_cast<int64_t>(retained_.size());
  for (const auto& msg : batch.messages)
    route_one(msg);
  if (auto delta = static_cast<int64_t>(retained_.size()) - retained_before; delta != 0)
    stats_->retained_messages.fetch_add(delta, std::memory_order_relaxed);
  for (auto& [id, deliveries] : batches_) {
    if (auto it = subscribers_.find(id); it != subscribers_.end())
      send(it->second.session, std::move(deliveries));
  }
  batches_.clear();
  batch_of_subscriber_.clear();
}

delivery& shard_actor::delivery_slot(uint64_t subscriber) {
  auto [it, added] = batch_of_subscriber_.try_emplace(subscriber, batches_.size());
  if (added)
    batches_.emplace_back(subscriber, delivery_batch{});
  auto& deliveries = batches_[it->second].second.deliveries;
  deliveries_of_message_.push_back({subscriber, it->second, deliveries.size()});
  return deliveries.emplace_back();
}

void shard_actor::encode_once(const message_ptr& msg) {
  // Per-subscriber parts (subscription identifiers, the time left of an expiry) rule out a shared encoding.
  encodings_.reset(msg);
  if (!msg->expires_at) {
    for (const auto& ref : deliveries_of_message_) {
      auto& d = batches_[ref.batch].second.deliveries[ref.index];
      auto it = subscribers_.find(ref.subscriber);
      if (!d.subscription_ids.empty() || it == subscribers_.end())
        continue;
      d.encoded = encodings_.get(it->second.version, d.qos, d.retain);
      d.encoded_version = it->second.version;
    }
  }
  deliveries_of_message_.clear();
}

void shard_actor::route_one(const message_ptr& msg) {
  if (msg->retain)
    retained_.set(msg);
  auto msg_qos = static_cast<uint8_t>(msg->qos_level);
  shared_matches_.clear();
  trie_.match(
      msg->topic,
      [&](const subscription_entry& entry) {
        if (entry.no_local) {
          auto it = subscribers_.find(entry.subscriber);
          if (it != subscribers_.end() && it->second.client_id == msg->publisher)
            return;  // MQTT-3.8.3-3
        }
        auto qos = std::min(msg_qos, entry.max_qos);
        bool retain = entry.retain_as_published && msg->retain;  // MQTT-3.3.1-12, -13
        // Overlapping subscriptions of one client give one delivery with the highest QoS and every
        // subscription identifier (MQTT-3.3.4-2, -3): merge into this message's delivery if there is one.
        auto found = batch_of_subscriber_.find(entry.subscriber);
        if (found != batch_of_subscriber_.end()) {
          auto& last = batches_[found->second].second.deliveries.back();
          if (last.msg == msg) {
            last.qos = std::max(last.qos, qos);
            last.retain = last.retain || retain;
            if (entry.subscription_id != 0)
              last.subscription_ids.push_back(entry.subscription_id);
            return;
          }
        }
        auto& slot = delivery_slot(entry.subscriber);
        slot.msg = msg;
        slot.qos = qos;
        slot.retain = retain;
        if (entry.subscription_id != 0)
          slot.subscription_ids.push_back(entry.subscription_id);
      },
      [&](const subscription_entry& entry) { shared_matches_.push_back(entry); },
      [&](const subscription_entry& entry) {
        auto it = subscribers_.find(entry.subscriber);
        return it != subscribers_.end() && it->second.online;
      });
  // A shared subscription is a subscription of its own: never merged with the member's other ones.
  for (const auto& entry : shared_matches_) {
    auto& slot = delivery_slot(entry.subscriber);
    slot.msg = msg;
    slot.qos = std::min(msg_qos, entry.max_qos);
    slot.retain = entry.retain_as_published && msg->retain;
    if (entry.subscription_id != 0)
      slot.subscription_ids.push_back(entry.subscription_id);
  }
  encode_once(msg);
}

subscribe_reply shard_actor::subscribe(const subscribe_request& request) {
  subscribe_reply reply;
  auto id = request.session.id();
  auto& sub = subscribers_[id];
  sub.session = request.session;
  sub.client_id = request.client_id;
  sub.version = request.version;
  sub.online = true;  // only a connected session subscribes
  auto now = clock::now();
  int64_t added = 0;
  for (const auto& e : request.entries) {
    subscription_entry entry{id, e.max_qos, e.no_local, e.retain_as_published, e.subscription_id};
    bool is_new = trie_.insert(e.filter, e.group, entry);
    if (is_new) {
      ++sub.subscriptions;
      ++added;
    }
    // Retained messages go to a new subscriber per retain handling (MQTT-3.3.1-9, -10, -11), never to a
    // shared subscription (MQTT-4.8.2: not sent when a shared subscription is established).
    if (!e.group.empty() || e.retain_handling == 2 || (e.retain_handling == 1 && !is_new))
      continue;
    retained_.match(e.filter, [&](const message_ptr& msg) {
      if (msg->expired(now))
        return;
      auto& d = reply.retained.emplace_back();
      d.msg = msg;
      d.qos = std::min(static_cast<uint8_t>(msg->qos_level), e.max_qos);
      d.retain = true;
      if (e.subscription_id != 0)
        d.subscription_ids.push_back(e.subscription_id);
    });
  }
  stats_->subscriptions.fetch_add(added, std::memory_order_relaxed);
  return reply;
}

void shard_actor::unsubscribe(const unsubscribe_request& request) {
  auto id = request.session.id();
  auto it = subscribers_.find(id);
  if (it == subscribers_.end())
    return;
  int64_t removed = 0;
  for (const auto& [filter, group] : request.filters) {
    if (trie_.erase(filter, group, id)) {
      --it->second.subscriptions;
      ++removed;
    }
  }
  if (it->second.subscriptions == 0)
    subscribers_.erase(it);
  stats_->subscriptions.fetch_sub(removed, std::memory_order_relaxed);
}

}  // namespace mqhub::actors
