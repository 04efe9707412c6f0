#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "actors/messages.hpp"
#include "actors/queue_limits.hpp"

namespace mqhub::actors {

/// A QoS 1/2 PUBLISH sent to the client and not yet completed (spec 4.3.2, 4.3.3).
struct inflight_entry {
  delivery item;
  uint16_t packet_id = 0;
  bool released = false;      // QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP
  bool state_stored = false;  // the stored entry says inflight (QoS 1 stores it late, see the session)
};

/// Where enqueue put a message.
enum class queued_in : uint8_t {
  memory,
  disk,     // a stored message left on disk only: it is read back when its turn nears
  nowhere,  // dropped: the queue is full
};

struct enqueue_outcome {
  queued_in where = queued_in::memory;
  /// A message the full queue dropped: the new one (where == nowhere), or the oldest queued QoS 0 one.
  std::optional<delivery> dropped;
};

/// Why a read of the queue's disk part ended.
enum class disk_read_end : uint8_t {
  taken,  // (for one entry: taken, read on)
  end_of_queue,
  memory_full,  // memory holds enough: read on later
  untold,       // an entry its shard has not delivered here yet: not this read's to take
  failed,       // the store could not be read
};

/// The outbound side of a session: the inflight window (the client's Receive Maximum) and the bounded
/// queue behind it. Pure bookkeeping; the session actor does the sending and the reading from disk.
///
/// A persistent session's queue lives on disk (issue 21): the shards store each message for it before they
/// deliver it, so memory holds only a window of the queue, and a message beyond it is left on disk and read
/// back, in sequence order, as the queue drains. Sequences ascend per shard, not across shards: a read takes
/// only what a shard has delivered here (the rest of the disk may hold entries still on their way), and only
/// what the writer has committed (so a read waits for a barrier when something was left on disk since the
/// last one).
class outbound_flow {
 public:
  void set_window(size_t window) { window_ = static_cast<uint32_t>(std::min<size_t>(window, 65535)); }
  /// An offline session holds less of its queue in memory: nothing is sent until its client is back.
  void set_online(bool online) { online_ = online; }
  /// Fresh packet ids stay below 32768: the connection sends with the others (see
  /// subscriber_link::direct_qos1).
  void use_low_packet_ids(bool low) {
    low_ids_ = low;
    ids_may_repeat_ = ids_may_repeat_ || inflight_count() > 0;  // a shorter cycle comes round sooner
  }
  bool window_open() const { return inflight_count() < window_; }

  /// Records `item` as sent with a fresh packet id and returns the entry.
  const inflight_entry& start(delivery item);

  /// Records an entry recovered from storage as sent (or, when `released`, as waiting for PUBCOMP), in send
  /// order; the next fresh packet id follows it.
  void restore_inflight(delivery item, uint16_t packet_id, bool released);

  /// Queues `item`, which shard `shard` routed here, behind everything queued. A stored message beyond what
  /// memory holds, or behind messages left on disk, is left on disk too (and dropped from memory). When the
  /// queue is at `limits` a queued QoS 0 message is dropped first, otherwise the new one is.
  enqueue_outcome enqueue(delivery item, size_t shard, const queue_limits& limits);

  /// Takes the oldest message queued in memory, if any (none does not mean none on disk).
  std::optional<delivery> next_queued();
  /// Whether messages wait, in memory or on disk.
  bool has_queued() const { return queue_ && (!queue_->items.empty() || queue_->disk_messages > 0); }
  /// Messages waiting, in memory and on disk.
  uint64_t queued() const { return queue_ ? queue_->items.size() + queue_->disk_messages : 0; }
  /// Of those, the ones on disk only.
  uint64_t queued_on_disk() const { return queue_ ? queue_->disk_messages : 0; }

  // Reading the disk part back.
  /// The queue has messages on disk and memory has room for a read; none is under way.
  bool wants_read() const;
  /// Whether messages were left on disk since the last barrier: a read must then first wait until every
  /// write so far is committed, and calls barrier_asked() when it asks.
  bool needs_barrier() const { return queue_ && queue_->changed_since_barrier != no_change; }
  void barrier_asked();
  /// The session removes the stored entry of `item` (dropped, expired): a read must not find it before the
  /// removal is committed.
  void removing(const delivery& item);
  /// A read starts: wants_read() is false until read_done.
  void read_started();
  /// Takes the stored message `item` read from disk, which shard `shard` routed here: `taken`, or why the
  /// read ends before it. `beyond_memory` takes it whatever memory holds (a restore must reach every message
  /// sent before the restart).
  disk_read_end take_from_disk(delivery item, size_t shard, bool beyond_memory = false);
  /// Passes over an entry that cannot be read (it stays on disk).
  void skip_on_disk(uint64_t sequence);
  /// The read is over. After end_of_queue the queue has nothing more on disk, whatever was counted; after
  /// failed, or untold when nothing was left on disk since the barrier, no read starts before another message
  /// is left on disk.
  void read_done(disk_read_end why);
  /// The queue recovered from storage: `messages` of `bytes` on disk after the entries read back so far,
  /// up to `last_sequence`, all delivered here before the restart.
  void restore_disk(uint64_t messages, uint64_t bytes, uint64_t last_sequence);
  /// Every stored message up to this sequence is in memory or done: reads of the disk start after it.
  uint64_t disk_cursor() const { return queue_ ? queue_->cursor : 0; }
  /// Whether the message stored at `sequence` by shard `shard` is one the queue counts on disk.
  bool on_disk(uint64_t sequence, size_t shard) const;

  /// PUBACK (QoS 1) or PUBCOMP (QoS 2) ends a flow; returns its message, or nothing for an unknown id.
  std::optional<delivery> complete(uint16_t packet_id, bool pubcomp);
  /// PUBREC: the QoS 2 flow moves on to PUBREL; returns the entry, or null for an unknown packet id.
  const inflight_entry* release(uint16_t packet_id);
  /// Ends a flow without an acknowledgement (a PUBREC with an error code, MQTT 5 4.3.3, or a message the
  /// client cannot take); returns its message.
  std::optional<delivery> abandon(uint16_t packet_id);

  /// Calls `visit(delivery&)` for every message inflight or queued in memory.
  template <class Visit>
  void for_each(Visit visit) {
    if (inflight_)
      for (auto& entry : *inflight_)
        visit(entry.item);
    if (queue_)
      for (auto& item : queue_->items)
        visit(item);
  }

  /// Calls `visit(inflight_entry&)` for every message inflight, in send order.
  template <class Visit>
  void for_each_inflight(Visit visit) {
    if (inflight_)
      for (auto& entry : *inflight_)
        visit(entry);
  }

  const std::deque<inflight_entry>& inflight() const;
  size_t inflight_count() const { return inflight_ ? inflight_->size() : 0; }

  /// Forgets everything (clean start or session end).
  void clear();

 private:
  struct queue_state {
    /// Every stored message up to this sequence is in memory or done: reads of the disk start after it.
    uint64_t cursor = 0;
    std::deque<delivery> items;  // in memory
    uint64_t bytes = 0;          // of `items`
    uint32_t qos0 = 0;           // of `items`
    // Stored messages after `items`, on disk only.
    uint64_t disk_messages = 0;
    uint64_t disk_bytes = 0;
    /// Per shard, the highest sequence it routed here while messages were left on disk.
    std::vector<uint64_t> told;
    /// `told` when the last barrier was asked for: what a read may take, all of it committed.
    std::vector<uint64_t> readable;
    /// The lowest sequence left on disk, or removed from it, since the last barrier was asked for: its entry
    /// may not be committed, so a read that passed it could miss it (another shard's later entries may well
    /// be committed) or find one being removed. A read stops there.
    uint64_t changed_since_barrier = no_change;
    /// Every sequence up to this was stored before a restart: all of it delivered here, and committed.
    uint64_t restored_up_to = 0;
    bool reading = false;
    bool waits_for_delivery = false;  // the last read ended at an entry not delivered here yet

    bool told_here(uint64_t sequence, size_t shard) const {
      return sequence <= restored_up_to || (shard < told.size() && sequence <= told[shard]);
    }
    bool readable_now(uint64_t sequence, size_t shard) const {
      return sequence <= restored_up_to || (shard < readable.size() && sequence <= readable[shard]);
    }
  };

  /// The entry's position, or nullopt; acks mostly come in order, so it is at or near the front.
  std::optional<std::deque<inflight_entry>::iterator> find(uint16_t packet_id);
  queue_state& queue();
  /// How many messages, and bytes, memory holds of the queue before the rest stays on disk.
  size_t memory_budget() const {
    return online_ ? std::max<size_t>(window_, offline_memory_messages) : offline_memory_messages;
  }
  bool memory_full(uint64_t more_bytes) const;
  void keep_in_memory(delivery item);
  void note_sequence(uint64_t sequence) {
    if (sequence == 0)
      return;
    auto& q = queue();
    q.cursor = std::max(q.cursor, sequence);
  }

  static constexpr uint64_t no_change = UINT64_MAX;
  static constexpr size_t offline_memory_messages = 64;
  static constexpr uint64_t memory_bytes = uint64_t{1} << 20;

  // In every session actor: what most sessions never use is on the heap.
  // std::deque allocates on construction; most sessions are idle, so both are made on first use.
  std::unique_ptr<std::deque<inflight_entry>> inflight_;  // in send order, so packet ids ascend (cyclically)
  /// Made by the first message queued, or the first stored one sent.
  std::unique_ptr<queue_state> queue_;
  uint32_t window_ = 65535;  // at most 65,535: packet ids
  uint16_t last_packet_id_ = 0;
  bool ids_may_repeat_ = false;  // an entry in flight may hold the next id: restored, or held a whole cycle
  bool low_ids_ = false;
  bool online_ = false;
};

}  // namespace mqhub::actors
