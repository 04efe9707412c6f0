#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "actors/messages.hpp"

namespace mqhub::actors {

/// A QoS 1/2 PUBLISH sent to the client and not yet completed (spec 4.3.2, 4.3.3).
struct inflight_entry {
  delivery item;
  uint16_t packet_id = 0;
  bool released = false;      // QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP
  bool state_stored = false;  // the stored entry says inflight (QoS 1 stores it late, see the session)
};

/// The outbound side of a session: the inflight window (the client's Receive Maximum) and the bounded
/// queue behind it. Pure bookkeeping; the session actor does the sending.
class outbound_flow {
 public:
  explicit outbound_flow(size_t queue_limit)
      : queue_limit_(static_cast<uint32_t>(std::min<size_t>(queue_limit, UINT32_MAX))) {}

  void set_window(size_t window) { window_ = static_cast<uint32_t>(std::min<size_t>(window, 65535)); }
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

  /// Queues `item` for later; when the queue is full a queued QoS 0 message is dropped first, otherwise the
  /// new one is. Returns the message dropped, if any.
  std::optional<delivery> enqueue(delivery item);

  /// Takes the oldest queued message, if any.
  std::optional<delivery> next_queued();
  bool has_queued() const { return queue_ && !queue_->empty(); }

  /// PUBACK (QoS 1) or PUBCOMP (QoS 2) ends a flow; returns its message, or nothing for an unknown id.
  std::optional<delivery> complete(uint16_t packet_id, bool pubcomp);
  /// PUBREC: the QoS 2 flow moves on to PUBREL; returns the entry, or null for an unknown packet id.
  const inflight_entry* release(uint16_t packet_id);
  /// Ends a flow without an acknowledgement (a PUBREC with an error code, MQTT 5 4.3.3, or a message the
  /// client cannot take); returns its message.
  std::optional<delivery> abandon(uint16_t packet_id);

  /// Calls `visit(delivery&)` for every message inflight or queued.
  template <class Visit>
  void for_each(Visit visit) {
    if (inflight_)
      for (auto& entry : *inflight_)
        visit(entry.item);
    if (queue_)
      for (auto& item : *queue_)
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
  size_t queued() const { return queue_ ? queue_->size() : 0; }

  /// Forgets everything (clean start or session end).
  void clear();

 private:
  /// The entry's position, or nullopt; acks mostly come in order, so it is at or near the front.
  std::optional<std::deque<inflight_entry>::iterator> find(uint16_t packet_id);

  // 32 bytes, in every session actor (issue 5, RSS per idle connection).
  // std::deque allocates on construction; most sessions are idle, so both are made on first use.
  std::unique_ptr<std::deque<inflight_entry>> inflight_;  // in send order, so packet ids ascend (cyclically)
  std::unique_ptr<std::deque<delivery>> queue_;
  uint32_t queue_limit_;
  uint32_t window_ = 65535;  // at most 65,535: packet ids
  uint32_t queued_qos0_ = 0;
  uint16_t last_packet_id_ = 0;
  bool ids_may_repeat_ = false;  // an entry in flight may hold the next id: restored, or held a whole cycle
  bool low_ids_ = false;
};

}  // namespace mqhub::actors
