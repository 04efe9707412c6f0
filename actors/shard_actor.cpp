#include "actors/shard_actor.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <caf/send.hpp>

#include "actors/publisher_acks.hpp"
#include "actors/scoped_flag.hpp"
#include "cluster/wire_types.hpp"
#include "net/mqtt/encoder.hpp"
#include "storage/key_encoding.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

namespace {

/// How the cluster knows a subscription: its filter, or `$share/{group}/{filter}`.
std::string route_key(const std::string& filter, const std::string& group) {
  return group.empty() ? filter : "$share/" + group + "/" + filter;
}

}  // namespace

shard_actor::shard_actor(caf::actor_config& cfg, std::shared_ptr<broker_stats> stats,
                         std::shared_ptr<durable_store> store, size_t write_buffer_limit, queue_limits queue)
    : caf::event_based_actor(cfg),
      stats_(std::move(stats)),
      store_(std::move(store)),
      write_buffer_limit_(write_buffer_limit),
      queue_limits_(queue) {}

caf::behavior shard_actor::make_behavior() {
  return {
      [this](publish_batch& batch) {
        std::lock_guard guard{mutex_};
        route(batch);
      },
      [this](const subscribe_request& request) {
        std::lock_guard guard{mutex_};
        return subscribe(request);
      },
      [this](const unsubscribe_request& request) {
        std::lock_guard guard{mutex_};
        unsubscribe(request);
      },
      [this](const end_of_session& end) {
        std::lock_guard guard{mutex_};
        return end_session(end);
      },
      [this](const subscribe_done& done) {
        std::lock_guard guard{mutex_};
        on_subscribe_done(done);
      },
      [this](const session_presence& presence) {
        std::lock_guard guard{mutex_};
        if (auto it = subscribers_.find(presence.session.id()); it != subscribers_.end()) {
          it->second.link = presence.link;
          it->second.held_qos0.clear();  // for the connection that is gone
          it->second.held_bytes = 0;
          stats_->messages_dropped.fetch_add(it->second.held_qos1.size(), std::memory_order_relaxed);
          it->second.held_qos1.clear();
          it->second.held_qos1_bytes = 0;
          it->second.persistent = presence.persistent;
        }
      },
      [this](const commit_result& result) {
        std::lock_guard guard{mutex_};
        on_commit(result);
      },
      [this](const remote_routes& update) {
        std::lock_guard guard{mutex_};
        update_remote_routes(update);
      },
      [this](const cluster::forward_ack& ack) {
        std::lock_guard guard{mutex_};
        on_node_taken(ack);
      },
      [this](const attach_router& attach) {
        std::lock_guard guard{mutex_};
        router_ = attach.router;
        report_routes();
      },
      [this](retained_snapshot) {
        std::lock_guard guard{mutex_};
        retained_snapshot_reply reply;
        reply.messages.reserve(retained_.size());
        retained_.for_each_routed_here([&](const message_ptr& msg) { reply.messages.push_back(msg); });
        return reply;
      },
      [this](const restore_retained& restore) {
        std::lock_guard guard{mutex_};
        auto before = static_cast<int64_t>(retained_.size());
        for (const auto& msg : restore.messages)
          retained_.set(msg, true);
        stats_->retained_messages.fetch_add(static_cast<int64_t>(retained_.size()) - before,
                                            std::memory_order_relaxed);
        return true;
      },
  };
}

void shard_actor::on_exit() {
  // Sessions hold shard handles and shards hold session handles: break the cycle, or neither is freed.
  std::lock_guard guard{mutex_};
  exited_ = true;
  subscribers_.clear();
  batches_.clear();
  batch_of_subscriber_.clear();
  pending_.clear();
  router_ = nullptr;
  remote_filters_.clear();
  remote_waits_.clear();
}

bool shard_actor::route_here(publish_batch& batch) {
  if (store_)
    return false;
  std::unique_lock guard{mutex_, std::try_to_lock};
  if (!guard.owns_lock() || exited_)
    return false;
  scoped_flag here{routing_here_, true};
  route(batch);
  return true;
}

std::optional<subscribe_reply> shard_actor::subscribe_here(const subscribe_request& request) {
  std::lock_guard guard{mutex_};
  if (exited_)
    return std::nullopt;
  return subscribe(request);
}

void shard_actor::route(publish_batch& batch) {
  if (batch.inbound_bytes > 0)
    batch.publisher->routed(batch.inbound_bytes);
  auto retained_before = static_cast<int64_t>(retained_.size());
  clocks now{clock::now(), store_ ? storage::wall_clock_now() : 0};
  deliveries_expected_ = std::min<size_t>(batch.messages.size(), max_reserved_deliveries);
  last_matches_.topic = nullptr;
  bool exactly_once = false;
  scoped_flag forwarding{forwarding_, batch.forwarded};
  auto group = batch.forwarded_groups.begin();
  for (uint32_t i = 0; i < batch.messages.size(); ++i) {
    const auto& msg = batch.messages[i];
    allowed_groups_.clear();
    for (; group != batch.forwarded_groups.end() && group->first == i; ++group)
      allowed_groups_.push_back(&group->second);
    route_one(msg);
    if (router_ && !batch.forwarded)
      route_to_nodes(msg);
    if (store_)
      persist(msg, now);
    encode_once(msg);
    exactly_once = exactly_once || msg->qos_level == mqtt::qos::exactly_once;
  }
  if (auto delta = static_cast<int64_t>(retained_.size()) - retained_before; delta != 0)
    stats_->retained_messages.fetch_add(delta, std::memory_order_relaxed);
  batch_of_subscriber_.clear();
  if (last_matches_.entries.capacity() > max_kept_matches)
    std::vector<subscription_entry>().swap(last_matches_.entries);  // a topic with a crowd of subscribers
  if (!store_) {
    send_deliveries(batches_);
    send_node_deliveries(node_batches_);
    acknowledge(batch, {});
    return;
  }
  for (const auto& ack : batch.acks)
    if (ack.persist_inbound)
      writes_.put_inbound_qos2(batch.messages[ack.message_index]->publisher, ack.packet_id);
  const uint64_t remote_token = await_nodes(batch);
  if (writes_.empty() && pending_.empty()) {
    send_deliveries(batches_);
    send_node_deliveries(node_batches_);
    acknowledge(batch, {}, remote_token);
    return;
  }
  // A publisher must not hear acknowledged what a crash could undo, so its acks wait for the commit. Its
  // subscribers need not wait when the batch is at most QoS 1: one that sees a message a crash then undoes
  // gets it again when the publisher resends it, a duplicate QoS 1 allows. Not waiting also lets a
  // subscriber's PUBACK reach the writer in the same group as the entry it removes, and neither is written.
  // QoS 2 waits (a resent message would be a second delivery), so does a batch a full store is about to
  // refuse (its publisher hears the message was not accepted), and so does everything behind a batch that
  // waits: deliveries leave a shard in the order their batches were routed.
  const bool deliver_now = !exactly_once && held_routes_ == 0 && !store_->full();
  auto& waiting = pending_.emplace_back();
  // Other nodes hear of a batch only once it is stored here, in the order the batches were routed: a
  // message a crash undid must not have reached them.
  waiting.node_batches = std::move(node_batches_);
  waiting.remote_token = remote_token;
  node_batches_.clear();
  if (!deliver_now) {
    for (auto& [id, deliveries] : batches_)
      if (auto it = subscribers_.find(id); it != subscribers_.end())
        waiting.batches.push_back({id, it->second.session, std::move(deliveries)});
    batches_.clear();
    held_routes_ += waiting.batches.empty() ? 0 : 1;
  }
  batch.messages.clear();
  waiting.acks = std::move(batch);
  if (writes_.empty()) {
    send_deliveries(batches_);
    waiting.committed = true;
    release_committed();
    return;
  }
  waiting.token = ++last_token_;
  if (deliver_now)
    writes_.set_delivered();
  // Before the deliveries go out: the writer must have the entries before any acknowledgement removes them.
  store_->commit(std::exchange(writes_, {}), caf::actor_cast<caf::actor>(this), waiting.token);
  send_deliveries(batches_);
}

void shard_actor::send_deliveries(std::vector<std::pair<uint64_t, delivery_batch>>& batches) {
  for (auto& [id, deliveries] : batches) {
    if (auto it = subscribers_.find(id); it != subscribers_.end())
      dispatch(&it->second, it->second.session, deliveries);
  }
  batches.clear();
}

void shard_actor::dispatch(subscriber* sub, const caf::actor& session, delivery_batch& batch) {
  if (sub != nullptr)
    write_direct(*sub, batch);
  if (batch.deliveries.empty())
    return;
  if (routing_here_)
    caf::anon_send(session, std::move(batch));
  else
    send(session, std::move(batch));
}

void shard_actor::write_direct(subscriber& sub, delivery_batch& batch) {
  const auto& link = sub.link;
  auto& deliveries = batch.deliveries;
  auto now = clock::now();
  // Asked once per batch: a connection that cannot keep up loses QoS 0, not memory (docs/architecture.md);
  // QoS 1 waits in the connection's bounded queue instead (see net::direct_qos1_flow).
  bool has_room = link.sink && link.sink->pending_bytes() + sub.held_bytes <= write_buffer_limit_;
  bool direct_qos1 = link.sink && link.direct_qos1;
  uint64_t sent = 0;
  uint64_t dropped = 0;
  size_t kept = 0;
  for (auto& d : deliveries) {
    // One stored for a persistent session (routed before this link replaced it) goes to the session, which
    // removes its entry.
    if (d.qos == 1 && direct_qos1 && d.stored_sequence == 0) {
      direct_qos1_.push_back(std::move(d));
      continue;
    }
    if (d.qos != 0) {
      if (&deliveries[kept] != &d)
        deliveries[kept] = std::move(d);
      ++kept;
      continue;
    }
    // Offline: QoS 0 is not kept for later (docs/architecture.md), as mosquitto's default and managed IoT
    // hubs do.
    if (!link.sink || d.msg->expired(now))
      continue;
    if (has_room && qos0_writer_.append_delivery(d, link.version, link.maximum_packet_size, 0, false, now))
      ++sent;
    else
      ++dropped;
  }
  deliveries.resize(kept);
  auto buffers = qos0_writer_.take_buffers();
  if (sub.subscribes_pending > 0) {
    for (auto& b : buffers) {
      sub.held_bytes += b->size();
      sub.held_qos0.push_back(std::move(b));
    }
    for (auto& d : direct_qos1_) {
      auto bytes = queued_bytes(*d.msg);
      if (queue_limits_.has_room(sub.held_qos1.size(), sub.held_qos1_bytes, bytes)) {
        sub.held_qos1_bytes += bytes;
        sub.held_qos1.push_back(std::move(d));
      } else {
        ++dropped;
      }
    }
  } else {
    if (!buffers.empty())
      link.sink->write_deliveries(std::move(buffers));
    if (!direct_qos1_.empty())
      link.sink->write_direct_qos1(direct_qos1_, link.version, link.maximum_packet_size);
  }
  direct_qos1_.clear();
  if (sent > 0)
    stats_->messages_sent.fetch_add(sent, std::memory_order_relaxed);
  if (dropped > 0)
    stats_->messages_dropped.fetch_add(dropped, std::memory_order_relaxed);
}

void shard_actor::persist(const message_ptr& msg, const clocks& now) {
  // `$SYS` values are the node's own and rebuilt on every start.
  if (msg->retain && !msg->topic.starts_with("$SYS/")) {
    if (msg->payload.empty())
      writes_.delete_retained(msg->topic);
    else
      writes_.put_retained(to_stored(*msg, now));
  }
  if (msg->qos_level == mqtt::qos::at_most_once)
    return;
  stored_deliveries_.clear();
  for (size_t i = 0; i < deliveries_of_message_.size(); ++i) {
    const auto& ref = deliveries_of_message_[i];
    auto& d = batches_[ref.batch].second.deliveries[ref.index];
    auto it = subscribers_.find(ref.subscriber);
    if (d.qos > 0 && it != subscribers_.end() && it->second.persistent)
      stored_deliveries_.push_back({i, &d, &it->second.client_id});
  }
  if (stored_deliveries_.empty())
    return;
  const uint64_t message_id = store_->allocate_message_id();
  // The sequence still comes from the id, so a queue keeps arrival order either way.
  std::shared_ptr<const storage::stored_message> held_by_entry;
  if (stored_deliveries_.size() == 1)
    held_by_entry = std::make_shared<const storage::stored_message>(to_stored(*msg, now));
  else
    writes_.put_message(message_id, to_stored(*msg, now));
  for (const auto& stored : stored_deliveries_) {
    auto& d = *stored.item;
    d.message_id = held_by_entry ? 0 : message_id;
    d.stored_sequence = storage::queue_sequence(message_id, static_cast<uint32_t>(stored.index));
    auto entry = to_queue_entry(d, storage::delivery_state::queued, 0);
    entry.message = held_by_entry;
    writes_.enqueue(*stored.client_id, d.stored_sequence, entry);
  }
}

void shard_actor::on_commit(const commit_result& result) {
  for (auto& waiting : pending_) {
    if (waiting.token == result.token) {
      waiting.committed = true;
      waiting.outcome = result.outcome;
      break;
    }
  }
  release_committed();
}

void shard_actor::release_committed() {
  while (!pending_.empty() && pending_.front().committed) {
    auto& front = pending_.front();
    if (front.outcome) {
      for (auto& addressed : front.batches) {
        auto it = subscribers_.find(addressed.subscriber);
        dispatch(it != subscribers_.end() ? &it->second : nullptr, addressed.session, addressed.deliveries);
      }
      send_node_deliveries(front.node_batches);
    } else {
      uint64_t dropped = 0;
      for (const auto& addressed : front.batches)
        dropped += addressed.deliveries.deliveries.size();
      stats_->messages_dropped.fetch_add(dropped, std::memory_order_relaxed);
      spdlog::warn("storage: a routed batch was not stored ({} held deliveries dropped): {}", dropped,
                   front.outcome.failure().message);
    }
    acknowledge(front.acks, front.outcome, front.remote_token);
    if (front.barrier)
      front.barrier->deliver(true);
    held_routes_ -= front.batches.empty() ? 0 : 1;
    pending_.pop_front();
  }
}

void shard_actor::acknowledge(publish_batch& batch, const storage::status& outcome, uint64_t remote_token) {
  if (remote_token != 0) {
    auto it = remote_waits_.find(remote_token);
    if (it != remote_waits_.end() && outcome && it->second.remaining > 0) {
      it->second.acks = std::move(batch);
      it->second.stored = true;
      return;
    }
    if (it != remote_waits_.end())
      remote_waits_.erase(it);
  }
  if (batch.relay && batch.relay->token != 0) {
    caf::anon_send(batch.relay->relay,
                   cluster::forward_ack{batch.relay->token, forward_ack_code(outcome), batch.relay->parts});
  }
  acknowledge_publisher(batch, outcome);
}

delivery& shard_actor::delivery_slot(uint64_t subscriber) {
  auto [it, added] = batch_of_subscriber_.try_emplace(subscriber, batches_.size());
  return delivery_slot(subscriber, it->second, added);
}

delivery& shard_actor::delivery_slot(uint64_t subscriber, size_t batch, bool added) {
  if (added) {
    // A subscriber usually gets most of a batch (one publisher's topics): grow once, not log2(N) times.
    batches_.emplace_back(subscriber, delivery_batch{}).second.deliveries.reserve(deliveries_expected_);
  }
  auto& deliveries = batches_[batch].second.deliveries;
  deliveries_of_message_.push_back({subscriber, batch, deliveries.size()});
  return deliveries.emplace_back();
}

void shard_actor::encode_once(const message_ptr& msg) {
  // A single subscriber's session encodes straight into its own output: a shared encoding would only add
  // two allocations and a copy.
  if (deliveries_of_message_.size() < 2) {
    deliveries_of_message_.clear();
    return;
  }
  // Per-subscriber parts (subscription identifiers, the time left of an expiry) rule out a shared encoding.
  encodings_.reset(msg);
  if (!msg->expires_at) {
    for (const auto& ref : deliveries_of_message_) {
      auto& d = batches_[ref.batch].second.deliveries[ref.index];
      auto it = subscribers_.find(ref.subscriber);
      if (!d.subscription_ids.empty() || it == subscribers_.end())
        continue;
      d.encoded = encodings_.get(it->second.link.version, d.qos, d.retain);
      d.encoded_version = it->second.link.version;
    }
  }
  deliveries_of_message_.clear();
}

void shard_actor::route_one(const message_ptr& msg) {
  if (msg->retain)
    retained_.set(msg);
  if (last_matches_.topic && *last_matches_.topic == msg->topic) {
    for (const auto& entry : last_matches_.entries)
      deliver_plain(entry, msg);
    return;
  }
  shared_matches_.clear();
  last_matches_.entries.clear();
  bool matched_group = false;
  // Another node's members of a group count as one member (its node key): the owner of the topic picks one
  // member of the group cluster-wide, and a node it picks gives the message to one of its own.
  trie_.match(
      msg->topic,
      [&](const subscription_entry& entry) {
        last_matches_.entries.push_back(entry);
        deliver_plain(entry, msg);
      },
      [&](const subscription_entry& entry, shared_match group) {
        matched_group = true;
        if (forwarding_) {
          if (!cluster::is_node_key(entry.subscriber) && allowed_group(group))
            shared_matches_.push_back(entry);
        } else if (cluster::is_node_key(entry.subscriber)) {
          auto& batch = node_batch_with(entry.subscriber, msg);
          batch.groups.emplace_back(static_cast<uint32_t>(batch.messages.size() - 1),
                                    "$share/" + std::string(group.group) + "/" + std::string(group.filter));
        } else {
          shared_matches_.push_back(entry);
        }
      },
      [&](const subscription_entry& entry) {
        // Forwarded here, the message goes to one of this node's own members, online or not.
        if (cluster::is_node_key(entry.subscriber))
          return !forwarding_;
        if (forwarding_)
          return true;
        auto it = subscribers_.find(entry.subscriber);
        return it != subscribers_.end() && it->second.link.sink != nullptr;
      });
  last_matches_.topic = matched_group ? nullptr : &msg->topic;
  // A shared subscription is a subscription of its own: never merged with the member's other ones.
  auto msg_qos = static_cast<uint8_t>(msg->qos_level);
  for (const auto& entry : shared_matches_) {
    auto& slot = delivery_slot(entry.subscriber);
    slot.msg = msg;
    slot.qos = std::min(msg_qos, entry.max_qos);
    slot.retain = entry.retain_as_published && msg->retain;
    if (entry.subscription_id != 0)
      slot.subscription_ids.push_back(entry.subscription_id);
  }
}

void shard_actor::deliver_plain(const subscription_entry& entry, const message_ptr& msg) {
  if (entry.no_local) {
    auto it = subscribers_.find(entry.subscriber);
    if (it != subscribers_.end() && it->second.client_id == msg->publisher.view())
      return;  // MQTT-3.8.3-3
  }
  auto qos = std::min(static_cast<uint8_t>(msg->qos_level), entry.max_qos);
  bool retain = entry.retain_as_published && msg->retain;  // MQTT-3.3.1-12, -13
  // Overlapping subscriptions of one client give one delivery with the highest QoS and every subscription
  // identifier (MQTT-3.3.4-2, -3): merge into this message's delivery if there is one.
  auto [found, added] = batch_of_subscriber_.try_emplace(entry.subscriber, batches_.size());
  if (!added) {
    auto& last = batches_[found->second].second.deliveries.back();
    if (last.msg == msg) {
      last.qos = std::max(last.qos, qos);
      last.retain = last.retain || retain;
      if (entry.subscription_id != 0)
        last.subscription_ids.push_back(entry.subscription_id);
      return;
    }
  }
  auto& slot = delivery_slot(entry.subscriber, found->second, added);
  slot.msg = msg;
  slot.qos = qos;
  slot.retain = retain;
  if (entry.subscription_id != 0)
    slot.subscription_ids.push_back(entry.subscription_id);
}

void shard_actor::on_subscribe_done(const subscribe_done& done) {
  auto it = subscribers_.find(done.session.id());
  if (it == subscribers_.end() || it->second.subscribes_pending == 0)
    return;
  auto& sub = it->second;
  if (--sub.subscribes_pending > 0)
    return;
  if (sub.link.sink && !sub.held_qos0.empty())
    sub.link.sink->write_deliveries(std::exchange(sub.held_qos0, {}));
  if (sub.link.sink && !sub.held_qos1.empty())
    sub.link.sink->write_direct_qos1(sub.held_qos1, sub.link.version, sub.link.maximum_packet_size);
  sub.held_qos0.clear();
  sub.held_bytes = 0;
  sub.held_qos1.clear();
  sub.held_qos1_bytes = 0;
}

subscribe_reply shard_actor::subscribe(const subscribe_request& request) {
  subscribe_reply reply;
  auto id = request.session.id();
  auto& sub = subscribers_[id];
  sub.session = request.session;
  sub.client_id = request.client_id;
  sub.link = request.link;
  if (request.link.sink && !request.restoring)
    ++sub.subscribes_pending;  // until the session's subscribe_done
  sub.persistent = request.persistent;
  auto now = clock::now();
  for (const auto& e : request.entries) {
    subscription_entry entry{id, e.max_qos, e.no_local, e.retain_as_published, e.subscription_id};
    bool is_new = trie_.insert(e.filter, e.group, entry);
    if (is_new) {
      ++sub.subscriptions;
      count_route(route_key(e.filter, e.group), 1);
    }
    // Retained messages go to a new subscriber per retain handling (MQTT-3.3.1-9, -10, -11), never to a
    // shared subscription (MQTT-4.8.2: not sent when a shared subscription is established).
    if (request.restoring || !e.group.empty() || e.retain_handling == 2 ||
        (e.retain_handling == 1 && !is_new))
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
  report_routes();
  return reply;
}

void shard_actor::unsubscribe(const unsubscribe_request& request) {
  auto id = request.session.id();
  auto it = subscribers_.find(id);
  if (it == subscribers_.end())
    return;
  for (const auto& [filter, group] : request.filters) {
    if (trie_.erase(filter, group, id)) {
      --it->second.subscriptions;
      count_route(route_key(filter, group), -1);
    }
  }
  if (it->second.subscriptions == 0)
    subscribers_.erase(it);
  report_routes();
}

caf::result<bool> shard_actor::end_session(const end_of_session& end) {
  unsubscribe(end.unsubscribe);
  if (pending_.empty())
    return true;
  auto& marker = pending_.emplace_back();
  marker.committed = true;
  marker.barrier = make_response_promise<bool>();
  return *marker.barrier;
}

}  // namespace mqhub::actors
