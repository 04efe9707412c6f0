#include "actors/outbound_flow.hpp"

#include <algorithm>
#include <utility>

namespace mqhub::actors {

const std::deque<inflight_entry>& outbound_flow::inflight() const {
  static const std::deque<inflight_entry> none;
  return inflight_ ? *inflight_ : none;
}

outbound_flow::queue_state& outbound_flow::queue() {
  if (!queue_)
    queue_ = std::make_unique<queue_state>();
  return *queue_;
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
  note_sequence(item.stored_sequence);
  if (!inflight_)
    inflight_ = std::make_unique<std::deque<inflight_entry>>();
  return inflight_->emplace_back(inflight_entry{std::move(item), last_packet_id_, false});
}

void outbound_flow::restore_inflight(delivery item, uint16_t packet_id, bool released) {
  last_packet_id_ = packet_id;
  ids_may_repeat_ = true;
  note_sequence(item.stored_sequence);
  if (released)
    item.msg.reset();
  if (!inflight_)
    inflight_ = std::make_unique<std::deque<inflight_entry>>();
  inflight_->emplace_back(inflight_entry{std::move(item), packet_id, released, true});
}

bool outbound_flow::memory_full(uint64_t more_bytes) const {
  const auto& q = *queue_;
  return q.items.size() >= memory_budget() || (!q.items.empty() && q.bytes + more_bytes > memory_bytes);
}

void outbound_flow::keep_in_memory(delivery item) {
  auto& q = queue();
  q.bytes += queued_bytes(*item.msg);
  q.qos0 += item.qos == 0 ? 1 : 0;
  note_sequence(item.stored_sequence);
  q.items.push_back(std::move(item));
}

enqueue_outcome outbound_flow::enqueue(delivery item, size_t shard, const queue_limits& limits) {
  auto& q = queue();
  enqueue_outcome outcome;
  const uint64_t bytes = queued_bytes(*item.msg);
  const uint64_t messages = q.items.size() + q.disk_messages;
  if (!limits.has_room(messages, q.bytes + q.disk_bytes, bytes)) {
    if (item.qos == 0 || q.qos0 == 0) {
      outcome.where = queued_in::nowhere;
      outcome.dropped = std::move(item);
      return outcome;
    }
    auto oldest_qos0 =
        std::find_if(q.items.begin(), q.items.end(), [](const delivery& d) { return d.qos == 0; });
    q.bytes -= queued_bytes(*oldest_qos0->msg);
    --q.qos0;
    outcome.dropped = std::move(*oldest_qos0);
    q.items.erase(oldest_qos0);
  }
  const uint64_t sequence = item.stored_sequence;
  // A stored message below the cursor came late from its shard: no read of the disk takes it any more.
  if (sequence > q.cursor && (q.disk_messages > 0 || memory_full(bytes))) {
    if (q.told.size() <= shard)
      q.told.resize(shard + 1, 0);
    q.told[shard] = std::max(q.told[shard], sequence);
    q.changed_since_barrier = std::min(q.changed_since_barrier, sequence);
    q.waits_for_delivery = false;
    ++q.disk_messages;
    q.disk_bytes += bytes;
    outcome.where = queued_in::disk;
    return outcome;
  }
  keep_in_memory(std::move(item));
  return outcome;
}

std::optional<delivery> outbound_flow::next_queued() {
  if (!queue_ || queue_->items.empty())
    return std::nullopt;
  auto& q = *queue_;
  auto item = std::move(q.items.front());
  q.items.pop_front();
  q.bytes -= queued_bytes(*item.msg);
  q.qos0 -= item.qos == 0 ? 1 : 0;
  return item;
}

bool outbound_flow::wants_read() const {
  if (!queue_ || queue_->disk_messages == 0 || queue_->reading || queue_->waits_for_delivery)
    return false;
  const auto& q = *queue_;
  return q.items.size() <= memory_budget() / 2 && q.bytes <= memory_bytes / 2;
}

void outbound_flow::barrier_asked() {
  auto& q = queue();
  q.readable = q.told;
  q.changed_since_barrier = no_change;
}

void outbound_flow::removing(const delivery& item) {
  if (queue_ && item.stored_sequence > queue_->cursor && queue_->disk_messages > 0)
    queue_->changed_since_barrier = std::min(queue_->changed_since_barrier, item.stored_sequence);
}

void outbound_flow::read_started() {
  queue().reading = true;
}

disk_read_end outbound_flow::take_from_disk(delivery item, size_t shard, bool beyond_memory) {
  auto& q = queue();
  if (!q.readable_now(item.stored_sequence, shard) || item.stored_sequence >= q.changed_since_barrier)
    return disk_read_end::untold;
  const uint64_t bytes = queued_bytes(*item.msg);
  if (!beyond_memory && !q.items.empty() && memory_full(bytes))
    return disk_read_end::memory_full;
  q.disk_messages -= std::min<uint64_t>(q.disk_messages, 1);
  q.disk_bytes -= std::min(q.disk_bytes, bytes);
  keep_in_memory(std::move(item));
  return disk_read_end::taken;
}

void outbound_flow::skip_on_disk(uint64_t sequence) {
  auto& q = queue();
  q.disk_messages -= std::min<uint64_t>(q.disk_messages, 1);
  note_sequence(sequence);
}

void outbound_flow::read_done(disk_read_end why) {
  auto& q = queue();
  q.reading = false;
  // The end, but messages left on disk since the barrier may not be committed yet: the next read goes on.
  if (why == disk_read_end::end_of_queue && q.changed_since_barrier != no_change)
    why = disk_read_end::untold;
  // An entry told here after the barrier was asked for is only not known to be committed yet: the next read,
  // after a barrier of its own, takes it. Otherwise its delivery is still on its way, and a read waits for
  // it.
  q.waits_for_delivery =
      (why == disk_read_end::untold && q.changed_since_barrier == no_change) || why == disk_read_end::failed;
  if (why == disk_read_end::end_of_queue) {
    // Counts restored from a summary, or a message counted on disk whose entry a clean start removed, leave
    // the count off by a little: the disk is the truth.
    q.disk_messages = 0;
    q.disk_bytes = 0;
  }
  if (q.disk_messages == 0) {
    q.told.clear();
    q.readable.clear();
    q.changed_since_barrier = no_change;
    q.waits_for_delivery = false;
  }
}

void outbound_flow::restore_disk(uint64_t messages, uint64_t bytes, uint64_t last_sequence) {
  auto& q = queue();
  q.disk_messages = messages;
  q.disk_bytes = bytes;
  q.restored_up_to = last_sequence;
}

bool outbound_flow::on_disk(uint64_t sequence, size_t shard) const {
  return queue_ && sequence > queue_->cursor && queue_->told_here(sequence, shard);
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
}

}  // namespace mqhub::actors
