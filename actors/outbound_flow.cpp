#include "actors/outbound_flow.hpp"

#include <algorithm>
#include <utility>

namespace mqhub::actors {

namespace {

template <class T>
std::deque<T>& made(std::unique_ptr<std::deque<T>>& ptr) {
  if (!ptr)
    ptr = std::make_unique<std::deque<T>>();
  return *ptr;
}

}  // namespace

const std::deque<inflight_entry>& outbound_flow::inflight() const {
  static const std::deque<inflight_entry> none;
  return inflight_ ? *inflight_ : none;
}

const inflight_entry& outbound_flow::start(delivery item) {
  // Ids are handed out in order, so the next id is still in flight only after a whole cycle of ids, and the
  // first to come round is then the oldest entry's: a client that held one (say a QoS 2 message it never
  // answered) while it acknowledged thousands after it. From then on, as after a restore (whose ids need
  // not follow their stored order), every fresh id is looked up until nothing is in flight.
  if (inflight_count() == 0)
    ids_may_repeat_ = false;
  do {
    uint16_t last = low_ids_ ? 32767 : 65535;
    last_packet_id_ = static_cast<uint16_t>(last_packet_id_ >= last ? 1 : last_packet_id_ + 1);
    ids_may_repeat_ =
        ids_may_repeat_ || (inflight_count() > 0 && inflight_->front().packet_id == last_packet_id_);
  } while (ids_may_repeat_ && find(last_packet_id_));
  return made(inflight_).emplace_back(inflight_entry{std::move(item), last_packet_id_, false});
}

void outbound_flow::restore_inflight(delivery item, uint16_t packet_id, bool released) {
  last_packet_id_ = packet_id;
  ids_may_repeat_ = true;
  if (released)
    item.msg.reset();
  made(inflight_).emplace_back(inflight_entry{std::move(item), packet_id, released, true});
}

std::optional<delivery> outbound_flow::enqueue(delivery item) {
  auto& queue = made(queue_);
  if (queue.size() < queue_limit_) {
    queued_qos0_ += item.qos == 0 ? 1 : 0;
    queue.push_back(std::move(item));
    return std::nullopt;
  }
  if (item.qos == 0 || queued_qos0_ == 0)
    return item;
  auto oldest_qos0 = std::find_if(queue.begin(), queue.end(), [](const delivery& d) { return d.qos == 0; });
  auto dropped = std::move(*oldest_qos0);
  queue.erase(oldest_qos0);
  --queued_qos0_;
  queue.push_back(std::move(item));
  return dropped;
}

std::optional<delivery> outbound_flow::next_queued() {
  if (!has_queued())
    return std::nullopt;
  auto item = std::move(queue_->front());
  queue_->pop_front();
  queued_qos0_ -= item.qos == 0 ? 1 : 0;
  return item;
}

std::optional<std::deque<inflight_entry>::iterator> outbound_flow::find(uint16_t packet_id) {
  if (!inflight_)
    return std::nullopt;
  auto it = std::find_if(inflight_->begin(), inflight_->end(),
                         [packet_id](const inflight_entry& e) { return e.packet_id == packet_id; });
  if (it == inflight_->end())
    return std::nullopt;
  return it;
}

std::optional<delivery> outbound_flow::complete(uint16_t packet_id, bool pubcomp) {
  auto it = find(packet_id);
  if (!it)
    return std::nullopt;
  auto& entry = **it;
  bool expected = pubcomp ? (entry.item.qos == 2 && entry.released) : entry.item.qos == 1;
  if (!expected)
    return std::nullopt;
  auto item = std::move(entry.item);
  inflight_->erase(*it);
  return item;
}

const inflight_entry* outbound_flow::release(uint16_t packet_id) {
  auto found = find(packet_id);
  if (!found || (*found)->item.qos != 2)
    return nullptr;
  inflight_entry& entry = **found;
  entry.released = true;
  entry.item.msg.reset();  // after PUBREC only the packet id matters (MQTT-4.3.3-4)
  return &entry;
}

std::optional<delivery> outbound_flow::abandon(uint16_t packet_id) {
  auto it = find(packet_id);
  if (!it)
    return std::nullopt;
  auto item = std::move((*it)->item);
  inflight_->erase(*it);
  return item;
}

void outbound_flow::clear() {
  inflight_.reset();
  queue_.reset();
  queued_qos0_ = 0;
}

}  // namespace mqhub::actors
