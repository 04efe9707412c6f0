#include <utility>

#include <caf/actor_cast.hpp>

#include "actors/session_actor.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

void session_actor::deliver(delivery_batch& batch) {
  if (handoff())
    return;  // stored, and read from disk for the move (see finish_hand_off)
  if (ended_) {
    // Routed before the session's subscriptions were removed; stored ones must not stay behind.
    for (const auto& item : batch.deliveries)
      forget_stored(item);
    commit_writes();
    return;
  }
  auto now = clock::now();
  // QoS 1 for a direct_qos1 connection joins what the shards write there, in one queue, so a live message
  // cannot overtake an older one this session still holds, such as a retained message beyond its share of
  // the window (MQTT-4.6.0-6).
  std::vector<delivery> direct;
  for (auto& item : batch.deliveries) {
    if (item.qos == 1 && direct_qos1_ && sink_) {
      // Stored for the persistent session this one replaced, routed before the shard heard: nothing of this
      // session is kept, so neither is the entry.
      forget_stored(item);
      direct.push_back(std::move(item));
    } else {
      deliver_one(std::move(item), now);
    }
  }
  flush();
  if (direct.empty())
    return;
  if (!output_held()) {
    sink_->write_direct_qos1(direct, version_, client_maximum_packet_size_);  // behind the flushed SUBACK
    return;
  }
  // Behind the held output (a SUBACK), and before the shards hear that a subscribe is done (see subscribe).
  auto held = std::make_shared<std::vector<delivery>>(std::move(direct));
  commits_->after_output.emplace_back([this, held] {
    if (sink_ && direct_qos1_)
      sink_->write_direct_qos1(*held, version_, client_maximum_packet_size_);
  });
}

void session_actor::deliver_one(delivery&& item, clock::time_point now) {
  if (item.msg->expired(now)) {
    forget_stored(item);
    return;  // MQTT-3.3.2-5
  }
  // Behind queued messages, or beyond the window, a message waits its turn so order holds (MQTT-4.6.0-6).
  if (!sink_ || outbound_.has_queued() || (item.qos > 0 && !outbound_.window_open())) {
    auto shard = item.stored_sequence != 0 ? shard_of(item) : 0;
    auto queued = outbound_.enqueue(std::move(item), shard, context_->limits.queue);
    if (queued.dropped)
      note_queue_drop(*queued.dropped);
    return;
  }
  if (item.qos == 0) {
    if (sink_->pending_bytes() > context_->limits.write_buffer_limit) {
      context_->stats->messages_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    send_publish(item, 0, false, now);
    return;
  }
  start_publish(std::move(item), now);
}

void session_actor::start_publish(delivery&& item, clock::time_point now) {
  const auto& entry = outbound_.start(std::move(item));
  if (!send_publish(entry.item, entry.packet_id, false, now)) {
    if (auto dropped = outbound_.abandon(entry.packet_id))
      forget_stored(*dropped);
    return;
  }
  // A restart then resends it with DUP set and the same packet id (MQTT-4.4.0-1). For QoS 2 the client
  // keeps the id until PUBREL, so the PUBLISH waits until the id is stored: a restart that forgot it would
  // hand the id to another message, which the client would take for a resend and drop. A QoS 1 client keeps
  // nothing, so there the worst a crash does is resend under a new id: a duplicate QoS 1 allows. Its state
  // waits a little (defer_inflight_state), and a PUBACK that comes first saves writing it at all.
  if (entry.item.qos == 2) {
    // QoS 1 states still waiting go first: a restart must not resend this before messages sent earlier.
    store_inflight_states();
    store_state(entry.item, storage::delivery_state::inflight, entry.packet_id);
    hold_output_until_committed();
  } else if (entry.item.stored_sequence != 0) {
    defer_inflight_state();
  }
}

bool session_actor::send_publish(const delivery& item, uint16_t packet_id, bool dup, clock::time_point now) {
  if (!writer().append_delivery(item, version_, client_maximum_packet_size_, packet_id, dup, now)) {
    context_->stats->messages_dropped.fetch_add(1, std::memory_order_relaxed);  // MQTT-3.1.2-25
    return false;
  }
  ++sent_since_flush_;
  return true;
}

void session_actor::fill_window(clock::time_point now) {
  if (!sink_)
    return;
  do {
    while (outbound_.window_open()) {
      auto item = outbound_.next_queued();
      if (!item)
        break;
      if (item->msg->expired(now)) {
        forget_stored(*item);
        continue;
      }
      if (item->qos == 0) {
        send_publish(*item, 0, false, now);
        continue;
      }
      start_publish(std::move(*item), now);
    }
  } while (outbound_.window_open() && read_from_disk());
}

void session_actor::resend_inflight(clock::time_point now) {
  std::vector<uint16_t> too_large;
  for (const auto& entry : outbound_.inflight()) {
    if (entry.released)
      writer().append(
          mqtt::ack_packet{mqtt::packet_type::pubrel, entry.packet_id, mqtt::reason_code::success, {}},
          version_);
    else if (!send_publish(entry.item, entry.packet_id, true, now))
      too_large.push_back(entry.packet_id);
  }
  for (auto id : too_large)
    if (auto dropped = outbound_.abandon(id))
      forget_stored(*dropped);
}

void session_actor::note_queue_drop(const delivery& dropped) {
  forget_stored(dropped);
  context_->stats->messages_dropped.fetch_add(1, std::memory_order_relaxed);
  if (!queue_drops_)
    queue_drops_ = std::make_unique<queue_drop_report>();
  queue_drops_->count(1);
}

void session_actor::flush() {
  if (queue_drops_)
    queue_drops_->log_if_due(client_id_, context_->limits.queue);
  commit_writes();
  if (output_held())
    return;  // on_commit flushes
  if (attach_pending_ && sink_) {
    // Only with the CONNACK (it may have waited for a commit): from then on the connection reads on, and
    // what shards wrote to it meanwhile follows the CONNACK.
    attach_pending_ = false;
    std::vector<out_buffer> first;
    if (writer_)
      first = std::exchange(writer_, nullptr)->take_buffers();
    sink_->attached(caf::actor_cast<caf::actor>(this), std::move(first));
  } else {
    hand_output_to(sink_.get());
  }
  if (commits_ && !commits_->after_output.empty()) {
    for (auto& then : std::exchange(commits_->after_output, {}))
      then();
  }
  if (sent_since_flush_ > 0) {
    context_->stats->messages_sent.fetch_add(sent_since_flush_, std::memory_order_relaxed);
    sent_since_flush_ = 0;
  }
}

}  // namespace mqhub::actors
