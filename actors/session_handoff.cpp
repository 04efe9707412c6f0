// A persistent session moving to the node its client reconnected at (docs/architecture.md "Sessions follow
// their client"); the receiving side is session_arrival.cpp.
#include <chrono>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>

#include "actors/session_actor.hpp"
#include "cluster/wire_types.hpp"
#include "storage/queue_reader.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

namespace {

// How long the other node may take to store the session and put its subscriptions in place; past it the
// session stays here.
constexpr auto handoff_answer_limit = std::chrono::seconds(30);

// How long the subscriptions stay here once they are in place at the other node: until every node has heard
// of them there, and what a node routed here before that has arrived. Each arrives within a link's latency;
// what comes here meanwhile follows the session, and may reach its client twice.
constexpr auto handoff_grace = std::chrono::seconds(2);

/// A stored entry as it moves: holding its message (none past PUBREC), as no message row goes with it.
std::string moving_form(storage::stored_entry& stored) {
  auto entry = std::move(stored.entry);
  entry.message_id = 0;
  if (entry.state != storage::delivery_state::pubrec)
    entry.message = std::move(stored.message);
  return storage::encode(entry);
}

}  // namespace

void session_actor::on_taken_over_elsewhere(const taken_over_elsewhere& taken) {
  if (taken.if_restored && (!restored_ || attach_count_ > 0 || handoff()))
    return;  // its client is back here since the restart: this is its session
  if (taken.moving_to && persists() && !ended_ && !handoff()) {
    hand_off(taken.moving_to);
    return;
  }
  if (taken.moving_to)
    send(taken.moving_to, cluster::no_session_to_move{client_id_});
  if (handoff())
    return;  // moving elsewhere already; the connection there is taken over by that node
  // Its client started anew at the other node: this copy must not live on beside that session, nor deliver
  // its queue to a later connection here.
  disconnect(mqtt::reason_code::session_taken_over, {});
  end_session();
}

void session_actor::hand_off(const caf::actor& to) {
  writes();  // makes the commit state
  commits_->handoff = std::make_unique<handoff_progress>();
  commits_->handoff->to = to;
  disconnect(mqtt::reason_code::session_taken_over, {});
  // The client is back before any will delay ran out (MQTT-3.1.3-9), with the will of its new connection.
  will_pending_ = false;
  will_.reset();
  ++epoch_;                 // no expiry here: the session lives on there
  store_inflight_states();  // the other node resends them with DUP and their packet ids
  after_commit([this](bool ok) {
    if (ok)
      send_session();
    else
      stay_after_failed_hand_off(caf::make_error(caf::sec::runtime_error));
  });
  commit_writes();
}

void session_actor::send_session() {
  auto& progress = *handoff();
  cluster::session_handoff part{client_id_, storage::encode(stored_record()), {}, {}, false};
  // The queue as stored: what the shards store from now on follows in the tail.
  bool read = read_stored_queue(
      0,
      [&](storage::stored_entry& stored) {
        progress.sent.insert(stored.sequence);
        progress.message_ids.push_back(stored.entry.message_id);
        part.entries.push_back(moving_form(stored));
        return true;
      },
      [&](const storage::unreadable_entry& bad) {
        spdlog::error("storage: queue entry {} of session {} cannot be read ({}): it does not move",
                      bad.sequence, client_id_, bad.why);
      });
  if (!read) {
    stay_after_failed_hand_off(caf::make_error(caf::sec::runtime_error));
    return;
  }
  if (inbound_qos2_)
    for (const auto& [packet_id, state] : *inbound_qos2_)
      if (state.stored)
        part.inbound_qos2.push_back(packet_id);
  request(progress.to, handoff_answer_limit, std::move(part))
      .then(
          [this](bool) {
            delayed_send(caf::actor_cast<caf::actor>(this), handoff_grace,
                         session_event{handoff_grace_over{}});
          },
          [this](caf::error& why) { stay_after_failed_hand_off(why); });
}

void session_actor::finish_hand_off() {
  leave_shards([this] {
    // Every shard here has stored what it routed to this session before it dropped the subscriptions.
    auto& progress = *handoff();
    cluster::session_handoff tail{client_id_, {}, {}, {}, true};
    read_stored_queue(
        0,
        [&](storage::stored_entry& stored) {
          if (progress.sent.contains(stored.sequence))
            return true;
          progress.message_ids.push_back(stored.entry.message_id);
          tail.entries.push_back(moving_form(stored));
          return true;
        },
        [](const storage::unreadable_entry&) {});  // logged when the session was sent
    if (!tail.entries.empty()) {
      auto count = tail.entries.size();
      request(progress.to, handoff_answer_limit, std::move(tail))
          .then([](bool) {},
                [this, count](caf::error& why) {
                  spdlog::error("cluster: {} messages for {} did not follow its session to its new node: {}",
                                count, client_id_, caf::to_string(why));
                  context_->stats->messages_dropped.fetch_add(count, std::memory_order_relaxed);
                });
    }
    ended_ = true;
    writes().delete_session(client_id_, progress.message_ids);
    stored_ = false;
    outbound_.clear();
    inbound_qos2_.reset();
    commit_writes();
    leave_directory();
  });
}

void session_actor::stay_after_failed_hand_off(const caf::error& why) {
  spdlog::warn("cluster: the session of {} could not move to its client's node ({}); it stays here",
               client_id_, caf::to_string(why));
  commits_->handoff.reset();
  send(directory_, session_stays{client_id_});
  save_session();  // without the will, which the client's new connection replaced
  commit_writes();
  // What the shards delivered meanwhile was left on disk: the queue starts again from there, as after a
  // restart.
  outbound_.clear();
  storage::queue_summary summary;
  read_stored_queue(
      0,
      [&](storage::stored_entry& stored) {
        const auto* msg = stored.message.get();
        summary.count(stored.sequence, stored.entry.state,
                      msg ? msg->topic.size() + msg->payload.size() + msg->publisher.size() : 0);
        return true;
      },
      [](const storage::unreadable_entry&) {});
  restore_queue(summary);
  restored_ = true;
  start_restored_timers();
}

}  // namespace mqhub::actors
