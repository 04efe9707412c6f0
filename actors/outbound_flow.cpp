#include "actors/outbound_flow.hpp"

#include <algorithm>
#include <utility>

namespace mqhub::actors {

const inflight_entry& outbound_flow::start(delivery item) {
  // Ids are handed out in order and the window is below 65535, so the next id is never still in flight.
  last_packet_id_ = static_cast<uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
  return inflight_.emplace_back(inflight_entry{std::move(item), last_packet_id_, false});
}

size_t outbound_flow::enqueue(delivery item) {
  if (queue_.size() < queue_limit_) {
    queued_qos0_ += item.qos == 0 ? 1 : 0;
    queue_.push_back(std::move(item));
    return 0;
  }
  if (item.qos == 0 || queued_qos0_ == 0)
    return 1;
  auto oldest_qos0 = std::find_if(queue_.begin(), queue_.end(), [](const delivery& d) { return d.qos == 0; });
  queue_.erase(oldest_qos0);
  --queued_qos0_;
  queue_.push_back(std::move(item));
  return 1;
}

std::optional<delivery> outbound_flow::next_queued() {
  if (queue_.empty())
    return std::nullopt;
  auto item = std::move(queue_.front());
  queue_.pop_front();
  queued_qos0_ -= item.qos == 0 ? 1 : 0;
  return item;
}

std::deque<inflight_entry>::iterator outbound_flow::find(uint16_t packet_id) {
  // Acks mostly come in order: the entry is at or near the front.
  return std::find_if(inflight_.begin(), inflight_.end(),
                      [packet_id](const inflight_entry& e) { return e.packet_id == packet_id; });
}

bool outbound_flow::complete(uint16_t packet_id, bool pubcomp) {
  auto it = find(packet_id);
  if (it == inflight_.end())
    return false;
  bool expected = pubcomp ? (it->item.qos == 2 && it->released) : it->item.qos == 1;
  if (!expected)
    return false;
  inflight_.erase(it);
  return true;
}

bool outbound_flow::release(uint16_t packet_id) {
  auto it = find(packet_id);
  if (it == inflight_.end() || it->item.qos != 2)
    return false;
  it->released = true;
  it->item.msg.reset();  // after PUBREC only the packet id matters (MQTT-4.3.3-4)
  return true;
}

void outbound_flow::abandon(uint16_t packet_id) {
  if (auto it = find(packet_id); it != inflight_.end())
    inflight_.erase(it);
}

void outbound_flow::clear() {
  inflight_.clear();
  queue_.clear();
  queued_qos0_ = 0;
}

}  // namespace mqhub::actors
