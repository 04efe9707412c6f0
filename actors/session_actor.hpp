#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/durable_store.hpp"
#include "actors/messages.hpp"
#include "actors/outbound_flow.hpp"
#include "actors/packet_writer.hpp"
#include "actors/queue_drop_report.hpp"
#include "actors/session_limits.hpp"
#include "actors/shard_map.hpp"
#include "storage/queue_reader.hpp"

namespace mqhub::actors {

/// What every session of a node shares.
struct session_context {
  std::shared_ptr<const shard_map> shards;
  std::shared_ptr<broker_stats> stats;
  session_limits limits;
  std::shared_ptr<durable_store> store;  // null in memory mode
  /// A member of a cluster: persistent sessions move between nodes with their clients (session_handoff.cpp).
  bool clustered = false;
};

/// The MQTT session of one client id (docs/architecture.md): subscriptions, the inflight window and queue
/// towards the client, QoS 2 receive state, Last Will and expiry. It outlives its connection when the
/// session persists.
///
/// In durable modes a persistent session keeps its record (subscriptions, expiry, will), its queue entries'
/// states and its QoS 2 receive state in storage; the shards store the entries themselves. The writes of
/// one handler go out as one batch when it flushes, and acknowledgements that promise something stored
/// (SUBACK, PUBCOMP) wait for that batch's commit.
class session_actor : public caf::event_based_actor {
 public:
  session_actor(caf::actor_config& cfg, std::shared_ptr<const session_context> context, caf::actor directory,
                std::string client_id);

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  // Connection lifecycle (session_actor.cpp).
  void take_connection(connect_request& request);
  void on_connection_closed(const connection_closed& closed);
  void on_session_expiry(const session_expiry_tick& tick);
  void on_will_delay(const will_delay_tick& tick);
  void end_session();
  /// Removes the subscriptions from every shard; `then` runs once each has sent what it routed here before
  /// (deliveries wait there for their commit).
  void leave_shards(std::function<void()> then);
  /// Asks the directory to let the session end, and ends once it does.
  void leave_directory();
  void publish_will();
  void clear_subscriptions();
  /// Empties the subscriptions and returns the unsubscribe request for each shard.
  std::vector<unsubscribe_request> take_subscriptions();
  void send_unsubscribes(std::vector<unsubscribe_request>& requests);
  /// Tells every shard of the session's subscriptions its current link (connected or not, persistent or not).
  void announce_presence();
  subscriber_link link() const { return {sink_, version_, client_maximum_packet_size_, direct_qos1_}; }
  /// Splits the inflight window between this actor and the connection (see subscriber_link::direct_qos1).
  void share_window(size_t window, bool had_session);
  void disconnect(net::mqtt::reason_code code, std::string reason);
  /// Closes the connection with a DISCONNECT of `code`; `will` is published by it (see
  /// connection_sink::close).
  void close_connection(net::mqtt::reason_code code, std::string reason,
                        std::unique_ptr<net::mqtt::will_message> will = nullptr);
  /// The will, if it goes out as soon as its connection ends: no will delay, or nothing for it to wait in.
  std::unique_ptr<net::mqtt::will_message> take_will_due_at_close();

  // Moving to another node (session_handoff.cpp).
  void on_taken_over_elsewhere(const taken_over_elsewhere& taken);
  /// Closes the connection, if any, and sends the session to `to` once its own writes are stored.
  void hand_off(const caf::actor& to);
  void send_session();
  /// The session is in place at the other node, and the grace for routes and messages in flight is over:
  /// the subscriptions here go, what the shards stored meanwhile follows, and the session ends here.
  void finish_hand_off();
  /// The other node did not take the session: it stays here, offline, as it is on disk.
  void stay_after_failed_hand_off(const caf::error& why);

  // Storage (session_storage.cpp).
  /// The record of the session as it stands.
  storage::session_record stored_record() const;
  caf::result<bool> restore(restore_session& restore);
  void start_restored_timers();
  bool durable() const { return context_->store != nullptr; }
  bool persists() const { return durable() && session_expiry_ > 0; }
  void save_session();
  void drop_stored_session();
  void forget_stored(const delivery& item);
  void store_state(const delivery& item, storage::delivery_state state, uint16_t packet_id);
  /// Arms the timer that stores the inflight state of QoS 1 deliveries (see inflight_state_delay).
  void defer_inflight_state();
  /// Stores the inflight state of every unacknowledged QoS 1 delivery that has none yet.
  void store_inflight_states();
  void on_inflight_state_tick();
  /// Runs `then(ok)` once the writes so far are committed; at once when there are none.
  void after_commit(std::function<void(bool ok)> then);
  /// The output so far (and all after it, to keep order) reaches the client only once the writes so far
  /// are committed: for packets a restart must not contradict (a QoS 2 PUBLISH's packet id, a PUBREL, a
  /// PUBCOMP).
  void hold_output_until_committed();
  /// Drops output held for a connection that is gone; what it held is resent from the session state.
  void discard_held_output();
  void commit_writes();
  /// The batch of writes to commit next (made on first use, see commit_state).
  storage::write_batch& writes();
  bool has_writes() const;
  bool output_held() const;
  void on_commit(const commit_result& result);

  // The queue on disk (session_disk_queue.cpp).
  /// Reads the queue back from disk when memory runs low; true when it read now. After a barrier when
  /// messages were left on disk since the last one: their entries must be committed before a read can find
  /// them (the barrier's answer reads, then fills the window).
  bool read_from_disk();
  /// Reads back what the queue may take now.
  void read_now();
  /// Restores the queue after a restart: the entries sent before it, and a window of the rest.
  void restore_queue(const storage::queue_summary& summary);
  /// Reads entries of the queue from disk into the outbound flow, from its cursor on, each up to
  /// `must_reach` whatever memory holds; returns why the read ended.
  disk_read_end read_entries(uint64_t must_reach);
  /// Reads the stored queue after `after_sequence` as storage::read_queue does, and logs a failed read.
  bool read_stored_queue(uint64_t after_sequence, const std::function<bool(storage::stored_entry&)>& visit,
                         const std::function<void(const storage::unreadable_entry&)>& skip);
  /// The message ids of the stored entries the queue counts on disk, for delete_session's references.
  void collect_disk_message_ids(std::vector<uint64_t>& ids);
  size_t shard_of(const delivery& item) const;

  // Packets from the client (session_input.cpp).
  void handle_input(session_input& input);
  void on_qos2_publish(net::mqtt::publish_packet& publish, std::vector<publish_batch>& to_shards);
  void on_ack(const inbound_ack& ack);
  void on_pubrel(uint16_t packet_id);
  void on_inbound_qos2_outcome(const inbound_qos2_outcome& outcome);
  void handle_event(const session_event& event);
  void on_subscribe(subscribe_command& command);
  /// Gives each shard the connection registered `command` with (see subscribe_command::registered) this
  /// session's own state of its filters; returns which shards those were. Each then gets subscribe_done:
  /// at once, or, when `done_later`, from the caller once the SUBACK and retained messages are out.
  std::vector<bool> settle_registered(const subscribe_command& command, std::vector<size_t>* done_later);
  /// Keeps the node's count of subscriptions ($SYS): subscriptions, not the shard entries they take.
  void count_subscriptions(int64_t delta) {
    context_->stats->subscriptions.fetch_add(delta, std::memory_order_relaxed);
  }
  void on_unsubscribe(const net::mqtt::unsubscribe_packet& unsubscribe);
  void send_to_shards(std::vector<publish_batch>& batches);

  // Messages to the client (session_delivery.cpp).
  void deliver(delivery_batch& batch);
  void deliver_one(delivery&& item, clock::time_point now);
  void start_publish(delivery&& item, clock::time_point now);
  /// Encodes the PUBLISH; false when it exceeds the client's Maximum Packet Size and was discarded.
  bool send_publish(const delivery& item, uint16_t packet_id, bool dup, clock::time_point now);
  void fill_window(clock::time_point now);
  void resend_inflight(clock::time_point now);
  void flush();
  /// Counts messages the full queue dropped; the log hears of them at most every few seconds.
  void note_queue_drop(const delivery& dropped);
  bool v5() const { return version_ == net::mqtt::protocol_version::v5; }

  // Members by size, small ones packed at the end: every byte here is paid by every connected client, and
  // together with CAF's 1,080 bytes they must stay within jemalloc's 1,280-byte class (see the static_assert
  // in session_actor.cpp). What only some sessions need is on the heap, made on first use.
  std::shared_ptr<const session_context> context_;  // one for the node: 16 bytes, not 72, per session
  caf::actor directory_;
  std::string client_id_;

  // The current connection, if any.
  connection_sink_ptr sink_;
  /// The output of the handler running (or held for a commit); dropped once handed over, so an idle
  /// session keeps none.
  std::unique_ptr<packet_writer> writer_;
  packet_writer& writer();
  void hand_output_to(connection_sink* sink);
  /// Made by the first drop of a full queue: most sessions never have one.
  std::unique_ptr<queue_drop_report> queue_drops_;

  // Session state.
  // On the heap: a will with its properties block is larger than the rest of an idle session.
  std::unique_ptr<net::mqtt::will_message> will_;
  using subscription_map = std::map<std::string, subscription_request_entry, std::less<>>;
  std::unique_ptr<subscription_map> subscriptions_;  // by filter as subscribed; made by the first
  const subscription_map& subscriptions() const;
  subscription_map& subscriptions_to_change();
  outbound_flow outbound_;
  /// QoS 2 PUBLISHes received and not yet released (MQTT-4.3.3-9).
  struct inbound_qos2 {
    bool stored = true;        // durable modes: false until the shard has stored the message
    bool pubrec_owed = false;  // a resend came before that: answer it once stored
  };
  using inbound_qos2_map = std::unordered_map<uint16_t, inbound_qos2>;
  /// Made by the first QoS 2 PUBLISH: most clients never send one, and an empty map is 56 bytes per session.
  std::unique_ptr<inbound_qos2_map> inbound_qos2_;
  inbound_qos2_map& inbound_qos2s();

  // Storage.
  int64_t disconnected_at_ = 0;  // epoch seconds, while persistent and offline; 0 otherwise
  /// A session moving to another node (session_handoff.cpp).
  struct handoff_progress {
    caf::actor to;                      // the gateway of the node it moves to
    std::unordered_set<uint64_t> sent;  // the stored entries that went, by sequence
    std::vector<uint64_t> message_ids;  // of every entry read, for delete_session's references
  };
  /// Writes not yet committed and what waits for them. Made by the first write: a session that never stores
  /// anything (a clean one, or any with --durability memory) does without these 170 bytes.
  struct commit_state {
    storage::write_batch writes;
    std::vector<std::function<void(bool)>> after_commit;
    bool output_needs_commit = false;      // the writes so far must commit before the output goes out
    bool inflight_states_waiting = false;  // QoS 1 states wait for the tick (see defer_inflight_state)
    uint64_t output_held_until = 0;        // token of the commit the output waits for; 0: none
    std::unordered_map<uint64_t, std::vector<std::function<void(bool)>>> waiting;
    uint64_t last_token = 0;
    std::vector<std::function<void()>> after_output;  // once the held output is handed over (see flush)
    uint64_t read_barrier = 0;  // token of the barrier a read of the queue's disk part waits for; 0: none
    /// Set while the session moves: only persistent sessions of durable modes move, and those have writes.
    std::unique_ptr<handoff_progress> handoff;
  };
  /// Set while the session moves to another node: what the shards deliver meanwhile stays on disk for it.
  handoff_progress* handoff() const { return commits_ ? commits_->handoff.get() : nullptr; }
  std::unique_ptr<commit_state> commits_;

  uint64_t attach_count_ = 0;  // compared by the directory before the session may end
  uint64_t epoch_ = 0;         // invalidates timers and replies from an earlier connection
  uint32_t sent_since_flush_ = 0;
  uint32_t client_maximum_packet_size_ = 0;
  uint32_t session_expiry_ = 0;
  net::mqtt::protocol_version version_ = net::mqtt::protocol_version::v311;
  bool will_pending_ = false;          // the connection is gone and the will waits for its delay
  bool stored_ = false;                // a record of this session may be in storage
  bool shards_store_entries_ = false;  // what the shards were told: they store entries for this session
  bool restored_ = false;              // recovered from storage: the first connection finds it present
  bool attach_pending_ = false;        // the CONNACK is not handed to the connection yet (see flush)
  bool ended_ = false;        // the state was discarded (expiry); the actor waits for the directory's word
  bool direct_qos1_ = false;  // the connection sends and completes QoS 1 deliveries (see share_window)
};

}  // namespace mqhub::actors
