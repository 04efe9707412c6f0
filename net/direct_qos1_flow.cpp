#include "net/direct_qos1_flow.hpp"

#include <algorithm>
#include <utility>

namespace mqhub::net {

direct_qos1_flow::direct_qos1_flow(actors::shared_client_id client_id, uint16_t window,
                                   const actors::queue_limits& limits, mqtt::protocol_version version,
                                   uint32_t maximum_packet_size)
    : limits_(&limits),
      client_id_(std::move(client_id)),
      maximum_packet_size_(maximum_packet_size),
      window_(std::clamp<uint16_t>(window, 1, max_window)),
      version_(version) {}

direct_qos1_flow::counts direct_qos1_flow::offer(std::vector<actors::delivery>& deliveries,
                                                 actors::clock::time_point now, actors::packet_writer& out) {
  counts done;
  uint64_t queue_full = 0;
  for (auto& item : deliveries) {
    // Behind queued messages a message waits its turn, so order holds (MQTT-4.6.0-6).
    if (queue_.empty() && inflight_.size() < window_)
      send(item, now, out, done);
    else if (limits_->has_room(queue_.size(), queued_bytes_, actors::queued_bytes(*item.msg))) {
      queued_bytes_ += actors::queued_bytes(*item.msg);
      queue_.push_back(std::move(item));
    } else {
      ++queue_full;
    }
  }
  if (queue_full > 0) {
    done.dropped += queue_full;
    queue_drops_.count(queue_full);
    queue_drops_.log_if_due(client_id_.view(), *limits_);
  }
  return done;
}

bool direct_qos1_flow::complete(uint16_t packet_id, actors::clock::time_point now, actors::packet_writer& out,
                                counts& done) {
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [&](const sent& s) { return s.packet_id == packet_id; });
  if (it == inflight_.end())
    return false;
  inflight_.erase(it);
  queue_drops_.log_if_due(client_id_.view(), *limits_);  // those of a burst after the last line
  while (!queue_.empty() && inflight_.size() < window_) {
    auto item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= actors::queued_bytes(*item.msg);
    send(item, now, out, done);
  }
  return true;
}

std::vector<uint16_t> direct_qos1_flow::inflight_ids() const {
  std::vector<uint16_t> ids;
  for (const auto& s : inflight_)
    ids.push_back(s.packet_id);
  return ids;
}

void direct_qos1_flow::send(const actors::delivery& item, actors::clock::time_point now,
                            actors::packet_writer& out, counts& done) {
  if (item.msg->expired(now))
    return;
  auto taken_before = ids_taken_;
  auto last_before = last_packet_id_;
  auto id = take_packet_id();
  if (!out.append_delivery(item, version_, maximum_packet_size_, id, false, now)) {
    ids_taken_ = taken_before;  // the id goes to the next message
    last_packet_id_ = last_before;
    ++done.dropped;
    return;
  }
  inflight_.push_back({id, ids_taken_});
  ++done.sent;
}

uint16_t direct_qos1_flow::take_packet_id() {
  for (;;) {
    last_packet_id_ = static_cast<uint16_t>(last_packet_id_ == 65535 ? first_packet_id : last_packet_id_ + 1);
    ++ids_taken_;
    // An id comes round again after max_window more: only an entry older than that can still hold it, a
    // client that never acknowledged it while it acknowledged thousands of later ones.
    if (inflight_.empty() || ids_taken_ - inflight_.front().taken_at < max_window)
      return last_packet_id_;
    auto held = std::any_of(inflight_.begin(), inflight_.end(),
                            [&](const sent& s) { return s.packet_id == last_packet_id_; });
    if (!held)
      return last_packet_id_;
  }
}

}  // namespace mqhub::net
